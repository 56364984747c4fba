/**
 * The Servers list as an inventory (GET /api/v1/servers): our registrations merged with the Netbox
 * devices of the configured roles and sites, filters from the data, one cursor over both, and the
 * Netbox simulator's device filters it relies on.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { bareMetalHost } from "../lib/domain/metal3.ts";
import { FULL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const names = (body: Json) => body.items.map((r: Json) => r.device_name);

/** Ids of the sample Netbox objects (tests/app_harness.ts seeds the world's Netbox). */
function seedIds(t: TestApp) {
  const nb = t.world.netbox;
  const id = (table: Map<number, { slug?: string; name?: string }>, key: string) =>
    [...table.values()].find((o) => o.slug === key || o.name === key) as { id: number };
  return {
    siteId: id(nb.sites, "dcoa").id,
    rackIds: { RB06: id(nb.racks, "RB06").id, RB07: id(nb.racks, "RB07").id },
    roleIds: { server: id(nb.roles, "server").id, storage: id(nb.roles, "storage").id },
    deviceTypeIds: {
      "sys-1029u": id(nb.deviceTypes, "sys-1029u").id,
      r750: id(nb.deviceTypes, "r750").id,
    },
  };
}

/** Gives a seeded Netbox device a BMC interface with an IP and makes that its OOB IP. */
function giveOobIp(t: TestApp, deviceName: string, address: string): void {
  const nb = t.world.netbox;
  const device = [...nb.devices.values()].find((d) => d.name === deviceName)!;
  const iface = nb.addInterface({ deviceId: device.id, name: "bmc", mgmtOnly: true });
  device.oob_ip_id = nb.addIp({ address, interfaceId: iface.id }).id;
}

Deno.test("GET /servers shows Netbox devices we did not register beside our registrations", async (t) => {
  await using app = await startTestApp({ world: { provisioningStepMs: 5 } });
  giveOobIp(app, "dcoa-rb06u3", "10.16.28.203/24");
  // A BareMetalHost someone else created for a device we never registered.
  await app.deps.integrations.kubernetes!.apply(bareMetalHost({
    name: "dcoa-rb06u3",
    namespace: app.config.METAL3_NAMESPACE,
    bmcAddress: "ipmi://10.16.28.203",
    credentialsName: "dcoa-rb06u3-bmc",
    labels: {},
  }));
  const reg = await app.call("POST", "/api/v1/servers/register?wait=30", {
    ...FULL_ITEM,
    device_name: undefined,
  });
  assertEquals(reg.status, 201, JSON.stringify(reg.body));
  // The operator simulator takes the host into registering (it has no credentials Secret).
  const kubernetes = app.deps.integrations.kubernetes!;
  const hostState = async () =>
    (await kubernetes.getBareMetalHost(app.config.METAL3_NAMESPACE, "dcoa-rb06u3"))?.status
      ?.provisioning?.state ?? "";
  const deadline = Date.now() + 5000;
  while (!await hostState() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const list = (await app.call("GET", "/api/v1/servers")).body;
  const state = await hostState();
  assert(state, "the operator simulator gave the host a state");

  await t.step("ours first, then the seeded Netbox devices by name", () => {
    assertEquals(names(list), [
      "dcoa-rb06u31",
      "dcoa-rb06u1",
      "dcoa-rb06u3",
      "dcoa-rb06u40",
      "dcoa-rb07u20",
    ]);
    assertEquals(list.items.map((r: Json) => r.origin), [
      "ours",
      "netbox",
      "netbox",
      "netbox",
      "netbox",
    ]);
  });
  await t.step("a registration shows where it is and what it is", () => {
    const ours = list.items[0];
    assertEquals(ours.id, reg.body.id);
    assertEquals(ours.status, "ok");
    assertEquals(
      [ours.netbox.site.slug, ours.netbox.rack.name, ours.netbox.position, ours.netbox.role.name],
      ["dcoa", "RB06", 31, "Server"],
    );
  });
  await t.step(
    "a Netbox-only device shows its status, BMC IP and the BareMetalHost's state",
    () => {
      const d = list.items.find((r: Json) => r.device_name === "dcoa-rb06u3");
      assertEquals([d.id, d.status, d.bmc_ip], [null, "active", "10.16.28.203"]);
      assertEquals(d.provisioning.state, state);
      assertEquals([d.netbox.rack.name, d.netbox.position, d.netbox.device_type.name], [
        "RB06",
        3,
        "SYS-1029U-TRT",
      ]);
      const without = list.items.find((r: Json) => r.device_name === "dcoa-rb06u1");
      assertEquals([without.bmc_ip, without.provisioning], [undefined, undefined]);
    },
  );
  await t.step(
    "source=ours lists only registrations, source=netbox all of Netbox's devices",
    async () => {
      assertEquals(names((await app.call("GET", "/api/v1/servers?source=ours")).body), [
        "dcoa-rb06u31",
      ]);
      const netbox = (await app.call("GET", "/api/v1/servers?source=netbox")).body;
      assertEquals(names(netbox), [
        "dcoa-rb06u1",
        "dcoa-rb06u3",
        "dcoa-rb06u31",
        "dcoa-rb06u40",
        "dcoa-rb07u20",
      ]);
      // The device we registered links to its registration.
      assertEquals(netbox.items[2].id, reg.body.id);
      const bad = await app.call("GET", "/api/v1/servers?source=kea");
      assertEquals([bad.status, Object.keys(bad.body.error.fields)], [400, ["source"]]);
    },
  );
});

Deno.test("GET /servers filters by site, location, rack, type, role and status, given as id, slug or name", async (t) => {
  await using app = await startTestApp();
  const ids = seedIds(app);
  const reg = await app.call("POST", "/api/v1/servers/register?wait=30", {
    ...FULL_ITEM,
    device_name: undefined,
    device_role: "storage",
  });
  assertEquals(reg.status, 201, JSON.stringify(reg.body));
  const list = async (query: string) =>
    names((await app.call("GET", `/api/v1/servers?${query}`)).body);

  await t.step("role by slug, id or name", async () => {
    const storage = ["dcoa-rb06u31", "dcoa-rb06u1", "dcoa-rb07u20"];
    assertEquals(await list("role=storage"), storage);
    assertEquals(await list(`role=${ids.roleIds.storage}`), storage);
    assertEquals(await list("role=Storage"), storage);
  });
  await t.step("rack, location, site and device type", async () => {
    assertEquals(await list(`rack=${ids.rackIds.RB07}`), ["dcoa-rb07u20"]);
    assertEquals(await list("rack=RB06&device_type=r750"), ["dcoa-rb06u1", "dcoa-rb06u40"]);
    assertEquals((await list("location=hall-a&site=DCOA")).length, 5);
    assertEquals(await list(`site=${ids.siteId}&device_type=${ids.deviceTypeIds["sys-1029u"]}`), [
      "dcoa-rb06u31",
      "dcoa-rb06u3",
    ]);
    assertEquals(await list("site=nowhere"), []);
  });
  await t.step("decommissioned servers are hidden unless the status filter asks", async () => {
    const gone = [...app.world.netbox.devices.values()].find((d) => d.name === "dcoa-rb06u40")!;
    gone.status = "decommissioning";
    const del = await app.call("DELETE", `/api/v1/servers/${reg.body.id}?force=true`);
    assertEquals(del.status, 200, JSON.stringify(del.body));
    // The inventory is cached for the reference TTL: this app reads it afresh.
    await app.deps.kv.delete(["reference_cache", "inventory::"]);
    const shown = await list("");
    assert(!shown.includes("dcoa-rb06u31") && !shown.includes("dcoa-rb06u40"), String(shown));
    assertEquals(await list("status=decommissioned"), ["dcoa-rb06u31"]);
    assertEquals(await list("status=decommissioning"), ["dcoa-rb06u40"]);
    assertEquals(await list("status=active&role=server"), ["dcoa-rb06u3"]);
  });
  await t.step("the filters' choices come from the data", async () => {
    const f = (await app.call("GET", "/api/v1/servers/filters")).body;
    assertEquals(f.site, [{ value: "dcoa", label: "DCOA" }]);
    assertEquals(f.role.map((o: Json) => o.value), ["server", "storage"]);
    assertEquals(f.rack.map((o: Json) => o.label), ["RB06", "RB07"]);
    assert(f.status.some((o: Json) => o.value === "decommissioned"), JSON.stringify(f.status));
    assert(f.status.some((o: Json) => o.value === "active"), JSON.stringify(f.status));
    // Each list narrowed by the other filters: only RB07's type when RB07 is chosen.
    const rb07 = (await app.call("GET", `/api/v1/servers/filters?rack=${ids.rackIds.RB07}`)).body;
    assertEquals(rb07.device_type.map((o: Json) => o.label), ["PowerEdge R750"]);
    assertEquals(rb07.rack.map((o: Json) => o.label), ["RB06", "RB07"]);
  });
});

Deno.test("GET /servers pages through registrations and thousands of Netbox devices with one cursor", async (t) => {
  await using app = await startTestApp({ env: { INVENTORY_ROLES: "server" } });
  const nb = app.world.netbox;
  const ids = seedIds(app);
  const site = nb.addSite({ name: "DCOB", slug: "dcob" });
  for (let r = 0; r < 60; r++) {
    const rack = nb.addRack({ name: `R${r}`, siteId: site.id, uHeight: 48 });
    for (let u = 1; u <= 40; u++) {
      nb.addDevice({
        name: `dcob-r${r}u${u}`,
        siteId: site.id,
        rackId: rack.id,
        position: u,
        face: "front",
        deviceTypeId: ids.deviceTypeIds["sys-1029u"],
        roleId: u % 10 ? ids.roleIds.server : ids.roleIds.storage,
      });
    }
  }
  for (const u of [31, 32, 33]) {
    const reg = await app.call("POST", "/api/v1/servers/register?wait=30", {
      ...FULL_ITEM,
      device_name: undefined,
      bmc_mac: `3c:ec:ef:a1:9d:${u}`,
      position: u,
    });
    assertEquals(reg.status, 201, JSON.stringify(reg.body));
  }
  const servers = 2400 * 9 / 10 + 2; // DCOB's servers, and dcoa-rb06u3 and u40

  let first = 0;
  await t.step(
    "the first page reads Netbox in pages of 1000 with the configured role",
    async () => {
      nb.requestLog.length = 0;
      const started = performance.now();
      const page = await app.call("GET", "/api/v1/servers?limit=50");
      first = performance.now() - started;
      assertEquals(page.status, 200);
      assertEquals(page.body.items.length, 50);
      const lists = nb.requestLog.filter((l) => l.startsWith("GET /api/dcim/devices/"));
      assert(lists.every((l) => /[?&]role=server(&|$)/.test(l) && /limit=1000/.test(l)), lists[0]);
      // Our three rows' own devices by name, before the inventory is stored; then the inventory,
      // which the Netbox rows after them need: 2162 devices, offsets 0, 1000, 2000.
      const named = lists.filter((l) => /[?&]name=/.test(l));
      assertEquals(named.length, 1, lists.join("\n"));
      assert(named[0].includes("name=dcoa-rb06u33"), named[0]);
      assertEquals(lists.length - named.length, 3, lists.join("\n"));
      assert(lists.some((l) => /offset=2000/.test(l)), lists.join("\n"));
    },
  );

  await t.step("every row once, in order, following the cursor; Netbox asked no more", async () => {
    nb.requestLog.length = 0;
    const seen: string[] = [];
    let cursor: string | null = null;
    const started = performance.now();
    let pages = 0;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = await app.call("GET", `/api/v1/servers?limit=200${q}`);
      assertEquals(page.status, 200, JSON.stringify(page.body));
      seen.push(...names(page.body));
      cursor = page.body.cursor;
      pages++;
    } while (cursor && pages < 100);
    const perPage = (performance.now() - started) / pages;
    console.log(
      `inventory of ${seen.length} rows: first page ${first.toFixed(0)} ms (Netbox read), ` +
        `then ${perPage.toFixed(1)} ms per page of 200 (cached)`,
    );
    assertEquals(seen.length, 3 + servers);
    assertEquals(new Set(seen).size, seen.length, "no row twice");
    assertEquals(seen.slice(0, 3), ["dcoa-rb06u33", "dcoa-rb06u32", "dcoa-rb06u31"]);
    const rest = seen.slice(3);
    assertEquals(rest, [...rest].sort((a, b) => a.localeCompare(b)));
    assert(!seen.includes("dcob-r0u10"), "storage devices are not in the configured roles");
    assertEquals(nb.requestLog.filter((l) => l.includes("/dcim/devices/")), []);
    assert(perPage < 500, `a cached page took ${perPage} ms`);
  });

  await t.step("a page that ends with the last registration continues with Netbox", async () => {
    const one = await app.call("GET", "/api/v1/servers?limit=3");
    assertEquals(names(one.body), ["dcoa-rb06u33", "dcoa-rb06u32", "dcoa-rb06u31"]);
    const two = await app.call("GET", `/api/v1/servers?limit=2&cursor=${one.body.cursor}`);
    assertEquals(names(two.body), ["dcoa-rb06u3", "dcoa-rb06u40"]);
  });

  await t.step("a filtered list pages the same way", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = await app.call("GET", `/api/v1/servers?limit=7&rack=R5&q=u1${q}`);
      seen.push(...names(page.body));
      cursor = page.body.cursor;
    } while (cursor);
    assertEquals(seen, [
      "dcob-r5u1",
      "dcob-r5u11",
      "dcob-r5u12",
      "dcob-r5u13",
      "dcob-r5u14",
      "dcob-r5u15",
      "dcob-r5u16",
      "dcob-r5u17",
      "dcob-r5u18",
      "dcob-r5u19",
    ]);
  });

  await t.step("a cursor that did not come from the list is a 400", async () => {
    const bad = await app.call("GET", "/api/v1/servers?cursor=bm9wZQ");
    assertEquals([bad.status, Object.keys(bad.body.error.fields)], [400, ["cursor"]]);
  });
});

Deno.test("GET /servers serves the stored inventory past its TTL and reloads it behind the request", async (t) => {
  await using app = await startTestApp({ env: { REFERENCE_TTL: "1" } });
  const nb = app.world.netbox;
  const ids = seedIds(app);
  const lists = () => nb.requestLog.filter((l) => l.startsWith("GET /api/dcim/devices/"));
  const page = async () => names((await app.call("GET", "/api/v1/servers?source=netbox")).body);
  const before = await page();
  assert(before.includes("dcoa-rb06u3"), String(before));
  nb.addDevice({
    name: "dcoa-rb07u30",
    siteId: ids.siteId,
    rackId: ids.rackIds.RB07,
    position: 30,
    face: "front",
    deviceTypeId: ids.deviceTypeIds["sys-1029u"],
    roleId: ids.roleIds.server,
  });
  await new Promise((r) => setTimeout(r, 1100));
  await t.step("a stale inventory answers at once; Netbox is read behind it", async () => {
    // A Netbox this slow would hold every request past the TTL if the request waited for it.
    nb.faults.add({ match: "GET /api/dcim/devices/", delayMs: 400 });
    nb.requestLog.length = 0;
    const started = performance.now();
    assertEquals(await page(), before);
    const ms = performance.now() - started;
    assert(ms < 300, `the stale page took ${ms.toFixed(0)} ms`);
    // Concurrent pages do not start a second reload.
    await Promise.all([page(), page()]);
    await new Promise((r) => setTimeout(r, 600));
    assertEquals(lists().length, 1, lists().join("\n"));
  });
  await t.step("the next page shows the reloaded inventory", async () => {
    assert((await page()).includes("dcoa-rb07u30"));
  });
});

Deno.test("GET /servers: with no inventory stored, the first page of our registrations asks Netbox for its own devices only", async () => {
  await using app = await startTestApp();
  const nb = app.world.netbox;
  const ids = seedIds(app);
  const site = nb.addSite({ name: "DCOB", slug: "dcob" });
  for (let r = 0; r < 30; r++) {
    const rack = nb.addRack({ name: `R${r}`, siteId: site.id, uHeight: 48 });
    nb.addDevices(Array.from({ length: 40 }, (_, u) => ({
      name: `dcob-r${r}u${u + 1}`,
      siteId: site.id,
      rackId: rack.id,
      position: u + 1,
      face: "front" as const,
      deviceTypeId: ids.deviceTypeIds["sys-1029u"],
      roleId: ids.roleIds.server,
    })));
  }
  const reg = await app.call("POST", "/api/v1/servers/register?wait=30", {
    ...FULL_ITEM,
    device_name: undefined,
  });
  assertEquals(reg.status, 201, JSON.stringify(reg.body));
  // 1,204 devices: the whole inventory is two pages of 1000; this page needs one device.
  nb.faults.add({ match: /GET \/api\/dcim\/devices\/\?(?!.*name=)/, delayMs: 300 });
  nb.requestLog.length = 0;
  const started = performance.now();
  const page = await app.call("GET", "/api/v1/servers?source=ours&limit=1");
  const ms = performance.now() - started;
  assertEquals(names(page.body), ["dcoa-rb06u31"]);
  assertEquals(page.body.items[0].netbox.status, "staged", JSON.stringify(page.body.items[0]));
  const named = nb.requestLog.filter((l) =>
    l.startsWith("GET /api/dcim/devices/") &&
    /[?&]name=/.test(l)
  );
  assertEquals(named.length, 1, nb.requestLog.join("\n"));
  assert(ms < 300, `the page waited ${ms.toFixed(0)} ms, as for the whole inventory`);
});

Deno.test("GET /servers still lists our registrations when Netbox fails, with a warning", async () => {
  await using app = await startTestApp();
  const reg = await app.call("POST", "/api/v1/servers/register?wait=30", {
    ...FULL_ITEM,
    device_name: undefined,
  });
  assertEquals(reg.status, 201);
  app.world.netbox.faults.add({ match: /dcim\/devices/, status: 503, times: 100 });
  const list = await app.call("GET", "/api/v1/servers");
  assertEquals([list.status, names(list.body)], [200, ["dcoa-rb06u31"]]);
  assert(/Netbox devices are not shown/.test(list.body.warnings[0]), list.body.warnings);
  const netbox = await app.call("GET", "/api/v1/servers?source=netbox");
  // The Netbox inventory alone cannot be shown: the error names Netbox (503 while it is down).
  assertEquals([netbox.status, netbox.body.error.code], [503, "netbox_error"]);
});

Deno.test("Netbox simulator filters devices by role, site and status like Netbox 4", async (t) => {
  await using app = await startTestApp();
  const nb = app.world.netbox;
  const get = async (query: string) => {
    const res = await nb.handler(
      new Request(`http://netbox.test/api/dcim/devices/?${query}`, {
        headers: { authorization: `Token ${nb.token}` },
      }),
    );
    return { status: res.status, body: await res.json() };
  };
  const devNames = (b: Json) => b.results.map((d: Json) => d.name);
  await t.step("role and role_id, repeatable", async () => {
    assertEquals(devNames((await get("role=storage")).body), ["dcoa-rb06u1", "dcoa-rb07u20"]);
    const both = await get(`role_id=${seedIds(app).roleIds.storage}&role=server`);
    assertEquals(both.body.count, 0, "different filters combine with AND");
    assertEquals((await get("role=storage&role=server")).body.count, 4);
  });
  await t.step("site slug, status choices", async () => {
    assertEquals((await get("site=dcoa&status=active")).body.count, 4);
    assertEquals((await get("site=dcoa&status=planned")).body.count, 0);
  });
  await t.step("an unknown slug or status is a 400 naming the filter", async () => {
    assertEquals(await get("role=nope"), {
      status: 400,
      body: { role: ["Select a valid choice. nope is not one of the available choices."] },
    });
    assertEquals((await get("status=gone")).status, 400);
    assertEquals(Object.keys((await get("site=nowhere")).body), ["site"]);
  });
});
