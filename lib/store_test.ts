import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { MacAlreadyRegistered, RackSlotTaken } from "./errors.ts";
import { newRegistrationId, pendingSteps, type Registration, RegistrationStore } from "./store.ts";

function record(i: number, overrides: Partial<Registration> = {}): Registration {
  const now = new Date().toISOString();
  return {
    id: newRegistrationId() + String(i).padStart(4, "0"),
    device_name: `dcoa-rb06u${i}`,
    status: "queued",
    source: "import",
    bmc_mac: `3c:ec:ef:00:00:${i.toString(16).padStart(2, "0")}`,
    bmc_username: "ADMIN",
    bmc_ip: `10.16.28.${i}`,
    request: { site: i % 2 ? "dcoa" : "dcob" },
    steps: pendingSteps(),
    created: {},
    warnings: [],
    actor: "test",
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}

Deno.test("RegistrationStore.list() pages newest first and filters through the index", async (t) => {
  using kv = await Deno.openKv(":memory:");
  const store = new RegistrationStore(kv);
  const records: Registration[] = [];
  for (let i = 1; i <= 30; i++) {
    const r = record(i);
    await store.create(r);
    records.push(r);
  }
  for (const r of records.slice(0, 10)) await store.update(r.id, (x) => x.status = "ok");

  await t.step("pages with a cursor cover everything once, newest first", async () => {
    const first = await store.list({ limit: 12 });
    const second = await store.list({ limit: 12, cursor: first.cursor! });
    const third = await store.list({ limit: 12, cursor: second.cursor! });
    const names = [...first.items, ...second.items, ...third.items].map((r) => r.device_name);
    assertEquals(names, records.map((r) => r.device_name).reverse());
    assertEquals(third.cursor, null);
  });
  await t.step("status filter follows status changes", async () => {
    assertEquals((await store.list({ status: "ok" })).items.length, 10);
    assertEquals((await store.list({ status: "queued" })).items.length, 20);
    await store.update(records[0].id, (x) => x.status = "failed");
    assertEquals((await store.list({ status: "ok" })).items.length, 9);
    assertEquals((await store.list({ status: "failed" })).items.map((r) => r.id), [records[0].id]);
  });
  await t.step("search by name, MAC or IP, with site and paging", async () => {
    assertEquals((await store.list({ q: "RB06U2" })).items.length, 11); // u2, u20–u29
    assertEquals((await store.list({ q: "3c:ec:ef:00:00:1e" })).items.map((r) => r.device_name), [
      "dcoa-rb06u30",
    ]);
    assertEquals((await store.list({ q: "10.16.28.7" })).items.map((r) => r.device_name), [
      "dcoa-rb06u7",
    ]);
    // As printed on labels: no separators, dashes, Cisco dots, upper case.
    for (const q of ["3CECEF00001E", "3c-ec-ef-00-00-1e", "3cec.ef00.001e", " 00001E "]) {
      assertEquals((await store.list({ q })).items.map((r) => r.device_name), ["dcoa-rb06u30"], q);
    }
    assertEquals((await store.list({ site: "DCOA", limit: 50 })).items.length, 15);
    const odd = await store.list({ site: "dcoa", limit: 10 });
    assertEquals(odd.items.length, 10);
    const rest = await store.list({ site: "dcoa", limit: 10, cursor: odd.cursor! });
    assertEquals(rest.items.length, 5);
    assertEquals((await store.list({ site: "dcoa", status: "ok" })).items.length, 4);
  });
});

Deno.test("RegistrationStore.create() claims name, MAC and rack units atomically", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new RegistrationStore(kv);
  const a = record(1, { slot: { rackId: 7, units: [10, 11] } });
  await store.create(a);
  await rejects(
    store.create(record(2, { slot: { rackId: 7, units: [11, 12] } })),
    (e) => e instanceof RackSlotTaken && e.message.includes("dcoa-rb06u1"),
  );
  await rejects(store.create(record(3, { bmc_mac: a.bmc_mac })), MacAlreadyRegistered);
  const results = await Promise.allSettled(
    Array.from(
      { length: 10 },
      (_, i) => store.create(record(40 + i, { slot: { rackId: 8, units: [1] } })),
    ),
  );
  assertEquals(results.filter((r) => r.status === "fulfilled").length, 1);
  await store.releaseClaims(a);
  await store.create(record(5, { slot: { rackId: 7, units: [10] } }));
});
