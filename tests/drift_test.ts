/**
 * Drift (lib/registration/drift.ts) against the simulators: each kind is made by changing a system
 * the way a person or another tool would, through its API; the check names it exactly, the repair
 * puts it right, a second check finds nothing and a second repair writes nothing.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";
import type { Finding } from "../lib/registration/drift.ts";
import { bareMetalHost } from "../lib/domain/metal3.ts";
import { runDrift } from "../scripts/drift.ts";
import { createSimulatedWorld, makeDemoDrift } from "../sim/world.ts";

const NS = "metal3";
const MAC = "3c:ec:ef:a1:9c:e8";
const NAME = "dcoa-rb06u31";
const KEA1 = "http://kea1.sim:8000/";
const KEA2 = "http://kea2.sim:8000/";

/** The app with FULL_ITEM and MINIMAL_ITEM registered and a clean first check. */
async function registered(): Promise<TestApp> {
  const app = await startTestApp();
  const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
  assertEquals(res.body.map((r: { status: string }) => r.status), ["ok", "ok"], res.text);
  const first = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(first.body.findings, [], "no drift right after registration");
  return app;
}

async function record(app: TestApp) {
  return (await app.deps.store.mustGet((await app.deps.store.idByName(NAME))!));
}

/** A Kea control command sent straight to one simulated server (as `curl` would). */
async function kea(app: TestApp, i: number, command: string, args: Record<string, unknown>) {
  const res = await app.world.kea[i].handler(
    new Request([KEA1, KEA2][i], {
      method: "POST",
      body: JSON.stringify({ command, service: ["dhcp4"], arguments: args }),
    }),
  );
  const [answer] = await res.json();
  assert(answer.result === 0, JSON.stringify(answer));
}

const pick = (f: Finding) => ({
  kind: f.kind,
  server: f.server,
  where: f.where,
  expected: f.expected,
  found: f.found,
});

/** Writes the simulators saw (Kea commands and Kubernetes writes), to show a no-op repair. */
function writes(app: TestApp): number {
  const keaWrites =
    app.world.kea.flatMap((k) => k.commands).filter((c) =>
      c.command === "reservation-add" || c.command === "reservation-del"
    ).length;
  const kubeWrites = app.world.kubernetes.state.requests.filter((r) => r.method !== "GET").length;
  return keaWrites + kubeWrites + app.world.openbao.versions(`bmc/${NAME}`).length;
}

/** Drift made, found exactly, repaired, gone; a second repair does nothing. */
async function roundTrip(
  app: TestApp,
  expected: ReturnType<typeof pick>[],
  options: { force?: boolean } = {},
) {
  const found = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(found.status, 200);
  assertEquals(found.body.findings.map(pick), expected);
  assertEquals(found.body.errors, []);
  const repaired = await app.call("POST", "/api/v1/drift/repair", { force: options.force });
  assertEquals(repaired.status, 200, repaired.text);
  assertEquals(
    repaired.body.results.map((r: { outcome: string }) => r.outcome),
    expected.map(() => "repaired"),
    JSON.stringify(repaired.body.results),
  );
  assertEquals(repaired.body.report.findings, [], "the check after the repair finds nothing");
  const trail = await app.deps.store.auditTrail((await record(app)).id);
  assert(trail.some((e) => e.action.startsWith("drift repair")), "the repair is audited");
  const before = writes(app);
  const again = await app.call("POST", "/api/v1/drift/repair", { force: options.force });
  assertEquals(again.body.results, []);
  assertEquals(writes(app), before, "a second repair writes nothing");
}

Deno.test("drift: a Kea server that lost the reservation gets it back, the other is untouched", async () => {
  await using app = await registered();
  await kea(app, 1, "reservation-del", {
    "subnet-id": 1,
    "identifier-type": "hw-address",
    identifier: MAC,
  });
  const adds = () =>
    app.world.kea.map((k) => k.commands.filter((c) => c.command === "reservation-add").length);
  const [before1] = adds();
  await roundTrip(app, [{
    kind: "kea_reservation_missing",
    server: NAME,
    where: `${KEA2} subnet 1`,
    expected: `${MAC} → 10.16.28.11 (${NAME}-bmc)`,
    found: "no reservation for the MAC",
  }]);
  assertEquals(adds()[0], before1, "kea1 still had it: nothing written there");
});

Deno.test("drift: a reservation whose IP changed is replaced", async () => {
  await using app = await registered();
  await kea(app, 0, "reservation-del", {
    "subnet-id": 1,
    "identifier-type": "hw-address",
    identifier: MAC,
  });
  await kea(app, 0, "reservation-add", {
    reservation: { "subnet-id": 1, "hw-address": MAC, "ip-address": "10.16.28.99", hostname: "x" },
  });
  await roundTrip(app, [{
    kind: "kea_reservation_changed",
    server: NAME,
    where: `${KEA1} subnet 1`,
    expected: `${MAC} → 10.16.28.11 (${NAME}-bmc)`,
    found: `${MAC} → 10.16.28.99 (x)`,
  }]);
});

Deno.test("drift: the IP held by another MAC and an unknown reservation are reported, never touched", async () => {
  await using app = await registered();
  await kea(app, 0, "reservation-del", {
    "subnet-id": 1,
    "identifier-type": "hw-address",
    identifier: MAC,
  });
  const other = {
    "subnet-id": 1,
    "hw-address": "aa:bb:cc:00:00:01",
    "ip-address": "10.16.28.11",
    hostname: "someone-else",
  };
  await kea(app, 0, "reservation-add", { reservation: other });
  const found = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(found.body.findings.map(pick), [
    {
      kind: "kea_ip_taken",
      server: NAME,
      where: `${KEA1} subnet 1`,
      expected: `10.16.28.11 reserved for ${MAC}`,
      found: "10.16.28.11 reserved for aa:bb:cc:00:00:01 (someone-else)",
    },
    {
      kind: "kea_unknown_reservation",
      server: "someone-else",
      where: `${KEA1} subnet 1 aa:bb:cc:00:00:01`,
      expected: "a registration for every reservation in the BMC subnet",
      found: "aa:bb:cc:00:00:01 → 10.16.28.11 (someone-else)",
    },
  ]);
  const keaWrites = () =>
    app.world.kea[0].commands.filter((c) => /^reservation-(add|del)$/.test(c.command)).length;
  const before = keaWrites();
  const repaired = await app.call("POST", "/api/v1/drift/repair", { force: true });
  assertEquals(repaired.body.results.map((r: { outcome: string }) => r.outcome), [
    "skipped",
    "skipped",
  ]);
  assertEquals(keaWrites(), before, "nothing written to Kea");
  assertEquals(repaired.body.report.findings.length, 2, "still reported");
});

Deno.test("drift: a deleted BareMetalHost is applied again", async () => {
  await using app = await registered();
  const address = app.world.kubernetes.state.bareMetalHost(NS, NAME)!.spec.bmc!.address;
  await app.world.integrations().kubernetes!.deleteBareMetalHost(NS, NAME);
  await roundTrip(app, [{
    kind: "kubernetes_host_missing",
    server: NAME,
    where: `${NS}/${NAME}`,
    expected: `BareMetalHost ${NAME} (bmc ${address})`,
    found: "no BareMetalHost with our labels",
  }]);
  assert(app.world.kubernetes.state.bareMetalHost(NS, NAME));
});

Deno.test("drift: a BareMetalHost whose bmc.address someone edited is applied again", async () => {
  await using app = await registered();
  const address = app.world.kubernetes.state.bareMetalHost(NS, NAME)!.spec.bmc!.address;
  app.world.kubernetes.update("BareMetalHost", NS, NAME, (o) => {
    o.spec.bmc.address = "redfish://10.16.28.200/redfish/v1/Systems/1";
  }, "kubectl-edit");
  await roundTrip(app, [{
    kind: "kubernetes_host_changed",
    server: NAME,
    where: `${NS}/${NAME}`,
    expected: `bmc ${address}, credentials ${NAME}-bmc-secret`,
    found: `bmc redfish://10.16.28.200/redfish/v1/Systems/1, credentials ${NAME}-bmc-secret`,
  }]);
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, NAME)!.spec.bmc!.address, address);
});

Deno.test("drift: a deleted Secret and a Secret with another password get OpenBao's password", async (t) => {
  await using app = await registered();
  const password = () =>
    atob(app.world.kubernetes.state.secret(NS, `${NAME}-bmc-secret`)!.data!.password);
  await t.step("deleted", async () => {
    await app.world.integrations().kubernetes!.deleteSecret(NS, `${NAME}-bmc-secret`);
    await roundTrip(app, [{
      kind: "kubernetes_secret_missing",
      server: NAME,
      where: `${NS}/${NAME}-bmc-secret`,
      expected: `Secret ${NAME}-bmc-secret with the BMC password`,
      found: "no Secret",
    }]);
    assertEquals(password(), FULL_ITEM.bmc_password);
  });
  await t.step("another password: compared by hash, never shown", async () => {
    app.world.kubernetes.update("Secret", NS, `${NAME}-bmc-secret`, (o) => {
      o.data.password = btoa("typed-by-hand");
    }, "kubectl-edit");
    const found = await app.call("POST", "/api/v1/drift/check", {});
    assertEquals(found.body.findings.map((f: Finding) => f.kind), ["kubernetes_password_differs"]);
    assert(!found.text.includes("typed-by-hand") && !found.text.includes(FULL_ITEM.bmc_password));
    await app.call("POST", "/api/v1/drift/repair", {});
    assertEquals(password(), FULL_ITEM.bmc_password);
    assertEquals((await app.call("POST", "/api/v1/drift/check", {})).body.findings, []);
    assert(!app.logs.join("\n").includes("typed-by-hand"), "never logged");
  });
});

Deno.test("drift: OpenBao — a changed MAC is written back; a missing secret is reported only", async () => {
  await using app = await registered();
  const bao = app.world.integrations().openbao!;
  await bao.writeSecret(`bmc/${NAME}`, {
    username: "ADMIN",
    password: FULL_ITEM.bmc_password,
    bmc_mac: "aa:bb:cc:dd:ee:ff",
  });
  await roundTrip(app, [{
    kind: "openbao_mac_changed",
    server: NAME,
    where: `bmc/${NAME}`,
    expected: MAC,
    found: "aa:bb:cc:dd:ee:ff",
  }]);
  assertEquals(app.world.openbao.latest(`bmc/${NAME}`)?.bmc_mac, MAC);
  assertEquals(app.world.openbao.latest(`bmc/${NAME}`)?.password, FULL_ITEM.bmc_password);
  await bao.deleteSecret(`bmc/${NAME}`);
  const res = await app.call("POST", "/api/v1/drift/repair", {});
  assertEquals(
    res.body.results.map((r: { kind: string; outcome: string }) => [r.kind, r.outcome]),
    [
      ["openbao_secret_missing", "skipped"],
    ],
  );
});

Deno.test("drift: Netbox — OOB IP cleared, IP deleted, interface deleted, device deleted are restored", async (t) => {
  await using app = await registered();
  const nb = app.world.integrations().netbox!;
  const r = await record(app);
  const deviceId = r.created.netbox_device_id!;
  await t.step("OOB IP cleared", async () => {
    app.world.netbox.devices.get(deviceId)!.oob_ip_id = null;
    await roundTrip(app, [{
      kind: "netbox_oob_ip_changed",
      server: NAME,
      where: `dcim.device ${deviceId}`,
      expected: "10.16.28.11",
      found: "no OOB IP",
    }]);
  });
  await t.step("IP deleted", async () => {
    await nb.deleteIp((await record(app)).created.netbox_ip_id!);
    const iface = (await record(app)).created.netbox_interface_id!;
    await roundTrip(app, [{
      kind: "netbox_ip_unassigned",
      server: NAME,
      where: `dcim.interface ${iface}`,
      expected: "10.16.28.11 assigned to the bmc interface",
      found: "10.16.28.11 is not in IPAM",
    }]);
  });
  await t.step("interface deleted", async () => {
    await nb.deleteInterface((await record(app)).created.netbox_interface_id!);
    await roundTrip(app, [{
      kind: "netbox_interface_missing",
      server: NAME,
      where: `dcim.device ${deviceId}`,
      expected: `interface bmc with MAC ${MAC}`,
      found: "no bmc interface",
    }]);
  });
  await t.step("device deleted", async () => {
    await nb.deleteDevice(deviceId);
    await roundTrip(app, [{
      kind: "netbox_device_missing",
      server: NAME,
      where: `dcim.device ${deviceId}`,
      expected: `device ${NAME} (id ${deviceId})`,
      found: "no such device",
    }]);
    assert((await record(app)).created.netbox_device_id !== deviceId, "a new device");
  });
});

Deno.test("drift: Netbox values a person changed are repaired only with force", async (t) => {
  await using app = await registered();
  const nb = app.world.integrations().netbox!;
  const r = await record(app);
  const deviceId = r.created.netbox_device_id!;
  await t.step("moved to another U", async () => {
    app.world.netbox.devices.get(deviceId)!.position = 35;
    const plain = await app.call("POST", "/api/v1/drift/repair", {});
    assertEquals(plain.body.results.map((x: { outcome: string }) => x.outcome), ["skipped"]);
    assertEquals(app.world.netbox.devices.get(deviceId)!.position, 35, "left as the person set it");
    await roundTrip(app, [{
      kind: "netbox_device_changed",
      server: NAME,
      where: `dcim.device ${deviceId}`,
      expected: `${NAME} at dcoa/RB06 U31`,
      found: `${NAME} at dcoa/RB06 U35`,
    }], { force: true });
    assertEquals(app.world.netbox.devices.get(deviceId)!.position, 31);
  });
  await t.step("another MAC on the bmc interface", async () => {
    await nb.setInterfaceMac(r.created.netbox_interface_id!, "aa:bb:cc:00:00:02");
    const plain = await app.call("POST", "/api/v1/drift/repair", {});
    assertEquals(plain.body.results.map((x: { outcome: string }) => x.outcome), ["skipped"]);
    await roundTrip(app, [{
      kind: "netbox_mac_changed",
      server: NAME,
      where: `dcim.interface ${r.created.netbox_interface_id}`,
      expected: MAC,
      found: "aa:bb:cc:00:00:02",
    }], { force: true });
  });
});

Deno.test("drift: unknown devices and hosts are reported and left untouched", async () => {
  await using app = await registered();
  const person = app.world.integrations();
  const device = await person.netbox!.createDevice({
    name: "by-hand-01",
    siteId: 1,
    locationId: 1,
    rackId: 1,
    position: 38,
    deviceTypeId: 1,
    roleId: 1,
  });
  await person.netbox!.ensureBmcInterface(device.id);
  await person.kubernetes!.apply(bareMetalHost({
    name: "by-hand-02",
    namespace: NS,
    bmcAddress: "redfish://10.16.28.77/redfish/v1/Systems/1",
    credentialsName: "by-hand-02-bmc-secret",
    labels: {},
  }));
  const found = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(found.body.findings.map((f: Finding) => [f.kind, f.server, f.unknown]), [
    ["kubernetes_unknown_host", "by-hand-02", true],
    ["netbox_unknown_device", "by-hand-01", true],
  ]);
  const kubeWrites = app.world.kubernetes.state.requests.filter((q) => q.method !== "GET").length;
  const repaired = await app.call("POST", "/api/v1/drift/repair", { force: true });
  assertEquals(repaired.body.results.map((x: { outcome: string }) => x.outcome), [
    "skipped",
    "skipped",
  ]);
  assert(app.world.netbox.devices.has(device.id));
  assert(app.world.kubernetes.state.bareMetalHost(NS, "by-hand-02"));
  assertEquals(
    app.world.kubernetes.state.requests.filter((q) => q.method !== "GET").length,
    kubeWrites,
  );
});

Deno.test("drift: a check of one server; the stored view filtered by server; bad input is a 400 naming the field", async () => {
  await using app = await registered();
  app.world.netbox.devices.get((await record(app)).created.netbox_device_id!)!.oob_ip_id = null;
  const one = await app.call("POST", "/api/v1/drift/check", { server: NAME });
  assertEquals(one.body.servers, 1);
  assertEquals(one.body.findings.map((f: Finding) => f.kind), ["netbox_oob_ip_changed"]);
  const other = await app.call("POST", "/api/v1/drift/check", { server: "dcoa-rb07u12" });
  assertEquals(other.body.findings, []);
  const nobody = await app.call("POST", "/api/v1/drift/check", { server: "no-such-server" });
  assertEquals(nobody.status, 404);
  // One server's check is not stored: the latest is the last full check, which had none.
  assertEquals((await app.call("GET", `/api/v1/drift?server=${NAME}`)).body.findings, []);
  await app.call("POST", "/api/v1/drift/check", {});
  const stored = await app.call("GET", `/api/v1/drift?server=${NAME.toUpperCase()}`);
  assertEquals(stored.body.findings.map((f: Finding) => f.kind), ["netbox_oob_ip_changed"]);
  assertEquals((await app.call("GET", "/api/v1/drift?server=dcoa-rb07u12")).body.findings, []);
  const bad = await app.call("POST", "/api/v1/drift/repair", { kind: "nope", force: "yes" });
  assertEquals(bad.status, 400);
  assertEquals(Object.keys(bad.body.error.fields).sort(), ["force", "kind"]);
  const badView = await app.call("GET", "/api/v1/drift?kind=nope&limit=0");
  assertEquals([badView.status, Object.keys(badView.body.error.fields).sort()], [400, [
    "kind",
    "limit",
  ]]);
  const demo = await app.call("POST", "/api/v1/demo/drift", {});
  assertEquals(demo.status, 404, "the drift maker exists only in the demo");
});

Deno.test("drift: /metrics shows the last check's findings by system and kind", async () => {
  await using app = await registered();
  await app.world.integrations().kubernetes!.deleteBareMetalHost(NS, NAME);
  await app.deps.drift.check();
  const metrics = await app.call("GET", "/metrics");
  assert(
    metrics.text.includes(
      'onboarding_drift_findings{system="kubernetes",kind="kubernetes_host_missing"} 1',
    ),
    metrics.text.split("\n").filter((l) => l.includes("drift")).join("\n"),
  );
});

Deno.test("deno task drift: exit 0 clean, 1 drift, 0 after --repair, --strict counts unknown, 2 when it cannot check", async () => {
  await using app = await registered();
  const run = async (args: string[], fetcher?: typeof fetch) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDrift([...args, "--url", "http://svc"], {
      fetch: fetcher ??
        ((input, init) =>
          Promise.resolve(app.app.request(String(input).replace("http://svc", ""), init))),
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: () => undefined,
    });
    return { code, out: out.join(""), err: err.join("") };
  };
  assertEquals((await run([])).code, 0);
  await kea(app, 1, "reservation-del", {
    "subnet-id": 1,
    "identifier-type": "hw-address",
    identifier: MAC,
  });
  const drifted = await run(["--server", NAME]);
  assertEquals(drifted.code, 1);
  assert(drifted.out.includes(`kea\tkea_reservation_missing\t${NAME}\t`), drifted.out);
  const repaired = await run(["--repair"]);
  assertEquals(repaired.code, 0, repaired.err);
  assert(repaired.err.includes(`repaired\t${NAME}\tkea_reservation_missing`), repaired.err);
  assertEquals((await run([])).code, 0);
  app.world.kubernetes.update("BareMetalHost", NS, NAME, (o) => {
    o.spec.bmc.address = "redfish://10.16.28.201/redfish/v1/Systems/1";
  }, "kubectl-edit");
  app.world.netbox.devices.get((await record(app)).created.netbox_device_id!)!.position = 35;
  assertEquals((await run(["--repair"])).code, 0, "a change only --force may undo does not count");
  assertEquals((await run([])).code, 1, "but it is still drift");
  assertEquals((await run(["--repair", "--force"])).code, 0);
  await app.world.integrations().kubernetes!.apply(bareMetalHost({
    name: "by-hand-03",
    namespace: NS,
    bmcAddress: "redfish://10.16.28.78/redfish/v1/Systems/1",
    credentialsName: "x",
    labels: {},
  }));
  assertEquals((await run([])).code, 0, "unknown objects do not count…");
  assertEquals((await run(["--strict"])).code, 1, "…unless --strict");
  const down = await run([], () => Promise.reject(new TypeError("connection refused")));
  assertEquals(down.code, 2);
  assert(down.err.includes("Could not check: connection refused"), down.err);
  assertEquals((await run(["--oops"])).code, 2, "bad usage");
  app.world.kea[1].faults.add({ status: 503, body: { result: 1, text: "down" } });
  const keaDown = await run([]);
  assertEquals(keaDown.code, 2, "a Kea server that cannot be read: the check is incomplete");
  assert(keaDown.err.includes("Could not check kea: http://kea2.sim:8000/"), keaDown.err);
  const help = await run(["--help"]);
  assertEquals(help.code, 0);
  assert(help.out.includes("Examples:"));
});

Deno.test("drift: the demo's 'make some drift' breaks three things the check finds and repairs", async () => {
  await using app = await registered();
  const demo = {
    world: app.world,
    integrations: app.deps.integrations,
    description: "simulated",
    realKea: null,
    close: () => Promise.resolve(),
    closeOnExit() {},
  };
  app.deps.makeDrift = () => makeDemoDrift(demo, NS);
  const made = await app.call("POST", "/api/v1/demo/drift", {});
  assertEquals(made.status, 200, made.text);
  assertEquals(made.body.done.length, 3, made.text);
  const found = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(found.body.findings.map((f: Finding) => f.kind).sort(), [
    "kea_reservation_missing",
    "kubernetes_host_changed",
    "kubernetes_password_differs",
  ]);
  const repaired = await app.call("POST", "/api/v1/drift/repair", {});
  assertEquals(repaired.body.report.findings, []);
});

Deno.test("drift: the background check publishes a drift event when the findings change", async () => {
  await using app = await startTestApp({ env: { DRIFT_INTERVAL: "1" } });
  const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM]);
  assertEquals(res.body[0].status, "ok");
  const seen: { findings: number; counts: Record<string, number> }[] = [];
  const off = app.deps.events.subscribe((e) => {
    if (e.type === "drift") seen.push({ findings: e.findings, counts: e.counts });
  });
  try {
    app.deps.drift.start();
    const until = async (n: number) => {
      for (let i = 0; i < 100 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 50));
    };
    await until(1);
    assertEquals(seen[0]?.findings, 0, "the first check is published");
    await app.world.integrations().kubernetes!.deleteBareMetalHost(NS, NAME);
    await until(2);
    assertEquals(seen[1], {
      findings: 1,
      counts: { netbox: 0, openbao: 0, kea: 0, kubernetes: 1 },
    });
    await new Promise((r) => setTimeout(r, 1200));
    assertEquals(seen.length, 2, "an unchanged check publishes nothing");
  } finally {
    app.deps.drift.stop();
    off();
  }
});

Deno.test("Kea listReservations pages with reservation-get-page on every server (never get-all)", async () => {
  const world = createSimulatedWorld();
  try {
    for (let i = 0; i < 1200; i++) {
      const mac = `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
        (i & 255).toString(16).padStart(2, "0")
      }`;
      const ip = `10.16.${28 + (i >> 8)}.${(i & 255)}`;
      for (const k of world.kea) {
        k.hosts.push({
          "subnet-id": 1,
          "hw-address": mac,
          "ip-address": ip,
          hostname: `h${i}`,
          "next-server": "0.0.0.0",
          "server-hostname": "",
          "boot-file-name": "",
          "client-classes": [],
          "option-data": [],
        });
      }
    }
    world.kea[1].hosts.splice(7, 1);
    const lists = await world.integrations().kea!.listReservations(1);
    assertEquals(
      lists.map((l) => [l.server, "hosts" in l ? l.hosts.length : l.error]),
      [[KEA1, 1200], [KEA2, 1199]],
    );
    for (const k of world.kea) {
      const used = k.commands.map((c) => c.command);
      assertEquals(used.filter((c) => c === "reservation-get-page").length, 4, "500+500+200+end");
      assert(!used.includes("reservation-get-all"));
    }
  } finally {
    world.close();
  }
});

Deno.test("drift: a repair that would also undo a person's Netbox change waits for force", async () => {
  await using app = await registered();
  const nb = app.world.integrations().netbox!;
  const r = await record(app);
  const iface = r.created.netbox_interface_id!;
  await nb.setInterfaceMac(iface, "aa:bb:cc:00:00:03");
  app.world.netbox.devices.get(r.created.netbox_device_id!)!.oob_ip_id = null;
  const found = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(
    found.body.findings.map((f: Finding) => [f.kind, Boolean(f.needs_force)]),
    [["netbox_mac_changed", true], ["netbox_oob_ip_changed", true]],
  );
  const plain = await app.call("POST", "/api/v1/drift/repair", { kind: "netbox_oob_ip_changed" });
  assertEquals(plain.body.results.map((x: { outcome: string }) => x.outcome), ["skipped"]);
  assertEquals(app.world.netbox.devices.get(r.created.netbox_device_id!)!.oob_ip_id, null);
  assertEquals(
    (await nb.bmcInterfaces()).find((i) => i.id === iface)?.mac,
    "aa:bb:cc:00:00:03",
    "the person's MAC is still there",
  );
  const forced = await app.call("POST", "/api/v1/drift/repair", { force: true });
  assertEquals(forced.body.report.findings, []);
});

Deno.test("drift: an OOB IP a person pointed at another address is reported even with the IP gone", async () => {
  await using app = await registered();
  const nb = app.world.integrations().netbox!;
  const r = await record(app);
  const deviceId = r.created.netbox_device_id!;
  const other = await nb.assignIp("10.16.28.150", r.created.netbox_interface_id!);
  await nb.setOobIp(deviceId, other.id);
  await nb.deleteIp(r.created.netbox_ip_id!);
  const found = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(found.body.findings.map(pick), [
    {
      kind: "netbox_ip_unassigned",
      server: NAME,
      where: `dcim.interface ${r.created.netbox_interface_id}`,
      expected: "10.16.28.11 assigned to the bmc interface",
      found: "10.16.28.11 is not in IPAM",
    },
    {
      kind: "netbox_oob_ip_changed",
      server: NAME,
      where: `dcim.device ${deviceId}`,
      expected: "10.16.28.11",
      found: "10.16.28.150",
    },
  ]);
  assert(found.body.findings.every((f: Finding) => f.needs_force));
  const plain = await app.call("POST", "/api/v1/drift/repair", {});
  assert(plain.body.results.every((x: { outcome: string }) => x.outcome === "skipped"));
  assertEquals(app.world.netbox.devices.get(deviceId)!.oob_ip_id, other.id);
});

Deno.test("drift: re-applying the BareMetalHost never rotates the BMC password", async () => {
  await using app = await registered();
  const r = await record(app);
  // Rotation wanted but never done (e.g. asked for after registration).
  await app.deps.store.update(r.id, (x) => x.rotate = true);
  const bmc = app.world.bmcs.bmcs.get(r.bmc_ip!)!;
  await app.world.integrations().kubernetes!.deleteBareMetalHost(NS, NAME);
  const repaired = await app.call("POST", "/api/v1/drift/repair", {});
  assertEquals(repaired.body.report.findings, [], repaired.text);
  assertEquals(bmc.state.password, FULL_ITEM.bmc_password);
  assertEquals((await record(app)).rotation, undefined);
});
