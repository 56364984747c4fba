/**
 * Input the import and register APIs must take as the original system's files write it, and input
 * they must refuse before anything is written or any BMC is contacted (BMC networks, positions,
 * Netbox field sets, boot MAC, field names that are `Object.prototype` members).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

const ORIGINAL_EXAMPLE = await Deno.readTextFile(
  new URL("./testdata/original/import-example.json", import.meta.url),
);

const REGISTER = {
  bmc_mac: "3C-EC-EF-A1-9C-E9",
  bmc_password: "pw-register-1",
  site: "dcoa",
  location: "hall-a",
  rack: "RB06",
  position: 20,
  device_type: "sys-1029u",
  device_role: "server",
};

/** The site, row, rack, type and role the original documentation's example names. */
function addOriginalRack(t: TestApp): void {
  const nb = t.world.netbox;
  const site = [...nb.sites.values()].find((s) => s.slug === "dcoa")!;
  const location = nb.addLocation({ name: "Row A07", slug: "ra07", siteId: site.id });
  nb.addRack({ name: "RA07", siteId: site.id, locationId: location.id, uHeight: 48 });
  nb.addDeviceType({ model: "1U Supermicro", slug: "supermicro-1u", manufacturer: "Supermicro" });
  nb.addRole({ name: "K8s worker", slug: "k8s-worker" });
}

/** Everything a registration could have written anywhere, and every BMC contacted. */
function footprint(t: TestApp) {
  const w = t.world;
  return {
    devices: w.netbox.devices.size,
    ips: w.netbox.ipAddresses.size,
    secrets: w.openbao.versions("bmc/dcoa-rb07u12").length,
    reservations: w.kea.map((k) => k.hosts.length),
    hosts: w.kubernetes.state.bareMetalHosts("metal3").length,
    bmcsContacted: w.bmcs.bmcs.size,
  };
}

async function importOne(t: TestApp, item: unknown) {
  const res = await t.call("POST", "/api/v1/servers/import", [item]);
  assertEquals(res.status, 200, res.text);
  return res.body[0];
}

Deno.test("the original system's import example imports verbatim and ends ok", async () => {
  await using t = await startTestApp();
  addOriginalRack(t);
  const res = await t.call("POST", "/api/v1/servers/import", ORIGINAL_EXAMPLE);
  assertEquals(res.status, 200, res.text);
  const [result] = res.body;
  assertEquals([result.status, result.error], ["ok", undefined]);
  assertEquals(result.steps, { netbox: "done", openbao: "done", kea: "done", metal3: "done" });
  assertEquals(result.bmc_ip, "10.16.28.78");
  const device = [...t.world.netbox.devices.values()].find((d) => d.name === "dcoa-ra07u45")!;
  assertEquals([device.position, device.tenant_id], [45, null], "no tenant: not given");
});

Deno.test("an empty string or null in an optional field means not given", async (t) => {
  await using app = await startTestApp();
  await t.step("register", async () => {
    const res = await app.call("POST", "/api/v1/servers/register?wait=10", {
      ...REGISTER,
      tenant: "",
      bmc_prefix: null,
      bmc_username: " ",
      boot_mac: "",
    });
    assertEquals(res.status, 201, res.text);
    assertEquals(res.body.registration.status, "ok");
  });
  await t.step("import", async () => {
    const result = await importOne(app, { ...MINIMAL_ITEM, tenant: null, boot_mac: "", site: "" });
    assertEquals([result.status, result.error], ["ok", undefined]);
  });
});

Deno.test("unknown keys: an import item warns naming them, register refuses naming them", async (t) => {
  await using app = await startTestApp();
  await t.step("import: ok, with a warning naming the extra columns", async () => {
    const item = JSON.parse(
      JSON.stringify(MINIMAL_ITEM).replace(
        /}$/,
        ',"rack_label":"A7","constructor":"x","__proto__":"y","toString":"z"}',
      ),
    );
    const result = await importOne(app, item);
    assertEquals(result.status, "ok", result.error);
    assertEquals(
      result.warnings[0],
      "Unknown fields ignored: rack_label, constructor, __proto__, toString",
    );
  });
  await t.step("register: 400 naming each, even Object.prototype member names", async () => {
    const res = await app.call(
      "POST",
      "/api/v1/servers/register",
      JSON.stringify(REGISTER).replace(/}$/, ',"constructor":1,"__proto__":{},"toString":"x"}'),
    );
    assertEquals(res.status, 400, res.text);
    // Compared as entries: `__proto__` in an object literal would set the prototype.
    assertEquals(Object.entries(res.body.error.fields), [
      ["constructor", "Unknown field"],
      ["__proto__", "Unknown field"],
      ["toString", "Unknown field"],
    ]);
    assertEquals(app.world.netbox.devices.size, 4, "only the seeded devices");
  });
});

Deno.test("full Netbox fields without any BMC IP source: device registered, IP steps skipped with a warning", async () => {
  await using t = await startTestApp({ env: { BMC_PREFIX: "" } });
  const { bmc_prefix: _, ...item } = FULL_ITEM;
  const result = await importOne(t, item);
  assertEquals([result.status, result.error], ["ok", undefined]);
  assertEquals(result.steps, {
    netbox: "done",
    openbao: "done",
    kea: "skipped",
    metal3: "skipped",
  });
  assert(
    result.warnings.some((w: string) =>
      w.includes("bmc_ip") && w.includes("bmc_prefix") && w.includes("ONBOARDING_BMC_PREFIX")
    ),
    JSON.stringify(result.warnings),
  );
  const nb = t.world.netbox;
  const device = [...nb.devices.values()].find((d) => d.name === FULL_ITEM.device_name)!;
  const iface = [...nb.interfaces.values()].find((i) => i.device_id === device.id);
  assertEquals(iface?.name, "bmc");
  assertEquals(device.oob_ip_id, null);
  assertEquals(t.world.kubernetes.state.bareMetalHosts("metal3").length, 0);
});

Deno.test("the tenant is set on the BMC IP address too", async (t) => {
  await using app = await startTestApp();
  const tenantId = [...app.world.netbox.tenants.values()].find((x) => x.slug === "platform")!.id;
  for (
    const [label, item] of [
      ["allocated from the prefix", { ...FULL_ITEM, tenant: "platform" }],
      ["given as bmc_ip", {
        ...FULL_ITEM,
        device_name: "dcoa-rb06u32",
        bmc_mac: "3c:ec:ef:a1:9c:32",
        position: 32,
        bmc_ip: "10.16.28.232",
        tenant: "platform",
      }],
    ] as const
  ) {
    await t.step(label, async () => {
      const result = await importOne(app, item);
      assertEquals(result.status, "ok", result.error);
      const ip = [...app.world.netbox.ipAddresses.values()].find((x) =>
        x.address.startsWith(`${result.bmc_ip}/`)
      )!;
      assertEquals(ip.tenant_id, tenantId);
    });
  }
});

Deno.test("a BMC IP outside the BMC networks, or unusable, is refused before anything is written or contacted", async (t) => {
  await using app = await startTestApp();
  const before = footprint(app);
  for (
    const ip of [
      "127.0.0.1",
      "192.168.77.7",
      "224.0.0.5",
      "255.255.255.255",
      "0.0.0.0",
      "10.16.28.0",
      "10.16.28.255",
    ]
  ) {
    await t.step(ip, async () => {
      const result = await importOne(app, { ...MINIMAL_ITEM, bmc_ip: ip });
      assertEquals(result.status, "failed");
      assert(result.fields.bmc_ip.includes(ip), result.fields.bmc_ip);
      assert(result.fields.bmc_ip.includes("10.16.28.0/24"), result.fields.bmc_ip);
      assertEquals(footprint(app), before);
    });
  }
  await t.step("with Netbox fields: no device and no IP in Netbox either", async () => {
    const { bmc_prefix: _, ...item } = FULL_ITEM;
    const result = await importOne(app, { ...item, bmc_ip: "192.168.77.7" });
    assertEquals(result.status, "failed");
    assertEquals(result.fields.bmc_ip, "192.168.77.7 is outside the BMC networks (10.16.28.0/24)");
    assertEquals(footprint(app), before);
  });
  await t.step("a Netbox prefix (by id) outside them: refused naming bmc_prefix", async () => {
    const prefix = app.world.netbox.addPrefix({ prefix: "192.168.77.0/24" });
    const result = await importOne(app, { ...FULL_ITEM, bmc_prefix: prefix.id });
    assertEquals(result.status, "failed");
    assert(result.fields.bmc_prefix.includes("192.168.77.0/24"), result.fields.bmc_prefix);
    assert(result.fields.bmc_prefix.includes("10.16.28.0/24"), result.fields.bmc_prefix);
    assertEquals(footprint(app), before);
  });
});

Deno.test("ONBOARDING_BMC_NETWORKS decides which BMC IPs are allowed", async (t) => {
  await t.step("a second network is allowed; the default prefix still applies", async () => {
    await using app = await startTestApp({
      env: { BMC_NETWORKS: "10.16.28.0/24, 172.16.0.0/22" },
    });
    const ok = await importOne(app, {
      ...MINIMAL_ITEM,
      bmc_ip: "172.16.0.50",
      bmc_prefix: "172.16.0.0/22",
    });
    assertEquals(ok.status, "ok", ok.error);
    const refused = await importOne(app, {
      ...MINIMAL_ITEM,
      device_name: "dcoa-rb07u13",
      bmc_mac: "3c:ec:ef:a1:9c:13",
      bmc_ip: "172.16.0.51",
    });
    assertEquals(refused.status, "failed");
    assert(refused.fields.bmc_ip.includes("10.16.28.0/24"), refused.fields.bmc_ip);
  });
  await t.step("none configured: every BMC IP is refused, saying what to set", async () => {
    await using app = await startTestApp({ env: { BMC_PREFIX: "" } });
    const before = footprint(app);
    const result = await importOne(app, MINIMAL_ITEM);
    assertEquals(result.status, "failed");
    assert(result.fields.bmc_ip.includes("ONBOARDING_BMC_NETWORKS"), result.fields.bmc_ip);
    assertEquals(footprint(app), before);
  });
});

Deno.test("rack positions: a JSON integer or a string of digits, within the rack", async (t) => {
  await using app = await startTestApp();
  for (const position of [true, [40], "0x27", "", 0, 1.5, "4 0", 1e3]) {
    await t.step(`register refuses ${JSON.stringify(position)}`, async () => {
      const res = await app.call("POST", "/api/v1/servers/register", { ...REGISTER, position });
      assertEquals(res.status, 400, res.text);
      assertEquals(Object.keys(res.body.error.fields), ["position"]);
    });
  }
  await t.step("import refuses true, nothing written", async () => {
    const before = footprint(app);
    const result = await importOne(app, { ...FULL_ITEM, position: true });
    assertEquals([result.status, Object.keys(result.fields)], ["failed", ["position"]]);
    assertEquals(footprint(app), before);
  });
  await t.step("beyond the rack's height: refused naming position", async () => {
    const res = await app.call("POST", "/api/v1/servers/register", { ...REGISTER, position: 43 });
    assertEquals(res.status, 400, res.text);
    assert(res.body.error.fields.position.includes("42U"), res.body.error.fields.position);
  });
  await t.step('"20" is U20', async () => {
    const res = await app.call("POST", "/api/v1/servers/register?wait=10", {
      ...REGISTER,
      position: "20",
    });
    assertEquals(res.status, 201, res.text);
    assertEquals(res.body.device_name, "dcoa-rb06u20");
  });
});

Deno.test("some but not all Netbox fields: the item fails naming the missing ones", async () => {
  await using app = await startTestApp();
  const before = footprint(app);
  const { location: _l, device_role: _r, ...partial } = FULL_ITEM;
  const result = await importOne(app, { ...partial, bmc_ip: "10.16.28.40", locaton: "hall-a" });
  assertEquals(result.status, "failed");
  assertEquals(Object.keys(result.fields).sort(), ["device_role", "location"]);
  assert(result.warnings[0].includes("locaton"), "the typo is named too");
  assertEquals(footprint(app), before);
});

Deno.test("boot_mac equal to bmc_mac is refused", async (t) => {
  await using app = await startTestApp();
  await t.step("register: 400 on boot_mac", async () => {
    const res = await app.call("POST", "/api/v1/servers/register", {
      ...REGISTER,
      boot_mac: "3c:ec:ef:a1:9c:e9",
    });
    assertEquals(res.status, 400, res.text);
    assertEquals(Object.keys(res.body.error.fields), ["boot_mac"]);
  });
  await t.step("retry: 400 on boot_mac", async () => {
    const [done] = (await app.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM])).body;
    const res = await app.call("POST", `/api/v1/servers/${done.id}/retry`, {
      boot_mac: MINIMAL_ITEM.bmc_mac,
    });
    assertEquals(res.status, 400, res.text);
    assertEquals(Object.keys(res.body.error.fields), ["boot_mac"]);
  });
  await t.step("import: failed on boot_mac, nothing written", async () => {
    const before = footprint(app);
    const result = await importOne(app, { ...MINIMAL_ITEM, boot_mac: "3C:EC:EF:A1:9C:F0" });
    assertEquals([result.status, Object.keys(result.fields)], ["failed", ["boot_mac"]]);
    assertEquals(footprint(app), before);
  });
});
