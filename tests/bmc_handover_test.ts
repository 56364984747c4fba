/**
 * The Metal3 step hands the host over as soon as the BMC has accepted the password and named its
 * system, when the boot MAC was scanned and no rotation is wanted; the rest of the BMC check goes
 * on beside it and can only add findings and warnings. Observed through a recording fetch.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { Handler } from "../sim/faults.ts";
import { createFakeRedfish, type FakeRedfish } from "../sim/redfish/mod.ts";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

const NS = "metal3";
const IP = "10.16.28.40";
const NICS = ["0c:c4:7a:00:00:21", "0c:c4:7a:00:00:22"];
/** A scanned registration through Netbox (so `staged` is set), at a BMC the test controls. */
const ITEM = { ...FULL_ITEM, bmc_ip: IP, boot_mac: NICS[1] };
const NAME = ITEM.device_name;
const NIC_MEMBER = /^GET \/redfish\/v1\/Systems\/1\/EthernetInterfaces\/[^/?]+$/;

interface Call {
  method: string;
  path: string;
  body: string;
  start: number;
  /** Infinity while unanswered. */
  end: number;
}

/** The app with every external call recorded, and a BMC whose NIC members answer after 150 ms. */
async function startRecorded(
  options: {
    env?: Record<string, string>;
    bmc?: Partial<Parameters<typeof createFakeRedfish>[0]>;
  } = {},
): Promise<{ app: TestApp; calls: Call[]; device: FakeRedfish }> {
  const calls: Call[] = [];
  const record = (handler: Handler): Handler => async (req) => {
    const call: Call = {
      method: req.method,
      path: new URL(req.url).pathname,
      body: await req.clone().text(),
      start: performance.now(),
      end: Infinity,
    };
    calls.push(call);
    try {
      return await handler(req);
    } finally {
      call.end = performance.now();
    }
  };
  const app = await startTestApp({
    env: { BMC_DRIVER: "redfish", ...options.env },
    world: { autoBmcs: false },
    integrations: (world) =>
      world.integrations({
        through: record,
        timeoutMs: 1000,
        retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
      }),
  });
  const device = createFakeRedfish({
    username: "ADMIN",
    password: ITEM.bmc_password,
    nicMacs: NICS,
    ...options.bmc,
  });
  device.faults.add({ match: NIC_MEMBER, delayMs: 150 });
  app.world.bmcs.add(IP, device);
  return { app, calls, device };
}

const line = (c: Call) => `${c.method} ${c.path}`;
const hostApply = (calls: Call[]) =>
  calls.find((c) => c.method === "PATCH" && c.path.endsWith(`/baremetalhosts/${NAME}`));
const nicReadsEnd = (calls: Call[]) =>
  Math.max(...calls.filter((c) => NIC_MEMBER.test(line(c))).map((c) => c.end));

Deno.test("a scanned boot MAC: the BareMetalHost is applied while the BMC's NICs are still read; staged waits for the whole check", async () => {
  const { app, calls } = await startRecorded();
  await using _ = app;
  const [r] = (await app.call("POST", "/api/v1/servers/import", [ITEM])).body;
  assertEquals(r.status, "ok", r.error);
  const apply = hostApply(calls)!;
  assert(apply, "the BareMetalHost was applied");
  const nicsEnd = nicReadsEnd(calls);
  assert(Number.isFinite(nicsEnd), "the NIC members were read");
  assert(apply.start < nicsEnd, "the host was applied before the NIC member reads ended");
  // The Secret went out only once OpenBao held the password.
  const stored = calls.find((c) => c.method === "POST" && c.path.includes("/secret/data/bmc/"))!;
  const secret = calls.find((c) => c.method === "PATCH" && c.path.endsWith(`${NAME}-bmc-secret`))!;
  assert(stored.end <= secret.start, "the Secret waited for OpenBao");
  const staged = calls.findLast((c) => c.method === "PATCH" && c.body.includes('"staged"'))!;
  assert(staged.start >= nicsEnd && staged.start >= apply.end, "staged after every step");

  const host = app.world.kubernetes.state.bareMetalHost(NS, NAME)!;
  assertEquals(host.spec.bmc?.address, `redfish://${IP}/redfish/v1/Systems/1`);
  assertEquals(host.spec.bootMACAddress, NICS[1]);
  // The rest of the check is recorded on the registration all the same.
  const rec = await app.deps.store.mustGet(r.id);
  assertEquals(rec.bmc?.nics?.map((n) => n.mac), NICS);
  assertEquals(rec.bmc?.systemPath, "/redfish/v1/Systems/1");
});

Deno.test("without a scanned boot MAC the host waits for the whole BMC check", async () => {
  const { app, calls } = await startRecorded();
  await using _ = app;
  const { boot_mac: _scanned, ...item } = ITEM;
  const [r] = (await app.call("POST", "/api/v1/servers/import", [item])).body;
  assertEquals(r.status, "ok", r.error);
  const apply = hostApply(calls)!;
  assert(apply.start >= nicReadsEnd(calls), "the host was applied after the NIC member reads");
});

Deno.test("a wrong password with a scanned boot MAC fails before any Secret or BareMetalHost exists", async () => {
  const { app, calls } = await startRecorded({ bmc: { password: "not-the-label" } });
  await using _ = app;
  const [r] = (await app.call("POST", "/api/v1/servers/import", [ITEM])).body;
  assertEquals([r.status, r.steps.metal3], ["failed", "failed"]);
  assert(r.error.includes("rejected the scanned password"), r.error);
  assertEquals(
    calls.filter((c) => c.path.includes("/namespaces/metal3/") && c.method !== "GET"),
    [],
  );
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, NAME), null);
  assertEquals(app.world.kubernetes.state.secret(NS, `${NAME}-bmc-secret`), null);
});

Deno.test("a refusal after the BMC accepted the password is a warning once the host is handed over", async () => {
  const { app, device } = await startRecorded();
  await using _ = app;
  device.faults.add({ match: /^GET \/redfish\/v1\/Systems\/1$/, status: 401 });
  const [r] = (await app.call("POST", "/api/v1/servers/import", [ITEM])).body;
  assertEquals(r.status, "ok", r.error);
  assert(
    r.warnings.some((w: string) =>
      w.startsWith("BMC check: it accepted the password, then: The BMC rejected")
    ),
    JSON.stringify(r.warnings),
  );
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, NAME)?.spec.bootMACAddress, NICS[1]);
  // README: Retry with the same boot MAC checks the BMC again.
  device.faults.clear();
  const retry = await app.call("POST", `/api/v1/servers/${r.id}/retry`, { boot_mac: NICS[1] });
  assertEquals(retry.status, 202, retry.text);
  const again = await app.deps.engine.waitFor(r.id, 10_000);
  assertEquals(again.status, "ok", again.error);
  assertEquals(again.warnings.filter((w) => w.startsWith("BMC check")), []);
  assertEquals(again.bmc?.nics?.map((n) => n.mac), NICS);

  // Without a scanned boot MAC nothing was handed over: the same answer fails the step.
  const other = {
    ...MINIMAL_ITEM,
    device_name: "dcoa-rb07u13",
    bmc_mac: "3c:ec:ef:a1:9c:f1",
    bmc_ip: IP,
  };
  const [failed] = (await app.call("POST", "/api/v1/servers/import", [other])).body;
  assertEquals([failed.status, failed.steps.metal3], ["failed", "failed"]);
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, other.device_name), null);
});

Deno.test("an apply failing beside the check fails the step once the check has recorded; Retry completes", async () => {
  const { app } = await startRecorded();
  await using _ = app;
  app.world.kubernetes.faults.add({ match: `PATCH /apis/metal3.io/`, status: 500 });
  const [r] = (await app.call("POST", "/api/v1/servers/import", [ITEM])).body;
  assertEquals([r.status, r.steps.metal3], ["failed", "failed"]);
  // The check went on to the end and recorded the NICs before the step ended.
  const rec = await app.deps.store.mustGet(r.id);
  assertEquals(rec.bmc?.nics?.map((n) => n.mac), NICS);
  assertEquals(rec.steps.netbox.status, "done");

  app.world.kubernetes.faults.clear();
  await app.call("POST", `/api/v1/servers/${r.id}/retry`, {});
  const done = await app.deps.engine.waitFor(r.id, 10_000);
  assertEquals(done.status, "ok", done.error);
  assertEquals(app.world.kubernetes.state.bareMetalHosts(NS).length, 1);
  assertEquals(app.world.kubernetes.state.secrets(NS).length, 1);
  assertEquals(done.warnings.filter((w) => w.startsWith("BMC check")), []);
});

Deno.test("rotation wanted: a scanned boot MAC changes nothing, the Secret never holds the scanned password", async () => {
  const { app, calls, device } = await startRecorded({
    bmc: { passwordChangeRequired: true, enforcePasswordChange: false },
  });
  await using _ = app;
  const [r] = (await app.call("POST", "/api/v1/servers/import", [{ ...ITEM, rotate: true }]))
    .body;
  assertEquals(r.status, "ok", r.error);
  assert(device.state.password !== ITEM.bmc_password, "rotated");
  const applies = calls.filter((c) => c.method === "PATCH" && c.path.endsWith("-bmc-secret"));
  assert(applies.length > 0);
  for (const c of applies) {
    assert(!c.body.includes(btoa(ITEM.bmc_password)) && !c.body.includes(ITEM.bmc_password));
  }
  const secret = app.world.kubernetes.state.secret(NS, `${NAME}-bmc-secret`)!;
  assertEquals(atob(secret.data!.password), device.state.password);
});
