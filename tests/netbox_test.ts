/** Netbox client against the in-memory fake: registration, idempotency, both MAC models, failures. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  createNetboxClient,
  type NetboxClient,
  type NetboxSettings,
} from "../lib/integrations/netbox.ts";
import { createFakeNetbox, FAKE_NETBOX_TOKEN, type FakeNetbox } from "../sim/netbox/mod.ts";
import { asFetch, serveFake } from "../sim/faults.ts";
import { IntegrationError } from "../lib/integrations/http.ts";
import { Conflict } from "../lib/domain/errors.ts";

const BASE = "http://netbox.test";
const MAC = "3c:ec:ef:a1:9c:e8";

function setup(
  fakeOptions: Parameters<typeof createFakeNetbox>[0] = {},
  settings: Partial<NetboxSettings> = {},
): { fake: FakeNetbox; nb: NetboxClient } {
  const fake = createFakeNetbox({ seed: true, ...fakeOptions });
  const nb = createNetboxClient({
    url: BASE,
    token: fake.token,
    fetch: asFetch(fake.handler),
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...settings,
  });
  return { fake, nb };
}

/** Resolves the seed references and racks a 1U server at RB06 U31, as the engine does. */
async function registerDevice(nb: NetboxClient, name = "dcoa-rb06u31", position = 31) {
  const site = (await nb.findSite("dcoa"))!;
  const location = (await nb.findLocation("hall a", site.id))!;
  const rack = (await nb.findRack("rb06", { siteId: site.id, locationId: location.id }))!;
  const type = (await nb.findDeviceType("sys-1029u"))!;
  const role = (await nb.findDeviceRole("Server"))!;
  const tenant = (await nb.findTenant("platform"))!;
  return await nb.createDevice({
    name,
    siteId: site.id,
    locationId: location.id,
    rackId: rack.id,
    position,
    deviceTypeId: type.id,
    roleId: role.id,
    tenantId: tenant.id,
  });
}

/** Runs `fn`, expecting it to throw; returns what it threw. */
async function assertRejects(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error("Expected the call to fail, but it succeeded");
}

async function expectIntegrationError(fn: () => Promise<unknown>): Promise<IntegrationError> {
  const e = await assertRejects(fn);
  assert(e instanceof IntegrationError, `expected IntegrationError, got ${e}`);
  return e;
}

Deno.test("createNetboxClient() registers a device with BMC interface, MAC object and IP", async (t) => {
  const { fake, nb } = setup();
  const prefix = (await nb.findPrefix("10.16.28.0/24"))!;

  await t.step("status() reports the version and the MAC model", async () => {
    assertEquals(await nb.status(), { version: "4.3.1", macObjects: true });
  });

  await t.step("find*() resolve ids, slugs and case-insensitive names", async () => {
    const site = (await nb.findSite("DCOA"))!;
    assertEquals(site.slug, "dcoa");
    assertEquals((await nb.findSite(site.id))?.name, "DCOA");
    assertEquals((await nb.findSite(String(site.id)))?.name, "DCOA");
    assertEquals(await nb.findSite("nowhere"), null);
    assertEquals((await nb.findDeviceType("PowerEdge R750"))?.u_height, 2);
    assertEquals((await nb.findDeviceType("r750"))?.manufacturer, "Dell");
    assertEquals((await nb.findRack("RB07", { siteId: site.id }))?.u_height, 42);
    assertEquals(await nb.findRack("RB99", { siteId: site.id }), null);
    assertEquals((await nb.findPrefix(prefix.id))?.prefix, "10.16.28.0/24");
    assertEquals(await nb.findPrefix("10.99.0.0/24"), null);
  });

  await t.step("list*() return the seeded references", async () => {
    assertEquals((await nb.listSites()).map((s) => s.slug), ["dcoa"]);
    assertEquals((await nb.listRacks({ siteId: 1 })).map((r) => r.name), ["RB06", "RB07"]);
    assertEquals((await nb.listDeviceRoles()).map((r) => r.slug), ["server", "storage"]);
    assertEquals((await nb.listTenants()).map((r) => r.slug), ["platform"]);
    assertEquals((await nb.listDeviceTypes()).map((d) => d.slug), ["sys-1029u", "r750"]);
    assertEquals((await nb.listPrefixes()).map((p) => p.description), ["BMC"]);
    assertEquals((await nb.listLocations(1)).map((l) => l.name), ["Hall A"]);
  });

  const device = await registerDevice(nb);
  const iface = await nb.ensureBmcInterface(device.id);

  await t.step("createDevice() creates a planned device at the position", () => {
    assertEquals(device.status, "planned");
    assertEquals(device.position, 31);
    const stored = fake.devices.get(device.id)!;
    assertEquals(stored.face, "front");
    assertEquals(stored.tenant_id, device.tenant_id);
  });

  await t.step("ensureBmcInterface() twice gives one mgmt-only interface", async () => {
    assertEquals(await nb.ensureBmcInterface(device.id), iface);
    const bmc = [...fake.interfaces.values()].filter((i) => i.device_id === device.id);
    assertEquals(bmc.length, 1);
    assertEquals([bmc[0].name, bmc[0].type, bmc[0].mgmt_only], ["bmc", "1000base-t", true]);
  });

  await t.step("setInterfaceMac() twice gives one primary MAC object", async () => {
    const first = await nb.setInterfaceMac(iface.id, "3C-EC-EF-A1-9C-E8");
    const second = await nb.setInterfaceMac(iface.id, MAC);
    assertEquals(first, second);
    assertEquals(fake.macAddresses.size, 1);
    assertEquals(fake.interfaces.get(iface.id)!.primary_mac_address_id, first.macId);
    assertEquals(await nb.findDevicesByMac("3cecefa19ce8"), [{ id: device.id, name: device.name }]);
  });

  await t.step("setInterfaceMac() with a corrected MAC replaces the old MAC object", async () => {
    const other = await nb.setInterfaceMac(iface.id, "3c:ec:ef:00:00:01");
    assertEquals(fake.macAddresses.size, 1);
    assertEquals(fake.macAddresses.get(other.macId!)!.mac_address, "3c:ec:ef:00:00:01");
    assertEquals(await nb.findDevicesByMac(MAC), []);
    await nb.setInterfaceMac(iface.id, MAC);
  });

  await t.step("allocateIp() twice returns the same next free address", async () => {
    const ip = await nb.allocateIp(prefix.id, iface.id, { dnsName: "dcoa-rb06u31-bmc" });
    assertEquals(ip.address, "10.16.28.11/24");
    assertEquals(ip.interface_id, iface.id);
    assertEquals(await nb.allocateIp(prefix.id, iface.id), ip);
    assertEquals(await nb.interfaceIps(iface.id), [ip]);
    assertEquals(fake.ipAddresses.get(ip.id)!.dns_name, "dcoa-rb06u31-bmc");
  });

  await t.step("setOobIp() and setDeviceStatus() update the device", async () => {
    const [ip] = await nb.interfaceIps(iface.id);
    await nb.setOobIp(device.id, ip.id);
    await nb.setDeviceStatus(device.id, "staged");
    const found = (await nb.findDeviceByName("DCOA-RB06U31", device.site_id))!;
    assertEquals([found.oob_ip_id, found.status], [ip.id, "staged"]);
  });

  await t.step("rackDevices() lists occupants with their heights", async () => {
    const occupants = await nb.rackDevices(device.rack_id!);
    const byName = Object.fromEntries(occupants.map((d) => [d.name, [d.position, d.u_height]]));
    assertEquals(byName["dcoa-rb06u31"], [31, 1]);
    assertEquals(byName["dcoa-rb06u1"], [1, 2]);
  });

  await t.step(
    "rackDevices() asks for device types only when their height is not known",
    async () => {
      const calls = () =>
        fake.requestLog.filter((r) => r.startsWith("GET /api/dcim/device-types/"));
      fake.requestLog.length = 0;
      await nb.rackDevices(device.rack_id!);
      assertEquals(calls().length, 0, "heights seen a moment ago (findDeviceType, rackDevices)");
      // A new client knows no heights yet: one call for all the rack's types.
      const fresh = createNetboxClient({
        url: BASE,
        token: fake.token,
        fetch: asFetch(fake.handler),
      });
      fake.requestLog.length = 0;
      const occupants = await fresh.rackDevices(device.rack_id!);
      assertEquals(calls().length, 1);
      assertEquals(occupants.find((d) => d.name === "dcoa-rb06u1")?.u_height, 2);
    },
  );

  await t.step("deleteDevice() removes the device with its interface, MAC and IP", async () => {
    await nb.deleteDevice(device.id);
    assertEquals(fake.devices.has(device.id), false);
    assertEquals(fake.interfaces.has(iface.id), false);
    assertEquals(fake.macAddresses.size, 0);
    assertEquals([...fake.ipAddresses.values()].some((i) => i.address === "10.16.28.11/24"), false);
    // Already gone: 404 counts as done.
    await nb.deleteDevice(device.id);
    await nb.deleteInterface(iface.id);
    await nb.deleteIp(99999);
    await nb.deleteMac(99999);
  });
});

Deno.test("createNetboxClient() registers a new device's BMC with one call per write", async (t) => {
  const { fake, nb } = setup();
  const prefixId = fake.seedIds!.bmcPrefixId;
  await nb.status();
  /** The requests made by `fn`, without the query string. */
  const calls = async (fn: () => Promise<unknown>) => {
    fake.requestLog.length = 0;
    await fn();
    return fake.requestLog.map((r) => r.split("?")[0]);
  };

  await t.step(
    "new interface: create it, its MAC and primary, then allocate without a look-up",
    async () => {
      const device = await registerDevice(nb, "dcoa-rb06u35", 35);
      let iface = { id: 0 };
      const made = await calls(async () => {
        iface = await nb.ensureBmcInterface(device.id);
        await nb.setInterfaceMac(iface.id, MAC);
        await nb.allocateIp(prefixId, iface.id);
      });
      assertEquals(made, [
        "POST /api/dcim/interfaces/",
        "POST /api/dcim/mac-addresses/",
        `PATCH /api/dcim/interfaces/${iface.id}/`,
        `POST /api/ipam/prefixes/${prefixId}/available-ips/`,
      ]);
      assertEquals(fake.interfaces.get(iface.id)!.mgmt_only, true);
      const primary = fake.interfaces.get(iface.id)!.primary_mac_address_id!;
      assertEquals(fake.macAddresses.get(primary)!.mac_address, MAC);
      assertEquals((await nb.interfaceIps(iface.id)).length, 1);
    },
  );

  await t.step("existing interface (e.g. from a device type template) is looked up", async () => {
    const device = await registerDevice(nb, "dcoa-rb06u36", 36);
    const templated = fake.addInterface({ deviceId: device.id, name: "bmc", mgmtOnly: true });
    // A MAC object already on it, not yet primary (a run stopped between the two calls).
    const res = await fake.handler(
      new Request(`${BASE}/api/dcim/mac-addresses/`, {
        method: "POST",
        headers: { authorization: `Token ${fake.token}`, "content-type": "application/json" },
        body: JSON.stringify({
          mac_address: "3c:ec:ef:a1:9c:e9",
          assigned_object_type: "dcim.interface",
          assigned_object_id: templated.id,
        }),
      }),
    );
    assertEquals(res.status, 201);
    const macs = fake.macAddresses.size;
    const made = await calls(async () => {
      assertEquals(await nb.ensureBmcInterface(device.id), { id: templated.id });
      await nb.setInterfaceMac(templated.id, "3c:ec:ef:a1:9c:e9");
    });
    assertEquals(made, [
      "POST /api/dcim/interfaces/", // 400: device and name must be unique
      "GET /api/dcim/interfaces/",
      "GET /api/dcim/mac-addresses/",
      `PATCH /api/dcim/interfaces/${templated.id}/`,
    ]);
    assertEquals(fake.macAddresses.size, macs, "the MAC object found is reused");
  });

  await t.step(
    "an interface with an IP: the prefix is read to match it, nothing posted",
    async () => {
      const device = await registerDevice(nb, "dcoa-rb06u37", 37);
      const iface = await nb.ensureBmcInterface(device.id);
      const ip = await nb.allocateIp(prefixId, iface.id);
      const made = await calls(async () =>
        assertEquals(await nb.allocateIp(prefixId, iface.id), ip)
      );
      assertEquals(made, ["GET /api/ipam/ip-addresses/", `GET /api/ipam/prefixes/${prefixId}/`]);
    },
  );

  await t.step("a 400 that is not a duplicate still fails", async () => {
    const e = await expectIntegrationError(() => nb.ensureBmcInterface(999_999));
    assertEquals(e.status, 400);
  });
});

Deno.test("createNetboxClient() uses the interface mac_address field before Netbox 4.2", async (t) => {
  const { fake, nb } = setup({ version: "4.1.0" });
  const device = await registerDevice(nb);
  const iface = await nb.ensureBmcInterface(device.id);

  await t.step("status() says there are no MAC objects", async () => {
    assertEquals(await nb.status(), { version: "4.1.0", macObjects: false });
  });

  await t.step("setInterfaceMac() writes the field, idempotently", async () => {
    assertEquals(await nb.setInterfaceMac(iface.id, "3CECEFA19CE8"), { macId: null });
    assertEquals(await nb.setInterfaceMac(iface.id, MAC), { macId: null });
    assertEquals(fake.interfaces.get(iface.id)!.mac_address, MAC);
    assertEquals(fake.macAddresses.size, 0);
    assertEquals(await nb.findDevicesByMac(MAC), [{ id: device.id, name: device.name }]);
  });

  await t.step("the fake has no mac-addresses endpoint before 4.2", async () => {
    const res = await fake.handler(
      new Request(`${BASE}/api/dcim/mac-addresses/`, {
        headers: { authorization: `Token ${fake.token}` },
      }),
    );
    assertEquals(res.status, 404);
    await res.body?.cancel();
  });
});

Deno.test("createNetboxClient() follows pagination past 1000 objects", async (t) => {
  const { fake, nb } = setup({ seed: false });
  for (let i = 0; i < 2500; i++) fake.addSite({ name: `Site ${i}`, slug: `site-${i}` });

  await t.step("listSites() returns every site in three pages of 1000", async () => {
    fake.requestLog.length = 0;
    const sites = await nb.listSites();
    assertEquals(sites.length, 2500);
    assertEquals(new Set(sites.map((s) => s.id)).size, 2500);
    assertEquals(fake.requestLog.length, 3);
    assert(fake.requestLog.every((l) => l.includes("limit=1000")));
  });

  await t.step("the fake pages 50 by default, at most 1000, with absolute next links", async () => {
    const get = async (query: string) => {
      const res = await fake.handler(
        new Request(`${BASE}/api/dcim/sites/${query}`, {
          headers: { authorization: `Token ${fake.token}` },
        }),
      );
      return await res.json();
    };
    const first = await get("");
    assertEquals([first.count, first.results.length], [2500, 50]);
    assertEquals(first.next, `${BASE}/api/dcim/sites/?limit=50&offset=50`);
    assertEquals(first.previous, null);
    assertEquals((await get("?limit=5000")).results.length, 1000);
    const last = await get("?limit=1000&offset=2000");
    assertEquals([last.results.length, last.next], [500, null]);
  });
});

Deno.test("createNetboxClient() raises typed errors that never contain the token", async (t) => {
  const { fake, nb } = setup();
  const errors: Error[] = [];

  await t.step("400 field errors name the field and Netbox's message", async () => {
    const e = await expectIntegrationError(() => registerDevice(nb, "dcoa-rb06u2", 2));
    assertEquals(e.status, 400);
    assertEquals(e.integration, "netbox");
    assert(e.message.includes("U2 is already occupied"), e.message);
    assert(e.message.includes("position"), e.message);
    errors.push(e);
    const dup = await expectIntegrationError(() => registerDevice(nb, "DCOA-RB06U1", 20));
    assert(dup.message.includes("Device name must be unique per site"), dup.message);
    errors.push(dup);
    const high = await expectIntegrationError(() => registerDevice(nb, "too-high", 43));
    assert(high.message.includes("U43"), high.message);
    errors.push(high);
  });

  await t.step("403 for a wrong token, without the token in the error", async () => {
    const secret = "feedfacefeedfacefeedfacefeedfacefeedface";
    const bad = createNetboxClient({ url: BASE, token: secret, fetch: asFetch(fake.handler) });
    const e = await expectIntegrationError(() => bad.health());
    assertEquals(e.status, 403);
    assert(e.message.includes("Invalid v1 token"), e.message);
    assert(!e.message.includes(secret) && !JSON.stringify(e.body).includes(secret));
    errors.push(e);
    const v2 = createNetboxClient({
      url: BASE,
      token: "nbt_abcdefghijkl.0123456789",
      fetch: asFetch(fake.handler),
    });
    const e2 = await expectIntegrationError(() => v2.listSites());
    assert(e2.message.includes("Invalid v2 token"), e2.message);
    assert(!e2.message.includes("0123456789"));
  });

  await t.step("404 for an unknown prefix", async () => {
    const device = await registerDevice(nb, "dcoa-rb06u33", 33);
    const iface = await nb.ensureBmcInterface(device.id);
    const e = await expectIntegrationError(() => nb.allocateIp(4242, iface.id));
    assertEquals(e.status, 404);
    assert(e.message.includes("Not found."), e.message);
    errors.push(e);
  });

  await t.step("409 when the prefix is full", async () => {
    const small = fake.addPrefix({ prefix: "192.0.2.0/30", description: "tiny" });
    const device = await registerDevice(nb);
    const ifaces = [1, 2, 3].map((i) =>
      fake.addInterface({ deviceId: device.id, name: `eth${i}` })
    );
    const a = await nb.allocateIp(small.id, ifaces[0].id);
    const b = await nb.allocateIp(small.id, ifaces[1].id);
    assertEquals([a.address, b.address], ["192.0.2.1/30", "192.0.2.2/30"]);
    const e = await expectIntegrationError(() => nb.allocateIp(small.id, ifaces[2].id));
    assertEquals(e.status, 409);
    assert(e.message.includes("Insufficient resources"), e.message);
    errors.push(e);
  });

  await t.step("setOobIp() refuses an IP that is not on the device", async () => {
    const device = (await nb.findDeviceByName("dcoa-rb06u31"))!;
    const stray = fake.addIp({ address: "10.16.28.250/24" });
    const e = await expectIntegrationError(() => nb.setOobIp(device.id, stray.id));
    assertEquals(e.status, 400);
    assert(e.message.includes("is not assigned to this device"), e.message);
  });

  await t.step("no error message mentions the token", () => {
    for (const e of errors) assert(!e.message.includes(FAKE_NETBOX_TOKEN), e.message);
  });
});

Deno.test("createNetboxClient() retries transient failures and times out", async (t) => {
  await t.step("a 503 once is retried and the call succeeds", async () => {
    const { fake, nb } = setup();
    fake.faults.add({ match: "GET /api/dcim/sites/", status: 503, times: 1 });
    fake.requestLog.length = 0;
    assertEquals((await nb.listSites()).length, 1);
    assertEquals(fake.requestLog.filter((l) => l.startsWith("GET /api/dcim/sites/")).length, 2);
  });

  await t.step("a 503 once on createDevice checks before posting again", async () => {
    const { fake, nb } = setup();
    fake.faults.add({ match: "POST /api/dcim/devices/", status: 503, times: 1 });
    const device = await registerDevice(nb);
    assertEquals(device.name, "dcoa-rb06u31");
    assertEquals([...fake.devices.values()].filter((d) => d.name === device.name).length, 1);
  });

  await t.step("an answer slower than timeoutMs is an IntegrationError with status 0", async () => {
    const { fake, nb } = setup({}, { timeoutMs: 50, retry: { attempts: 1 } });
    fake.faults.add({ match: "/api/status/", delayMs: 200, times: 1 });
    const e = await expectIntegrationError(() => nb.health());
    assertEquals(e.status, 0);
    assert(e.message.includes("no answer within 50 ms"), e.message);
    assert(!e.message.includes(FAKE_NETBOX_TOKEN));
    // Let the fake's delayed answer finish so no timer outlives the test.
    await new Promise((r) => setTimeout(r, 200));
  });

  await t.step(
    "a lost allocation answer is not repeated: the interface's IP is found",
    async () => {
      const fake = createFakeNetbox({ seed: true });
      let lose = false;
      const fetchFn = asFetch(async (req) => {
        const res = await fake.handler(req);
        if (lose && req.method === "POST" && req.url.includes("available-ips")) {
          lose = false;
          await res.body?.cancel();
          throw new TypeError("connection reset");
        }
        return res;
      });
      const nb = createNetboxClient({
        url: BASE,
        token: fake.token,
        fetch: fetchFn,
        retry: { baseDelayMs: 1 },
      });
      const device = await registerDevice(nb);
      const iface = await nb.ensureBmcInterface(device.id);
      lose = true;
      const ip = await nb.allocateIp(fake.seedIds!.bmcPrefixId, iface.id);
      assertEquals(lose, false);
      assertEquals(ip.address, "10.16.28.11/24");
      assertEquals((await nb.interfaceIps(iface.id)).length, 1);
      assertEquals(fake.ipAddresses.size, 11);
    },
  );
});

Deno.test("allocateIp() gives 50 concurrent interfaces 50 distinct addresses", async () => {
  const { fake, nb } = setup();
  const device = await registerDevice(nb);
  const ifaces = Array.from(
    { length: 50 },
    (_, i) => fake.addInterface({ deviceId: device.id, name: `eth${i}` }),
  );
  const ips = await Promise.all(
    ifaces.map((i) => nb.allocateIp(fake.seedIds!.bmcPrefixId, i.id)),
  );
  const addresses = new Set(ips.map((ip) => ip.address));
  assertEquals(addresses.size, 50);
  assert(ips.every((ip) => /^10\.16\.28\.(\d+)\/24$/.test(ip.address)));
  assert(![...addresses].some((a) => ["10.16.28.0/24", "10.16.28.10/24"].includes(a)));
  assertEquals(ips.map((ip) => ip.interface_id), ifaces.map((i) => i.id));
});

Deno.test("assignIp() uses a given address over a served fake", async (t) => {
  const fake = createFakeNetbox({ seed: true });
  await using served = serveFake(fake.handler);
  const nb = createNetboxClient({ url: `${served.url}/api/`, token: fake.token });
  const device = await registerDevice(nb);
  const iface = await nb.ensureBmcInterface(device.id);

  await t.step("an existing unassigned IP is assigned to the interface", async () => {
    const ip = await nb.assignIp("10.16.28.5", iface.id);
    assertEquals([ip.address, ip.interface_id], ["10.16.28.5/24", iface.id]);
    assertEquals(await nb.assignIp("10.16.28.5", iface.id), ip);
  });

  await t.step("a new IP takes the mask of its prefix, else /32", async () => {
    const ip = await nb.assignIp("10.16.28.77", iface.id);
    assertEquals(ip.address, "10.16.28.77/24");
    const outside = await nb.assignIp("198.51.100.7", iface.id);
    assertEquals(outside.address, "198.51.100.7/32");
    assertEquals((await nb.interfaceIps(iface.id)).length, 3);
  });

  await t.step("an IP on another device's interface is a Conflict naming that device", async () => {
    const other = await registerDevice(nb, "dcoa-rb06u32", 32);
    const otherIface = await nb.ensureBmcInterface(other.id);
    const e = await assertRejects(() => nb.assignIp("10.16.28.77", otherIface.id));
    assert(e instanceof Conflict, String(e));
    assert(e.message.includes("dcoa-rb06u31"), e.message);
  });

  await t.step("the MAC, OOB IP and status steps work over HTTP", async () => {
    await nb.setInterfaceMac(iface.id, MAC);
    const [ip] = await nb.interfaceIps(iface.id);
    await nb.setOobIp(device.id, ip.id);
    assertEquals((await nb.findDevicesByMac(MAC)).map((d) => d.name), ["dcoa-rb06u31"]);
    assertEquals((await nb.findDeviceByName("dcoa-rb06u31"))?.oob_ip_id, ip.id);
  });

  await t.step("a path without trailing slash is redirected", async () => {
    const res = await fetch(`${served.url}/api/dcim/sites`, {
      redirect: "manual",
      headers: { authorization: `Token ${fake.token}` },
    });
    await res.body?.cancel();
    assertEquals(res.status, 302);
    assertEquals(res.headers.get("location"), "/api/dcim/sites/");
  });
});

Deno.test("createNetboxClient() sends v2 tokens as Bearer", async () => {
  const token = "nbt_abcdefghijkl.s3cr3tplaintextvalue";
  const { nb } = setup({ token, version: "4.5.2" });
  let seen = "";
  const fake = createFakeNetbox({ token, version: "4.5.2" });
  const spy = createNetboxClient({
    url: BASE,
    token,
    fetch: asFetch((req) => {
      seen = req.headers.get("authorization") ?? "";
      return fake.handler(req);
    }),
  });
  await spy.health();
  assertEquals(seen, `Bearer ${token}`);
  assertEquals((await nb.status()).version, "4.5.2");
});

Deno.test("prefix roles are ipam.Role objects, as in Netbox", async (t) => {
  const { fake, nb } = setup();
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fake.handler(
      new Request(`${BASE}/api/${path}`, {
        method,
        headers: { authorization: `Token ${fake.token}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };

  await t.step("a prefix carries its role nested (id, name, slug), or null", async () => {
    const role = await api("POST", "ipam/roles/", { name: "OOB", slug: "oob" });
    assertEquals(role.status, 201);
    const created = await api("POST", "ipam/prefixes/", {
      prefix: "10.16.29.0/24",
      role: role.body.id,
    });
    assertEquals(created.status, 201);
    assertEquals(created.body.role.slug, "oob");
    const plain = await api("POST", "ipam/prefixes/", { prefix: "172.16.0.0/22" });
    assertEquals(plain.body.role, null);
    const seeded = await api("GET", "ipam/prefixes/?prefix=10.16.28.0/24");
    const { id, name, slug, url, display } = seeded.body.results[0].role;
    assertEquals({ name, slug, display }, { name: "BMC", slug: "bmc", display: "BMC" });
    assertEquals(url, `${BASE}/api/ipam/roles/${id}/`);
  });

  await t.step("filters: role (slugs; unknown is a 400) and role_id", async () => {
    const bySlug = await api("GET", "ipam/prefixes/?role=oob");
    assertEquals(bySlug.body.results.map((p: { prefix: string }) => p.prefix), ["10.16.29.0/24"]);
    const unknown = await api("GET", "ipam/prefixes/?role=nope");
    assertEquals(unknown.status, 400);
    assertEquals(Object.keys(unknown.body), ["role"]);
  });

  await t.step("the client lists prefixes with their role", async () => {
    const prefixes = await nb.listPrefixes();
    assertEquals(prefixes.map((p) => [p.prefix, p.role?.slug ?? null]), [
      ["10.16.28.0/24", "bmc"],
      ["10.16.29.0/24", "oob"],
      ["172.16.0.0/22", null],
    ]);
  });

  await t.step("deleting a role leaves its prefixes without one (SET_NULL)", async () => {
    const oob = [...fake.ipamRoles.values()].find((r) => r.slug === "oob")!;
    assertEquals((await api("DELETE", `ipam/roles/${oob.id}/`)).status, 204);
    const prefix = [...fake.prefixes.values()].find((p) => p.prefix === "10.16.29.0/24")!;
    assertEquals(prefix.role_id, null);
  });
});
