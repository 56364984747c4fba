/**
 * Decommission and the same slot again, against a simulated operator that keeps its finalizer on
 * a deleted BareMetalHost for a while (deletionTimestamp set, the object gone later).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ANNOTATION_REGISTRATION_ID } from "../lib/domain/metal3.ts";
import type { LiveEvent } from "../lib/state/events.ts";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

const NS = "metal3";
// The simulated operator keeps its finalizer far longer than a test runs; each test ends the
// deprovisioning itself (finishDeprovisioning), so no step depends on how loaded the machine is.
const DEPROVISION_MS = 60_000;

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting until ${what}`);
}

async function appWithOperator(env: Record<string, string> = {}) {
  const app = await startTestApp({
    env,
    world: { provisioningStepMs: 20, deprovisionMs: DEPROVISION_MS },
  });
  const stop = new AbortController();
  const watch = app.deps.engine.watchProvisioning(stop.signal);
  const events: LiveEvent[] = [];
  app.deps.events.subscribe((e) => events.push(e));
  return {
    app,
    events,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await watch.catch(() => {});
      await app.close();
    },
  };
}

/** Ends a host's deprovisioning as the operator does: it drops its finalizer, the host goes. */
async function finishDeprovisioning(app: TestApp, name: string) {
  await app.world.kubernetes.update("BareMetalHost", NS, name, (o) => {
    o.metadata.finalizers = [];
  }, "baremetal-operator");
  await until(
    "the host is gone",
    () => app.world.kubernetes.state.bareMetalHost(NS, name) === null,
  );
}

/** Waits until the simulated operator has put its finalizer on the host. */
function finalized(app: TestApp, name: string) {
  return until(
    "the operator holds its finalizer",
    () =>
      (app.world.kubernetes.state.bareMetalHost(NS, name)?.metadata.finalizers ?? []).length > 0,
  );
}

Deno.test("decommission then the same slot again: claims wait for the host to be gone, the new host stays", async () => {
  await using w = await appWithOperator();
  const { app } = w;
  const [first] = (await app.call("POST", "/api/v1/servers/import", [FULL_ITEM])).body;
  assertEquals(first.status, "ok");
  await finalized(app, FULL_ITEM.device_name);

  const del = await app.call("DELETE", `/api/v1/servers/${first.id}`);
  assertEquals(del.status, 200, del.text);
  assertEquals(del.body.status, "decommissioned");
  assertEquals(del.body.host_deletion?.name, FULL_ITEM.device_name);
  const waiting = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
  assert(waiting.warnings.some((m: string) => m.includes("Waiting for the previous host")));
  assertEquals(waiting.provisioning?.state, "deleting");
  const old = app.world.kubernetes.state.bareMetalHost(NS, FULL_ITEM.device_name);
  assert(old?.metadata.deletionTimestamp, "the old host is still being deleted");

  // At once: same slot, same name, a new server (other MAC).
  const next = { ...FULL_ITEM, bmc_mac: "3c:ec:ef:a1:9c:e9", bmc_password: "n3w-pass" };
  const [early] = (await app.call("POST", "/api/v1/servers/import", [next])).body;
  assertEquals(early.status, "failed");
  assert(/waiting for the previous host to be deleted/i.test(early.error), early.error);
  assertEquals(
    app.world.kubernetes.state.bareMetalHost(NS, FULL_ITEM.device_name)?.metadata.uid,
    old.metadata.uid,
    "nothing applied onto the host being deleted",
  );

  // The operator drops its finalizer; the watch releases the claims and says so.
  await finishDeprovisioning(app, FULL_ITEM.device_name);
  await until("the claims are released", async () => {
    const r = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
    return r.host_deletion === undefined;
  });
  const released = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
  assert(!released.warnings.some((m: string) => m.includes("Waiting for the previous host")));
  assert(released.audit.some((a: { action: string }) => a.action === "release"));
  assert(w.events.some((e) =>
    e.type === "registration" && e.registration.id === first.id &&
    e.registration.status === "decommissioned" && !e.registration.host_deletion
  ));

  app.world.bmcs.bmcs.clear(); // a new server's BMC answers to its own password
  const [second] = (await app.call("POST", "/api/v1/servers/import", [next])).body;
  assertEquals(second.status, "ok", JSON.stringify(second));
  // The new host is a fresh object, not swept away with the old one.
  await new Promise((r) => setTimeout(r, 200));
  const host = app.world.kubernetes.state.bareMetalHost(NS, FULL_ITEM.device_name);
  assert(host && !host.metadata.deletionTimestamp, "the new host exists");
  assertEquals(host.metadata.annotations?.[ANNOTATION_REGISTRATION_ID], second.id);
  const secret = app.world.kubernetes.state.secret(NS, `${FULL_ITEM.device_name}-bmc-secret`);
  assertEquals(atob(secret?.data?.password ?? ""), "n3w-pass");
  assertEquals((await app.call("GET", `/api/v1/servers/${second.id}`)).body.status, "ok");
});

Deno.test("a decommissioned holder whose host is gone gives its claims up without the watch", async () => {
  await using app = await startTestApp({
    world: { provisioningStepMs: 20, deprovisionMs: 300 },
  });
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  await finalized(app, MINIMAL_ITEM.device_name);
  const del = await app.call("DELETE", `/api/v1/servers/${first.id}`);
  assert(del.body.host_deletion, "waiting");
  await until(
    "the host is gone",
    () => app.world.kubernetes.state.bareMetalHost(NS, MINIMAL_ITEM.device_name) === null,
  );
  const [again] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(again.status, "ok", JSON.stringify(again));
  assert(again.id !== first.id);
});

Deno.test("the host of an ok registration deleted behind our back: not ok any more, and the Metal3 step waits for it to be gone", async (t) => {
  await using w = await appWithOperator();
  const { app } = w;
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(first.status, "ok");
  await finalized(app, MINIMAL_ITEM.device_name);
  const k8s = app.deps.integrations.kubernetes!;

  await t.step(
    "a re-run while it is being deleted waits, visibly, then applies afresh",
    async () => {
      await k8s.deleteBareMetalHost(NS, MINIMAL_ITEM.device_name);
      const old = app.world.kubernetes.state.bareMetalHost(NS, MINIMAL_ITEM.device_name)!;
      assert(old.metadata.deletionTimestamp);
      const rerun = app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM]);
      await until(
        "the Metal3 step says it waits",
        () =>
          w.events.some((e) =>
            e.type === "step" && e.step === "metal3" &&
            /Waiting for the previous host to be deleted/.test(e.message ?? "")
          ),
      );
      await finishDeprovisioning(app, MINIMAL_ITEM.device_name);
      const [again] = (await rerun).body;
      assertEquals(again.status, "ok", JSON.stringify(again));
      await new Promise((r) => setTimeout(r, 200));
      const host = app.world.kubernetes.state.bareMetalHost(NS, MINIMAL_ITEM.device_name);
      assert(host && host.metadata.uid !== old.metadata.uid && !host.metadata.deletionTimestamp);
      await finalized(app, MINIMAL_ITEM.device_name);
    },
  );

  await t.step(
    "the watch turns the registration failed once the host is gone, with an event",
    async () => {
      w.events.length = 0;
      await k8s.deleteBareMetalHost(NS, MINIMAL_ITEM.device_name);
      await finishDeprovisioning(app, MINIMAL_ITEM.device_name);
      await until(
        "the record is failed",
        async () => (await app.deps.store.mustGet(first.id)).status === "failed",
      );
      const r = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
      assertEquals([r.steps.metal3.status, r.provisioning.state], ["failed", "deleted"]);
      assert(/deleted outside this service/.test(r.error), r.error);
      assert(w.events.some((e) =>
        e.type === "registration" && e.registration.id === first.id &&
        e.registration.status === "failed"
      ));
      const list = (await app.call("GET", "/api/v1/servers")).body;
      assertEquals(
        list.items.find((x: { id: string }) => x.id === first.id).status,
        "failed",
      );
      // Retry creates it again.
      assertEquals((await app.call("POST", `/api/v1/servers/${first.id}/retry`)).status, 202);
      assertEquals((await app.deps.engine.waitFor(first.id, 5000)).status, "ok");
      assert(app.world.kubernetes.state.bareMetalHost(NS, MINIMAL_ITEM.device_name));
      await finalized(app, MINIMAL_ITEM.device_name);
    },
  );
});

Deno.test("the Metal3 step gives up on a host still being deleted after METAL3_DELETE_WAIT, saying what to do", async () => {
  await using w = await appWithOperator({ METAL3_DELETE_WAIT: "0.2" });
  const { app } = w;
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  await finalized(app, MINIMAL_ITEM.device_name);
  await app.deps.integrations.kubernetes!.deleteBareMetalHost(NS, MINIMAL_ITEM.device_name);
  const [again] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(again.status, "failed");
  const r = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
  assert(
    /still being deleted.*Retry once it is gone/.test(r.steps.metal3.message),
    r.steps.metal3.message,
  );
});

Deno.test("our own decommission is not reported as a host deleted outside the service", async () => {
  await using w = await startWatchedAppWithoutOperator();
  const { app } = w;
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(first.status, "ok");
  w.events.length = 0;
  const del = await app.call("DELETE", `/api/v1/servers/${first.id}`);
  assertEquals([del.status, del.body.host_deletion], [200, undefined]);
  await new Promise((r) => setTimeout(r, 100)); // let the watch's DELETED arrive
  const r = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
  assertEquals([r.status, r.steps.metal3.status, r.error], ["decommissioned", "done", undefined]);
  assert(
    !w.events.some((e) => e.type === "registration" && e.registration.status === "failed"),
    "no failed event",
  );
});

/** The watch running, against a Kubernetes without the operator (deletion is immediate). */
async function startWatchedAppWithoutOperator() {
  const app = await startTestApp();
  const stop = new AbortController();
  const watch = app.deps.engine.watchProvisioning(stop.signal);
  const events: LiveEvent[] = [];
  app.deps.events.subscribe((e) => events.push(e));
  await new Promise((r) => setTimeout(r, 50)); // the watch is listening
  return {
    app,
    events,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await watch.catch(() => {});
      await app.close();
    },
  };
}
