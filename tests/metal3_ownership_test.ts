/** The Metal3 step never takes over a BareMetalHost or Secret it did not create (security review). */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { ANNOTATION_REGISTRATION_ID } from "../lib/domain/metal3.ts";
import { SIM_URLS } from "../sim/world.ts";
import { MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

const NS = "metal3";
const NAME = MINIMAL_ITEM.device_name;
const SECRET = `${NAME}-bmc-secret`;

/** Creates an object as another client would (kubectl create), through the simulated API. */
async function createAsSomeoneElse(app: TestApp, body: Record<string, unknown>) {
  const path = body.kind === "Secret"
    ? `/api/v1/namespaces/${NS}/secrets`
    : `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhosts`;
  const res = await app.world.kubernetes.handler(
    new Request(`${SIM_URLS.kubernetes}${path}?fieldManager=kubectl-create`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  assertEquals(res.status, 201, await res.clone().text());
}

const FOREIGN_SECRET = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: SECRET, namespace: NS },
  stringData: { username: "root", password: "their-password" },
};

/** A provisioned, powered-on host of someone else's, with its own Secret. */
async function foreignProvisionedHost(app: TestApp) {
  await createAsSomeoneElse(app, FOREIGN_SECRET);
  await createAsSomeoneElse(app, {
    apiVersion: "metal3.io/v1alpha1",
    kind: "BareMetalHost",
    metadata: { name: NAME, namespace: NS, labels: { team: "hpc" } },
    spec: {
      online: true,
      bootMACAddress: "0c:c4:7a:99:99:99",
      bmc: { address: "ipmi://10.99.0.5", credentialsName: SECRET },
    },
  });
  app.world.kubernetes.setBareMetalHostStatus(NS, NAME, {
    provisioning: { state: "provisioned", ID: "theirs" },
    operationalStatus: "OK",
    poweredOn: true,
    errorCount: 0,
    errorMessage: "",
  });
}

function hostAndSecret(app: TestApp) {
  const k = app.world.kubernetes.state;
  const host = k.bareMetalHost(NS, NAME);
  const secret = k.secret(NS, SECRET);
  return {
    online: host?.spec.online,
    address: host?.spec.bmc?.address,
    bootMac: host?.spec.bootMACAddress,
    state: host?.status?.provisioning?.state,
    password: secret?.data?.password && atob(secret.data.password),
  };
}

const THEIRS = {
  online: true,
  address: "ipmi://10.99.0.5",
  bootMac: "0c:c4:7a:99:99:99",
  state: "provisioned",
  password: "their-password",
};

Deno.test("a minimal import item named like someone else's provisioned BareMetalHost fails and changes nothing", async () => {
  await using app = await startTestApp();
  await foreignProvisionedHost(app);
  const res = await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM]);
  assertEquals(res.status, 200, res.text);
  assertEquals(res.body[0].status, "failed", JSON.stringify(res.body[0]));
  assert(/BareMetalHost named dcoa-rb07u12 already exists/.test(res.body[0].error), res.text);
  assertEquals(hostAndSecret(app), THEIRS);
  assertEquals(hostAndSecret(app), THEIRS);
});

Deno.test("a Secret of someone else's by the same name fails the Metal3 step naming its owner, and nothing is applied", async () => {
  await using app = await startTestApp();
  await createAsSomeoneElse(app, FOREIGN_SECRET);
  const [item] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(item.status, "failed");
  const rec = (await app.call("GET", `/api/v1/servers/${item.id}`)).body;
  assertEquals(rec.steps.metal3.status, "failed");
  assert(rec.steps.metal3.message.includes(`Secret ${NS}/${SECRET} exists and is not`));
  assert(rec.steps.metal3.message.includes("kubectl-create"), rec.steps.metal3.message);
  assertEquals(hostAndSecret(app).password, "their-password");
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, NAME), null, "no host applied");
  assert(!JSON.stringify(rec).includes("their-password"));
});

Deno.test("a BareMetalHost replaced by someone else is not taken over when our registration runs again", async () => {
  await using app = await startTestApp();
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(first.status, "ok");
  // Someone deletes our host and makes their own of that name.
  await app.deps.integrations.kubernetes!.deleteBareMetalHost(NS, NAME);
  await app.deps.integrations.kubernetes!.deleteSecret(NS, SECRET);
  await foreignProvisionedHost(app);
  const [again] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(again.status, "failed");
  const rec = (await app.call("GET", `/api/v1/servers/${first.id}`)).body;
  assert(rec.steps.metal3.message.includes("is not this registration's"), rec.steps.metal3.message);
  assertEquals(hostAndSecret(app), THEIRS);
});

Deno.test("re-running our own registration applies again (idempotent) and marks both objects with its id", async () => {
  await using app = await startTestApp();
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(first.status, "ok");
  const [again] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals([again.status, again.id], ["ok", first.id]);
  const k = app.world.kubernetes.state;
  assertEquals(k.bareMetalHosts(NS).length, 1);
  assertEquals(
    k.bareMetalHost(NS, NAME)?.metadata.annotations?.[ANNOTATION_REGISTRATION_ID],
    first.id,
  );
  assertEquals(k.secret(NS, SECRET)?.metadata.annotations?.[ANNOTATION_REGISTRATION_ID], first.id);
  assertEquals(hostAndSecret(app).password, MINIMAL_ITEM.bmc_password);
});

Deno.test("a host we applied before the registration annotation existed is still ours, and gains it", async () => {
  await using app = await startTestApp();
  const [first] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  for (const kind of ["BareMetalHost", "Secret"] as const) {
    await app.world.kubernetes.update(kind, NS, kind === "Secret" ? SECRET : NAME, (o) => {
      delete o.metadata.annotations;
    }, "bare-metal-onboarding");
  }
  const [again] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  assertEquals(again.status, "ok", JSON.stringify(again));
  const host = app.world.kubernetes.state.bareMetalHost(NS, NAME);
  assertEquals(host?.metadata.annotations?.[ANNOTATION_REGISTRATION_ID], first.id);
});

Deno.test("pre-flight refuses a minimal item named like a Netbox device that is not this server", async () => {
  await using app = await startTestApp();
  const item = { ...MINIMAL_ITEM, device_name: "dcoa-rb06u3" }; // seeded in rack RB06
  const [res] = (await app.call("POST", "/api/v1/servers/import", [item])).body;
  assertEquals(res.status, "failed");
  assert(/Netbox already has a device named dcoa-rb06u3/.test(res.error), JSON.stringify(res));
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb06u3"), null);
  assertEquals(app.world.openbao.latest("bmc/dcoa-rb06u3"), null, "nothing written");
});
