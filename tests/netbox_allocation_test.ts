/**
 * IP allocation in groups: allocations for a prefix that arrive while one is in flight go together
 * in one list POST (Netbox allocates a list under one lock), each keeping its own answer. And the
 * fake's list allocation answering like Netbox's.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createNetboxClient, type NetboxClient } from "../lib/integrations/netbox.ts";
import { ALLOCATION_BATCH } from "../lib/integrations/netbox/ipam.ts";
import { IntegrationError } from "../lib/integrations/http.ts";
import { createFakeNetbox, type FakeNetbox } from "../sim/netbox/mod.ts";
import { asFetch } from "../sim/faults.ts";

const BASE = "http://netbox.test";
const ALLOCATE = /^POST \/api\/ipam\/prefixes\/\d+\/available-ips\/$/;

/** A seeded fake whose allocations answer after `delayMs`, a client, and `n` new interfaces. */
function setup(n: number, delayMs = 50, fetchOf = (f: FakeNetbox) => asFetch(f.handler)) {
  const fake = createFakeNetbox({ seed: true });
  fake.faults.add({ match: ALLOCATE, delayMs });
  const nb = createNetboxClient({
    url: BASE,
    token: fake.token,
    fetch: fetchOf(fake),
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
  });
  const deviceId = [...fake.devices.values()][0].id;
  const ifaces = Array.from(
    { length: n },
    (_, i) => fake.addInterface({ deviceId, name: `eth${i}` }).id,
  );
  return { fake, nb, ifaces, prefixId: fake.seedIds!.bmcPrefixId };
}

const posts = (fake: FakeNetbox) => fake.requestLog.filter((l) => ALLOCATE.test(l)).length;

/** Each call's outcome: the IP, or what it threw. */
function settle<T>(calls: Promise<T>[]): Promise<(T | unknown)[]> {
  return Promise.all(calls.map((c) => c.catch((e) => e)));
}

function allocateAll(nb: NetboxClient, prefixId: number, ifaces: number[]) {
  return ifaces.map((id, i) =>
    nb.allocateIp(prefixId, id, { dnsName: `n${i}.example`, description: `BMC ${i}` })
  );
}

Deno.test("allocateIp() sends allocations that wait for one in flight together", async (t) => {
  await t.step("8 at once: 2 POSTs, 8 distinct IPs each on its own interface", async () => {
    const { fake, nb, ifaces, prefixId } = setup(8);
    const tenant = [...fake.tenants.values()][0].id;
    const ips = await Promise.all(
      ifaces.map((id, i) =>
        nb.allocateIp(prefixId, id, {
          dnsName: `n${i}.example`,
          description: `BMC ${i}`,
          ...(i % 2 ? { tenantId: tenant } : {}),
        })
      ),
    );
    // The first alone (no added latency), the 7 that arrived meanwhile in one list.
    assertEquals(posts(fake), 2);
    assertEquals(new Set(ips.map((ip) => ip.address)).size, 8);
    assertEquals(ips.map((ip) => ip.interface_id), ifaces);
    ips.forEach((ip, i) => {
      const stored = fake.ipAddresses.get(ip.id)!;
      assertEquals(stored.assigned_object_id, ifaces[i]);
      assertEquals(stored.dns_name, `n${i}.example`);
      assertEquals(stored.description, `BMC ${i}`);
      assertEquals(stored.tenant_id, i % 2 ? tenant : null);
    });
  });

  await t.step(`a list holds at most ${ALLOCATION_BATCH}`, async () => {
    const n = ALLOCATION_BATCH + 10;
    const { fake, nb, ifaces, prefixId } = setup(n);
    const ips = await Promise.all(allocateAll(nb, prefixId, ifaces));
    // 1 alone, then 50, then the other 9.
    assertEquals(posts(fake), 3);
    assertEquals(new Set(ips.map((ip) => ip.address)).size, n);
    assertEquals(ips.map((ip) => ip.interface_id), ifaces);
  });

  await t.step("alone, an allocation is one POST of one object, sent at once", async () => {
    const { fake, nb, ifaces, prefixId } = setup(1, 0);
    fake.requestLog.length = 0;
    const ip = await nb.allocateIp(prefixId, ifaces[0]);
    assertEquals(posts(fake), 1);
    assertEquals(ip.interface_id, ifaces[0]);
  });
});

Deno.test("allocateIp() in a group keeps every safety of one alone", async (t) => {
  await t.step("a lost answer to a list allocates nothing twice", async () => {
    let allocations = 0;
    const { fake, nb, ifaces, prefixId } = setup(8, 50, (f) =>
      asFetch(async (req) => {
        const res = await f.handler(req);
        if (req.method === "POST" && req.url.includes("available-ips") && ++allocations === 2) {
          // The list was allocated; its answer never arrives.
          await res.body?.cancel();
          throw new TypeError("connection reset");
        }
        return res;
      }));
    const before = fake.ipAddresses.size;
    const ips = await Promise.all(allocateAll(nb, prefixId, ifaces));
    // Each caller found its own IP on its interface: no POST after the lost one.
    assertEquals(posts(fake), 2);
    assertEquals(fake.ipAddresses.size, before + 8);
    assertEquals(new Set(ips.map((ip) => ip.address)).size, 8);
    for (const [i, id] of ifaces.entries()) {
      const onIface = [...fake.ipAddresses.values()].filter((ip) => ip.assigned_object_id === id);
      assertEquals(onIface.map((ip) => ip.id), [ips[i].id]);
    }
  });

  await t.step("a list answered 503 is tried again, each IP once", async () => {
    let allocations = 0;
    const { fake, nb, ifaces, prefixId } = setup(8, 50, (f) =>
      asFetch((req) => {
        const allocation = req.method === "POST" && req.url.includes("available-ips");
        if (allocation && ++allocations === 2) {
          return Response.json({ error: "busy" }, { status: 503 });
        }
        return f.handler(req);
      }));
    const before = fake.ipAddresses.size;
    const ips = await Promise.all(allocateAll(nb, prefixId, ifaces));
    assertEquals(fake.ipAddresses.size, before + 8);
    assertEquals(new Set(ips.map((ip) => ip.address)).size, 8);
    assertEquals(ips.map((ip) => ip.interface_id), ifaces);
    assert(allocations >= 3, `${allocations} POSTs`);
  });

  await t.step("room for 3 and a list of 5: 3 IPs and 2 'prefix full' errors", async () => {
    const { fake, nb, ifaces, prefixId: _ } = setup(6);
    // A /29 has 6 hosts: 2 taken beforehand, the first caller alone takes 1, 3 left for 5.
    const small = fake.addPrefix({ prefix: "192.0.2.0/29" });
    fake.addIp({ address: "192.0.2.1/29" });
    fake.addIp({ address: "192.0.2.2/29" });
    const outcomes = await settle(allocateAll(nb, small.id, ifaces));
    assertEquals(posts(fake), 1 + 1 + 5); // alone, the list (409), each of the list alone
    const ips = outcomes.filter((o) => !(o instanceof Error)) as { address: string }[];
    assertEquals(ips.map((ip) => ip.address).sort(), [3, 4, 5, 6].map((n) => `192.0.2.${n}/29`));
    const errors = outcomes.filter((o) => o instanceof Error);
    assertEquals(errors.length, 2);
    for (const e of errors) {
      assert(e instanceof IntegrationError, String(e));
      assertEquals([e.integration, e.operation, e.status], ["netbox", "allocate IP", 409]);
      assert(e.message.includes("Insufficient resources"), e.message);
      assert(!e.message.includes(fake.token), e.message);
    }
  });

  await t.step("one invalid object in a list: its own 400, the others their IPs", async () => {
    const { fake, nb, ifaces, prefixId } = setup(5);
    const before = fake.ipAddresses.size;
    const outcomes = await settle(
      ifaces.map((id, i) => nb.allocateIp(prefixId, id, i === 2 ? { tenantId: 424242 } : {})),
    );
    assertEquals(posts(fake), 1 + 1 + 4); // alone, the list (400), each of the list alone
    const e = outcomes[2];
    assert(e instanceof IntegrationError, String(e));
    assertEquals([e.operation, e.status], ["allocate IP", 400]);
    assert(e.message.includes("tenant"), e.message);
    const ok = [0, 1, 3, 4];
    assertEquals(
      ok.map((i) => (outcomes[i] as { interface_id: number }).interface_id),
      ok.map((i) => ifaces[i]),
    );
    assertEquals(fake.ipAddresses.size, before + 4);
  });
});

Deno.test("the fake's list allocation answers like Netbox", async (t) => {
  const fake = createFakeNetbox({ seed: true });
  const deviceId = [...fake.devices.values()][0].id;
  const ifaces = [0, 1, 2].map((i) => fake.addInterface({ deviceId, name: `eth${i}` }).id);
  const small = fake.addPrefix({ prefix: "198.51.100.0/30" }); // 2 hosts
  const post = async (prefixId: number, body: unknown) => {
    const res = await fake.handler(
      new Request(`${BASE}/api/ipam/prefixes/${prefixId}/available-ips/`, {
        method: "POST",
        headers: { authorization: `Token ${fake.token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    return { status: res.status, body: await res.json() };
  };
  const item = (i: number) => ({
    assigned_object_type: "dcim.interface",
    assigned_object_id: ifaces[i],
    description: `d${i}`,
  });

  await t.step("a list longer than the room: 409, nothing created", async () => {
    const before = fake.ipAddresses.size;
    const res = await post(small.id, [item(0), item(1), item(2)]);
    assertEquals(res, {
      status: 409,
      body: { detail: "Insufficient resources are available to satisfy the request" },
    });
    assertEquals(fake.ipAddresses.size, before);
  });

  await t.step("an invalid object: 400 with each object's errors by position", async () => {
    const before = fake.ipAddresses.size;
    const res = await post(small.id, [item(0), { ...item(1), assigned_object_id: 424242 }]);
    assertEquals(res, {
      status: 400,
      body: [{}, { assigned_object_id: ["Related object not found: dcim.interface 424242"] }],
    });
    assertEquals(fake.ipAddresses.size, before);
  });

  await t.step("a list that fits: 201, the objects in the order asked", async () => {
    const res = await post(small.id, [item(1), item(0)]);
    assertEquals(res.status, 201);
    assertEquals(
      res.body.map((
        o: Record<string, unknown>,
      ) => [o.address, o.assigned_object_id, o.description]),
      [["198.51.100.1/30", ifaces[1], "d1"], ["198.51.100.2/30", ifaces[0], "d0"]],
    );
  });

  await t.step("one object in, one object out (not a list)", async () => {
    const res = await post(fake.seedIds!.bmcPrefixId, item(2));
    assertEquals(res.status, 201);
    assertEquals(res.body.assigned_object_id, ifaces[2]);
  });
});
