/** The registration engine through the HTTP API, against the simulated Netbox, OpenBao, Kea, Kubernetes and BMCs. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { dumpKv, FULL_ITEM, MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";
import { bareMetalHostAdmission, loadBareMetalHostValidator } from "../sim/kubernetes/mod.ts";
import { createFakeRedfish } from "../sim/redfish/mod.ts";

const NS = "metal3";

/** Counts every object a server should have exactly one of, in every system. */
function objectCounts(t: TestApp, item: { device_name: string; bmc_mac: string }) {
  const w = t.world;
  const mac = item.bmc_mac.toLowerCase().replace(/[^0-9a-f]/g, "").match(/../g)!.join(":");
  const devices = [...w.netbox.devices.values()].filter((d) => d.name === item.device_name);
  const ifaces = [...w.netbox.interfaces.values()].filter((i) =>
    devices.some((d) => d.id === i.device_id)
  );
  return {
    devices: devices.length,
    interfaces: ifaces.length,
    macs: [...w.netbox.macAddresses.values()].filter((m) => m.mac_address === mac).length,
    ips:
      [...w.netbox.ipAddresses.values()].filter((ip) =>
        ifaces.some((i) => i.id === ip.assigned_object_id)
      ).length,
    secretVersions: w.openbao.versions(`bmc/${item.device_name}`).length,
    reservations: w.kea.map((k) => k.hosts.filter((h) => h["hw-address"] === mac).length),
    secrets:
      w.kubernetes.state.secrets(NS).filter((s) =>
        s.metadata.name === `${item.device_name}-bmc-secret`
      ).length,
    hosts: w.kubernetes.state.bareMetalHosts(NS).filter((h) => h.metadata.name === item.device_name)
      .length,
  };
}

const ONE_EACH = {
  devices: 1,
  interfaces: 1,
  macs: 1,
  ips: 1,
  secretVersions: 1,
  reservations: [1, 1],
  secrets: 1,
  hosts: 1,
};

Deno.test("POST /servers/import creates exactly the objects of SPEC §6.2 for both README examples", async (t) => {
  await using app = await startTestApp();
  const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
  assertEquals(res.status, 200);
  const [full, minimal] = res.body;

  await t.step(
    "full Netbox fields: device, bmc interface, MAC object, IP, oob_ip, status staged",
    () => {
      assertEquals(full.status, "ok", full.error);
      assertEquals(full.steps, { netbox: "done", openbao: "done", kea: "done", metal3: "done" });
      const nb = app.world.netbox;
      const device = [...nb.devices.values()].find((d) => d.name === "dcoa-rb06u31")!;
      assertEquals([device.status, device.face, device.position], ["staged", "front", 31]);
      const iface = [...nb.interfaces.values()].find((i) => i.device_id === device.id)!;
      assertEquals([iface.name, iface.type, iface.mgmt_only], ["bmc", "1000base-t", true]);
      const mac = nb.macAddresses.get(iface.primary_mac_address_id!)!;
      assertEquals(mac.mac_address, "3c:ec:ef:a1:9c:e8");
      const ip = nb.ipAddresses.get(device.oob_ip_id!)!;
      assertEquals(ip.assigned_object_id, iface.id);
      assertEquals(ip.address.split("/")[0], full.bmc_ip);
      assert(full.bmc_ip.startsWith("10.16.28."), "IP from the BMC prefix");
    },
  );

  await t.step("OpenBao holds username, password and MAC under bmc/{device_name}", () => {
    assertEquals(app.world.openbao.latest("bmc/dcoa-rb06u31"), {
      username: "ADMIN",
      password: FULL_ITEM.bmc_password,
      bmc_mac: "3c:ec:ef:a1:9c:e8",
    });
  });

  await t.step("Kea reserves the IP for the MAC with hostname {device}-bmc on every server", () => {
    for (const kea of app.world.kea) {
      const host = kea.hosts.find((h) => h["hw-address"] === "3c:ec:ef:a1:9c:e8")!;
      assertEquals([host["ip-address"], host.hostname, host["subnet-id"]], [
        full.bmc_ip,
        "dcoa-rb06u31-bmc",
        1,
      ]);
    }
  });

  await t.step(
    "Metal3: Secret and BareMetalHost by server-side apply with our field manager",
    () => {
      const k = app.world.kubernetes.state;
      const secret = k.secret(NS, "dcoa-rb06u31-bmc-secret")!;
      assertEquals(secret.metadata.labels?.["environment.metal3.io"], "baremetal");
      assertEquals(
        atob((secret as { data: Record<string, string> }).data.password),
        FULL_ITEM.bmc_password,
      );
      const bmh = k.bareMetalHost(NS, "dcoa-rb06u31")!;
      assertEquals(bmh.spec.online, false);
      assertEquals(bmh.spec.automatedCleaningMode, "disabled");
      assertEquals(bmh.spec.bmc, {
        address: `ipmi://${full.bmc_ip}`,
        credentialsName: "dcoa-rb06u31-bmc-secret",
      });
      assert(
        bmh.spec.bootMACAddress && bmh.spec.bootMACAddress !== "3c:ec:ef:a1:9c:e8",
        "boot MAC is not the BMC MAC",
      );
      assertEquals(bmh.metadata.labels?.["bare-metal-onboarding/rack"], "RB06");
      const applies = k.requests.filter((r) =>
        r.method === "PATCH" && r.contentType.includes("apply-patch")
      );
      assert(applies.every((r) => r.search.includes("fieldManager=bare-metal-onboarding")));
    },
  );

  await t.step("MAC + password + IP only: no Netbox, the given IP everywhere else", () => {
    assertEquals(minimal.status, "ok", minimal.error);
    assertEquals(minimal.steps, {
      netbox: "skipped",
      openbao: "done",
      kea: "done",
      metal3: "done",
    });
    assertEquals(minimal.bmc_ip, "10.16.28.40");
    assert(minimal.warnings.some((w: string) => w.includes("Netbox step skipped")));
    assertEquals(
      [...app.world.netbox.devices.values()].filter((d) => d.name === "dcoa-rb07u12").length,
      0,
    );
    assertEquals(
      app.world.kea[0].hosts.find((h) => h["hw-address"] === "3c:ec:ef:a1:9c:f0")?.["ip-address"],
      "10.16.28.40",
    );
    assertEquals(
      app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12")?.spec.bmc?.address,
      "ipmi://10.16.28.40",
    );
  });
});

Deno.test("POST /servers/import three times leaves one of every object per server", async () => {
  await using app = await startTestApp();
  for (let i = 0; i < 3; i++) {
    const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
    assertEquals(
      res.body.map((r: { status: string }) => r.status),
      ["ok", "ok"],
      JSON.stringify(res.body),
    );
  }
  assertEquals(objectCounts(app, FULL_ITEM), ONE_EACH);
  assertEquals(objectCounts(app, MINIMAL_ITEM), {
    ...ONE_EACH,
    devices: 0,
    interfaces: 0,
    ips: 0,
    macs: 0,
  });
  // Our registrations only: the list also shows the Netbox devices we did not register.
  const list = await app.call("GET", "/api/v1/servers?source=ours");
  assertEquals(list.body.items.length, 2);
});

Deno.test("POST /servers/import asks Netbox about each rack once per import, and every unit is checked", async () => {
  await using app = await startTestApp();
  const inRack = (i: number) => ({
    ...FULL_ITEM,
    device_name: `dcoa-rb07u${30 + i}`,
    bmc_mac: `3c:ec:ef:30:00:${String(i).padStart(2, "0")}`,
    rack: "RB07",
    position: 30 + i,
  });
  const items = [0, 1, 2, 3, 4, 5].map(inRack);
  // Unit 42 of 42 does not fit a 2U device; a rack that does not exist is named.
  items.push({ ...inRack(6), device_name: "dcoa-rb07u42", position: 42, device_type: "r750" });
  items.push({ ...inRack(7), device_name: "dcoa-rb99u1", rack: "RB99", position: 1 });
  app.world.netbox.requestLog.length = 0;
  const res = await app.call("POST", "/api/v1/servers/import", items);
  assertEquals(
    res.body.map((r: { status: string }) => r.status),
    ["ok", "ok", "ok", "ok", "ok", "ok", "failed", "failed"],
    JSON.stringify(res.body),
  );
  assert(/does not fit in RB07/.test(res.body[6].fields.position), JSON.stringify(res.body[6]));
  assert(/RB99/.test(res.body[7].error), res.body[7].error);
  const lookups = (path: string) =>
    app.world.netbox.requestLog.filter((l) => l.startsWith(`GET /api/dcim/${path}/`)).length;
  // One look-up per distinct reference set: RB07 with each device type, and RB99 (asked twice, as
  // a failed look-up is not kept).
  assert(lookups("sites") <= 4, `sites asked ${lookups("sites")} times`);
  assert(lookups("racks") <= 5, `racks asked ${lookups("racks")} times`);
});

Deno.test("POST /servers/import: an invalid item fails with field errors, the others succeed, in input order", async () => {
  await using app = await startTestApp();
  const bad = { device_name: "Bad_Name!", bmc_mac: "01:00:5e:00:00:01", bmc_password: "" };
  const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, bad, MINIMAL_ITEM]);
  assertEquals(res.status, 200);
  assertEquals(res.body.map((r: { index: number; status: string }) => [r.index, r.status]), [
    [0, "ok"],
    [1, "failed"],
    [2, "ok"],
  ]);
  assertEquals(Object.keys(res.body[1].fields).sort(), ["bmc_mac", "bmc_password", "device_name"]);
  assertEquals(res.body[1].steps, {
    netbox: "pending",
    openbao: "pending",
    kea: "pending",
    metal3: "pending",
  });
});

Deno.test("POST /servers/register validates, answers 202, and ?wait gives 201 with every step done", async (t) => {
  await using app = await startTestApp();
  const body = {
    bmc_mac: "3C-EC-EF-A1-9C-E9",
    bmc_password: "pw-register-1",
    site: "dcoa",
    location: "hall-a",
    rack: "RB06",
    position: 20,
    device_type: "sys-1029u",
    device_role: "server",
  };
  await t.step("bad input: 400 naming each field, nothing written", async () => {
    const res = await app.call("POST", "/api/v1/servers/register", {
      ...body,
      bmc_mac: "zz",
      position: 0,
      extra: 1,
    });
    assertEquals(res.status, 400);
    assertEquals(Object.keys(res.body.error.fields).sort(), ["bmc_mac", "extra", "position"]);
    assertEquals(app.world.netbox.devices.size, 4, "only the seeded devices");
    assertEquals(app.world.openbao.versions("bmc/dcoa-rb06u20").length, 0);
  });
  await t.step("unknown reference: 422 naming the field", async () => {
    const res = await app.call("POST", "/api/v1/servers/register", { ...body, rack: "RB99" });
    assertEquals(res.status, 422);
    assertEquals(Object.keys(res.body.error.fields), ["rack"]);
  });
  await t.step("a device that does not fit in the rack: 400 on position", async () => {
    const res = await app.call("POST", "/api/v1/servers/register", {
      ...body,
      position: 42,
      device_type: "r750",
    });
    assertEquals(res.status, 400);
    assert(res.body.error.fields.position.includes("does not fit"));
  });
  await t.step("occupied slot: 409 naming the device there", async () => {
    const res = await app.call("POST", "/api/v1/servers/register", { ...body, position: 41 });
    assertEquals(res.status, 409);
    assert(res.body.error.message.includes("dcoa-rb06u40"), res.body.error.message);
  });
  await t.step(
    "202 with id, generated name and links; ?wait=10 returns the finished registration",
    async () => {
      const res = await app.call("POST", "/api/v1/servers/register?wait=10", body);
      assertEquals(res.status, 201, res.text);
      assertEquals(res.body.device_name, "dcoa-rb06u20");
      assertEquals(res.body.registration.status, "ok");
      const again = await app.call("POST", "/api/v1/servers/register", body);
      assertEquals(again.status, 202);
      assertEquals(again.body.id, res.body.id, "same server again is the same registration");
    },
  );
  await t.step(
    "the MAC of that server is refused for another slot: 409 naming the owner",
    async () => {
      const res = await app.call("POST", "/api/v1/servers/register", { ...body, position: 22 });
      assertEquals(res.status, 409);
      assert(res.body.error.message.includes("dcoa-rb06u20"), res.body.error.message);
    },
  );
  await t.step("Idempotency-Key returns the first answer", async () => {
    const b2 = { ...body, bmc_mac: "3c:ec:ef:a1:9c:77", position: 24 };
    const a = await app.call("POST", "/api/v1/servers/register", b2, { "idempotency-key": "k-1" });
    const b = await app.call("POST", "/api/v1/servers/register", b2, { "idempotency-key": "k-1" });
    assertEquals([a.status, b.status, a.body.id], [202, 202, b.body.id]);
  });
});

Deno.test("20 concurrent registrations for one rack slot: exactly one device, the others 409", async () => {
  await using app = await startTestApp();
  const requests = Array.from(
    { length: 20 },
    (_, i) =>
      app.call("POST", "/api/v1/servers/register", {
        bmc_mac: `3c:ec:ef:10:00:${i.toString(16).padStart(2, "0")}`,
        bmc_password: `pw-race-${i}`,
        site: "dcoa",
        location: "hall-a",
        rack: "RB06",
        position: 10,
        device_type: "sys-1029u",
        device_role: "server",
      }),
  );
  const results = await Promise.all(requests);
  const statuses = results.map((r) => r.status).sort();
  assertEquals(
    statuses.filter((s) => s === 202).length,
    1,
    JSON.stringify(results.map((r) => r.body)),
  );
  assertEquals(statuses.filter((s) => s === 409).length, 19);
  const winner = results.find((r) => r.status === 202)!;
  await app.deps.engine.waitFor(winner.body.id, 10_000);
  const atU10 = [...app.world.netbox.devices.values()].filter((d) =>
    d.rack_id === 1 && d.position === 10
  );
  assertEquals(atU10.length, 1);
});

Deno.test("an injected failure fails only the affected servers; retry completes them without duplicates", async (t) => {
  const cases: { integration: string; fault: (app: TestApp) => void; step: string }[] = [
    {
      integration: "netbox 500",
      step: "netbox",
      fault: (a) =>
        a.world.netbox.faults.add({ match: "POST /api/dcim/interfaces/", status: 500, times: 10 }),
    },
    {
      integration: "netbox timeout",
      step: "netbox",
      fault: (a) =>
        a.world.netbox.faults.add({ match: "PATCH /api/dcim/devices/", delayMs: 1500, times: 3 }),
    },
    {
      integration: "openbao drop",
      step: "openbao",
      fault: (a) =>
        a.world.openbao.faults.add({ match: "/data/bmc/dcoa-rb06u31", drop: true, times: 10 }),
    },
    {
      integration: "kea 500",
      step: "kea",
      fault: (a) => a.world.kea[1].faults.add({ status: 500 }),
    },
    {
      integration: "kubernetes drop",
      step: "metal3",
      fault: (a) =>
        // The step's writes: pre-flight's read of the name is not what this case is about.
        a.world.kubernetes.faults.add({
          match: "PATCH /apis/metal3.io/v1alpha1/namespaces/metal3/baremetalhosts/dcoa-rb06u31",
          drop: true,
          times: 10,
        }),
    },
  ];
  for (const c of cases) {
    await t.step(c.integration, async () => {
      await using app = await startTestApp();
      // Faults apply to every server for netbox/kea/k8s, so import the affected one with an unaffected one that skips that path.
      c.fault(app);
      const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
      const [full, minimal] = res.body;
      assertEquals(full.status, "failed", JSON.stringify(full));
      assertEquals(full.steps[c.step], "failed");
      assert(/Retry|retry/.test(full.error), `actionable: ${full.error}`);
      assert(!/^(\w+): \1:/.test(full.error), `step named twice: ${full.error}`);
      if (c.step === "netbox") assertEquals(minimal.status, "ok", JSON.stringify(minimal));
      if (c.step === "openbao") {
        // No Metal3 Secret from a password OpenBao does not hold.
        assertEquals(full.steps.metal3, "failed");
        assertEquals(app.world.kubernetes.state.secret("metal3", "dcoa-rb06u31-bmc-secret"), null);
      }
      app.world.netbox.faults.clear();
      app.world.openbao.faults.clear();
      app.world.kea.forEach((k) => k.faults.clear());
      app.world.kubernetes.faults.clear();
      for (const r of res.body.filter((r: { status: string }) => r.status === "failed")) {
        const retry = await app.call("POST", `/api/v1/servers/${r.id}/retry`);
        assertEquals(retry.status, 202, retry.text);
        const done = await app.deps.engine.waitFor(r.id, 10_000);
        assertEquals(done.status, "ok", JSON.stringify(done.steps));
      }
      assertEquals(objectCounts(app, FULL_ITEM), ONE_EACH);
    });
  }
});

// SPEC §6.2 (relaxed 2026-12-06): within one run the BMC check may use the password from memory
// beside the OpenBao write; no Metal3 Secret is written before OpenBao holds the password.
Deno.test("the BMC check runs beside a slow OpenBao write; the Metal3 Secret waits for OpenBao", async () => {
  const at: { checked?: number; stored?: number; secret?: number } = {};
  await using app = await startTestApp({
    integrations: (_world, base) => ({
      ...base,
      openbao: {
        ...base.openbao!,
        putIfChanged: async (path, data) => {
          const stored = await base.openbao!.putIfChanged(path, data);
          at.stored = performance.now();
          return stored;
        },
      },
      redfish: {
        ...base.redfish!,
        checkBmc: (input) => {
          at.checked ??= performance.now();
          return base.redfish!.checkBmc(input);
        },
      },
      kubernetes: {
        ...base.kubernetes!,
        apply: (object, options) => {
          if (object.kind === "Secret") at.secret ??= performance.now();
          return base.kubernetes!.apply(object, options);
        },
      },
    }),
  });
  app.world.openbao.faults.add({ match: "POST /v1/secret/data/bmc/", delayMs: 300, times: 1 });
  const res = await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM]);
  assertEquals(res.body[0].status, "ok", res.text);
  assert(at.checked! < at.stored!, "the BMC was checked while OpenBao was still storing");
  assert(at.stored! < at.secret!, "the Secret was applied only once OpenBao held the password");
  assertEquals(
    app.world.kubernetes.state.secret(NS, "dcoa-rb07u12-bmc-secret")?.data?.password,
    btoa(MINIMAL_ITEM.bmc_password),
  );
});

// SPEC §6.2 (corrected 2026-12-06): only libvirt needs the boot MAC (the operator's NeedsMAC()),
// so this test, which asserted the block for the default ipmi driver, now runs with libvirt.
Deno.test("libvirt blocks Metal3 until the boot MAC is given, then retry completes", async () => {
  await using app = await startTestApp({
    env: { BMC_DRIVER: "libvirt" },
    world: { autoBmcs: false },
  });
  const res = await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM]);
  assertEquals(res.body[0].steps.metal3, "failed");
  const id = res.body[0].id;
  const rec = await app.call("GET", `/api/v1/servers/${id}`);
  assertEquals([rec.body.status, rec.body.steps.metal3.status], ["blocked", "blocked"]);
  assert(rec.body.steps.metal3.message.includes("libvirt driver needs the boot NIC MAC"));
  assert(
    rec.body.warnings.some((w: string) => w.startsWith("BMC check:")),
    "unreachable BMC is a warning",
  );
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12"), null);
  const bad = await app.call("POST", `/api/v1/servers/${id}/retry`, { boot_mac: "nope" });
  assertEquals([bad.status, Object.keys(bad.body.error.fields)], [400, ["boot_mac"]]);
  const retry = await app.call("POST", `/api/v1/servers/${id}/retry`, {
    boot_mac: "0c:c4:7a:00:00:01",
  });
  assertEquals(retry.status, 202);
  const done = await app.deps.engine.waitFor(id, 10_000);
  assertEquals(done.status, "ok");
  assertEquals(
    app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12")?.spec.bootMACAddress,
    "0c:c4:7a:00:00:01",
  );
});

Deno.test("without a boot MAC, ipmi and redfish hosts are created without bootMACAddress and end ok", async (t) => {
  const validate = await loadBareMetalHostValidator();
  for (const driver of ["ipmi", "redfish", "idrac-redfish"]) {
    await t.step(driver, async () => {
      // No BMC answers: nothing can be discovered, as for a bulk import made from Kea reservations.
      await using app = await startTestApp({
        env: { BMC_DRIVER: driver },
        world: { autoBmcs: false },
      });
      const items = [MINIMAL_ITEM, {
        ...MINIMAL_ITEM,
        device_name: "dcoa-rb07u13",
        bmc_mac: "3c:ec:ef:a1:9c:f1",
        bmc_ip: "10.16.28.41",
      }];
      const res = await app.call("POST", "/api/v1/servers/import", items);
      for (const [i, item] of items.entries()) {
        const r = res.body[i];
        assertEquals(r.status, "ok", r.error);
        assertEquals(r.steps.metal3, "done");
        assert(
          r.warnings.some((w: string) =>
            w.includes("without bootMACAddress") && w.includes("inspection") &&
            w.includes("boot_mac")
          ),
          JSON.stringify(r.warnings),
        );
        const bmh = app.world.kubernetes.state.bareMetalHost(NS, item.device_name)!;
        assert(bmh, "the BareMetalHost exists");
        assert(!("bootMACAddress" in bmh.spec), JSON.stringify(bmh.spec));
        assertEquals(validate(bmh), { causes: [], unknownFields: [] });
        assertEquals(bareMetalHostAdmission(bmh), null);
      }
    });
  }
});

Deno.test("DELETE /servers/{id} undoes everything in reverse order and frees the slot and MAC", async () => {
  await using app = await startTestApp();
  const [r] = (await app.call("POST", "/api/v1/servers/import", [FULL_ITEM])).body;
  assertEquals(r.status, "ok");
  app.world.kubernetes.setBareMetalHostStatus(NS, "dcoa-rb06u31", {
    provisioning: { state: "provisioned", ID: "x", image: { url: "" } },
    operationalStatus: "OK",
  } as never);
  // As the BareMetalHost watch would have recorded it.
  await app.deps.store.update(r.id, (x) => {
    x.provisioning = {
      state: "provisioned",
      operationalStatus: "OK",
      poweredOn: true,
      errorMessage: "",
      updatedAt: new Date().toISOString(),
    };
  });
  const refused = await app.call("DELETE", `/api/v1/servers/${r.id}`);
  assertEquals(refused.status, 409);
  assert(refused.body.error.message.includes("provisioned"));
  const del = await app.call("DELETE", `/api/v1/servers/${r.id}?force=true`);
  assertEquals(del.status, 200, del.text);
  assertEquals(del.body.status, "decommissioned");
  const gone = await app.call("GET", `/api/v1/servers/${r.id}`);
  assertEquals(gone.body.provisioning, undefined, "no provisioning state of a deleted host");
  assertEquals(objectCounts(app, FULL_ITEM), {
    ...ONE_EACH,
    devices: 0,
    interfaces: 0,
    macs: 0,
    ips: 0,
    reservations: [0, 0],
    secrets: 0,
    hosts: 0,
    secretVersions: 1,
  });
  assertEquals(app.world.openbao.latest("bmc/dcoa-rb06u31"), null, "secret soft-deleted");
  const again = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM]);
  assertEquals(again.body[0].status, "ok", "slot and MAC are free again");
  const audit = (await app.call("GET", `/api/v1/servers/${r.id}`)).body.audit.map((
    a: { action: string },
  ) => a.action);
  assert(audit.includes("decommission (force)"), JSON.stringify(audit));
});

Deno.test("the BMC password appears nowhere but OpenBao and the Metal3 Secret", async () => {
  await using app = await startTestApp();
  const passwords = [FULL_ITEM.bmc_password, MINIMAL_ITEM.bmc_password, "pw-register-secret"];
  const seen: string[] = [];
  const unsubscribe = app.deps.events.subscribe((e) => seen.push(JSON.stringify(e)));
  app.world.kea[0].faults.add({ status: 503, times: 2 });
  seen.push(
    (await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM, {
      ...MINIMAL_ITEM,
      device_name: "x",
      bmc_password: "pw-register-secret",
      bmc_mac: "zz",
    }])).text,
  );
  const reg = await app.call("POST", "/api/v1/servers/register?wait=5", {
    bmc_mac: "3c:ec:ef:a1:9c:99",
    bmc_password: "pw-register-secret",
    site: "dcoa",
    location: "hall-a",
    rack: "RB06",
    position: 5,
    device_type: "sys-1029u",
    device_role: "server",
  });
  seen.push(reg.text);
  for (const path of ["/api/v1/servers", `/api/v1/servers/${reg.body.id}`, "/metrics"]) {
    seen.push((await app.call("GET", path)).text);
  }
  unsubscribe();
  const haystacks = {
    logs: app.logs.join("\n"),
    responses: seen.join("\n"),
    kv: await dumpKv(app.deps.kv),
  };
  assert(haystacks.logs.length > 0 && haystacks.kv.length > 0);
  for (const [where, text] of Object.entries(haystacks)) {
    for (const p of passwords) assert(!text.includes(p), `password found in ${where}`);
  }
});

Deno.test("a technician's registration does not wait behind a bulk import", async () => {
  await using app = await startTestApp({ env: { IMPORT_CONCURRENCY: "1" } });
  // A slow Metal3 apply (pre-flight's read of the name stays fast).
  app.world.kubernetes.faults.add({
    match: "PATCH /apis/metal3.io/v1alpha1/namespaces/metal3/baremetalhosts/imp-",
    delayMs: 500,
  });
  const items = Array.from({ length: 8 }, (_, i) => ({
    device_name: `imp-${i}`,
    bmc_mac: `3c:ec:ef:30:00:0${i}`,
    bmc_password: `pw-imp-${i}`,
    bmc_ip: `10.16.28.${60 + i}`,
  }));
  const bulk = app.call("POST", "/api/v1/servers/import", items);
  await new Promise((r) => setTimeout(r, 200));
  const reg = await app.call("POST", "/api/v1/servers/register?wait=10", {
    bmc_mac: "3c:ec:ef:30:00:99",
    bmc_password: "pw-technician",
    site: "dcoa",
    location: "hall-a",
    rack: "RB06",
    position: 15,
    device_type: "sys-1029u",
    device_role: "server",
  });
  assertEquals(reg.status, 201, reg.text);
  const unfinished = (await app.deps.store.list({ limit: 50 })).items
    .filter((r) => r.source === "import" && r.status !== "ok");
  assert(unfinished.length > 0, "the import was still running");
  const results = (await bulk).body;
  assert(results.every((r: { status: string }) => r.status === "ok"));
});

Deno.test("the Redfish check's boot NIC: discovered is shown as such, ambiguous is left to a person", async (t) => {
  await t.step("discovered: on the host, reported as discovered, never as boot_mac", async () => {
    await using app = await startTestApp({ world: { autoBmcs: false } });
    app.world.bmcs.add(
      "10.16.28.40",
      createFakeRedfish({
        username: "ADMIN",
        password: MINIMAL_ITEM.bmc_password,
        vendor: "Dell",
        nicMacs: ["b0:83:fe:00:00:01", "b0:83:fe:00:00:02"],
        listOrder: [1, 0],
      }),
    );
    const [r] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
    assertEquals(r.status, "ok", r.error);
    const rec = (await app.call("GET", `/api/v1/servers/${r.id}`)).body;
    assertEquals(rec.boot_mac, undefined);
    assertEquals(rec.bmc.bootMac, "b0:83:fe:00:00:01");
    assert(
      rec.warnings.some((w: string) => w.startsWith("Boot MAC b0:83:fe:00:00:01 was discovered")),
    );
    assertEquals(
      app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12")?.spec.bootMACAddress,
      "b0:83:fe:00:00:01",
    );
  });

  await t.step(
    "ambiguous: no bootMACAddress, the NICs listed; Retry with one sets it",
    async () => {
      await using app = await startTestApp({ world: { autoBmcs: false } });
      app.world.bmcs.add(
        "10.16.28.40",
        createFakeRedfish({
          username: "ADMIN",
          password: MINIMAL_ITEM.bmc_password,
          nics: [{ mac: "0c:c4:7a:00:00:11", link: "LinkUp" }, { mac: "0c:c4:7a:00:00:12" }],
          bootOrder: [{ kind: "disk" }],
        }),
      );
      const [r] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
      assertEquals(r.status, "ok", r.error);
      const rec = (await app.call("GET", `/api/v1/servers/${r.id}`)).body;
      assertEquals(rec.bmc.bootMac, "");
      assertEquals(rec.bmc.nics, [
        { id: "1", mac: "0c:c4:7a:00:00:11", link: "LinkUp" },
        { id: "2", mac: "0c:c4:7a:00:00:12", link: "NoLink" },
      ]);
      assert(
        rec.warnings.some((w: string) => w.includes("does not say which of its 2 NICs boots")),
      );
      const host = () => app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12")!;
      assert(!("bootMACAddress" in host().spec));
      const retry = await app.call("POST", `/api/v1/servers/${r.id}/retry`, {
        boot_mac: "0C-C4-7A-00-00-12",
      });
      assertEquals(retry.status, 202, retry.text);
      const done = await app.deps.engine.waitFor(r.id, 10_000);
      assertEquals(done.status, "ok");
      assertEquals(host().spec.bootMACAddress, "0c:c4:7a:00:00:12");
      // The earlier run's boot-MAC warnings are gone; the Netbox one stays.
      assertEquals(done.warnings.map((w) => w.split(":")[0]), ["Netbox step skipped"]);
    },
  );
});

Deno.test("a BMC with several systems blocks Metal3 until the operator picks one (bmc_system)", async () => {
  await using app = await startTestApp({
    env: { BMC_DRIVER: "redfish" },
    world: { autoBmcs: false },
  });
  const chassis = createFakeRedfish({
    username: "ADMIN",
    password: MINIMAL_ITEM.bmc_password,
    vendor: "HPE",
    systemIds: ["Node0", "Node1"],
  });
  app.world.bmcs.add("10.16.28.40", chassis);
  const [r] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
  const rec = (await app.call("GET", `/api/v1/servers/${r.id}`)).body;
  assertEquals([rec.status, rec.steps.metal3.status], ["blocked", "blocked"]);
  assert(rec.steps.metal3.message.includes("manages 2 systems (Node0, Node1)"));
  assertEquals(rec.bmc.systems.map((s: { id: string }) => s.id), ["Node0", "Node1"]);
  assertEquals(app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12"), null);

  const bad = await app.call("POST", `/api/v1/servers/${r.id}/retry`, { bmc_system: "../x" });
  assertEquals([bad.status, Object.keys(bad.body.error.fields)], [400, ["bmc_system"]]);
  const retry = await app.call("POST", `/api/v1/servers/${r.id}/retry`, { bmc_system: "Node1" });
  assertEquals(retry.status, 202, retry.text);
  const done = await app.deps.engine.waitFor(r.id, 10_000);
  assertEquals(done.status, "ok", done.error);
  const bmh = app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u12")!;
  assertEquals(bmh.spec.bmc?.address, "redfish://10.16.28.40/redfish/v1/Systems/Node1");
  assertEquals(
    bmh.spec.bootMACAddress,
    chassis.macsBySystem.get("/redfish/v1/Systems/Node1")![0],
  );

  // An import item may name the system from the start.
  const item = {
    ...MINIMAL_ITEM,
    device_name: "dcoa-rb07u13",
    bmc_mac: "3c:ec:ef:a1:9c:f1",
    bmc_ip: "10.16.28.41",
    bmc_system: "/redfish/v1/Systems/Node0",
  };
  app.world.bmcs.add("10.16.28.41", chassis);
  const [second] = (await app.call("POST", "/api/v1/servers/import", [item])).body;
  assertEquals(second.status, "ok", second.error);
  assertEquals(
    app.world.kubernetes.state.bareMetalHost(NS, "dcoa-rb07u13")?.spec.bmc?.address,
    "redfish://10.16.28.41/redfish/v1/Systems/Node0",
  );
});
