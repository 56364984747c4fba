import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { MacAlreadyRegistered, RackSlotTaken } from "../domain/errors.ts";
import {
  newRegistrationId,
  pendingSteps,
  type Registration,
  RegistrationStore,
  type StateKv,
} from "./store.ts";
import { backends, countingKv } from "../../tests/state_backends.ts";

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

for (const backend of backends("store tests on PostgreSQL")) {
  Deno.test(`${backend.name}: RegistrationStore.list() pages newest first and filters through the index`, async (t) => {
    await using state = await backend.open();
    const kv = state.kv;
    const store = new RegistrationStore(kv, state.coordination);
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
      assertEquals((await store.list({ status: "failed" })).items.map((r) => r.id), [
        records[0].id,
      ]);
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
        assertEquals(
          (await store.list({ q })).items.map((r) => r.device_name),
          ["dcoa-rb06u30"],
          q,
        );
      }
      assertEquals((await store.list({ site: "DCOA", limit: 50 })).items.length, 15);
      const odd = await store.list({ site: "dcoa", limit: 10 });
      assertEquals(odd.items.length, 10);
      const rest = await store.list({ site: "dcoa", limit: 10, cursor: odd.cursor! });
      assertEquals(rest.items.length, 5);
      assertEquals((await store.list({ site: "dcoa", status: "ok" })).items.length, 4);
    });
  });

  Deno.test(`${backend.name}: RegistrationStore.create() claims name, MAC and rack units atomically`, async () => {
    await using state = await backend.open();
    const kv = state.kv;
    const store = new RegistrationStore(kv, state.coordination);
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
}

/** Makes the KV's list() count the entries it hands out, to see what a query reads. */
function countListReads(kv: StateKv): () => number {
  let n = 0;
  const list = kv.list.bind(kv);
  kv.list = ((selector: { prefix: Deno.KvKey }, options?: Deno.KvListOptions) => {
    const iter = list(selector, options);
    const next = iter.next.bind(iter);
    iter.next = async () => {
      const r = await next();
      if (!r.done) n++;
      return r;
    };
    return iter;
  }) as StateKv["list"];
  return () => n;
}

for (const backend of backends("store tests on PostgreSQL")) {
  Deno.test(`${backend.name}: RegistrationStore.list() search reads its term's entries, not every record's`, async (t) => {
    await using state = await backend.open();
    const kv = state.kv;
    const read = countListReads(kv);
    const store = new RegistrationStore(kv, state.coordination);
    const records: Registration[] = [];
    for (let i = 0; i < 1500; i += 100) {
      const batch = Array.from({ length: 100 }, (_, k) =>
        record(i + k, {
          device_name: `dcoa-r${String((i + k) / 40 | 0).padStart(3, "0")}u${(i + k) % 40 + 1}`,
          bmc_mac: `3c:ec:ef:00:${((i + k) >> 8).toString(16).padStart(2, "0")}:${
            ((i + k) & 255).toString(16).padStart(2, "0")
          }`,
          bmc_ip: `10.16.${(i + k) >> 8}.${(i + k) & 255}`,
          status: (i + k) % 20 === 0 ? "failed" : "ok",
        }));
      await Promise.all(batch.map((r) => store.create(r)));
      records.push(...batch);
    }
    const newestFirst = (f: (r: Registration) => boolean) =>
      records.filter(f).map((r) => r.device_name).reverse();

    await t.step("a rare match is found without reading the others", async () => {
      const before = read();
      const page = await store.list({ q: "-r001u" }); // racks r001, r001x: 40 records, the oldest
      assertEquals(
        page.items.map((r) => r.device_name),
        newestFirst((r) => r.device_name.startsWith("dcoa-r001u")),
      );
      assertEquals(page.cursor, null);
      assertEquals(read() - before <= 40, true, `read ${read() - before} entries`);
    });
    await t.step(
      "pages of a search cover every match once, with status and MAC forms",
      async () => {
        const want = newestFirst((r) => /-r03\d/.test(r.device_name) && r.status === "ok");
        const got: string[] = [];
        let cursor: string | undefined;
        do {
          const page = await store.list({ q: "R03", status: "ok", limit: 7, cursor });
          got.push(...page.items.map((r) => r.device_name));
          cursor = page.cursor ?? undefined;
        } while (cursor);
        assertEquals(got, want);
        const last = records[1499];
        for (const q of [last.bmc_mac, "3CEC.EF00.05DB", "05-DB", last.bmc_ip!]) {
          assertEquals((await store.list({ q })).items.map((r) => r.id), [last.id], q);
        }
      },
    );
    await t.step("renaming a record moves its entries", async () => {
      await store.update(records[0].id, (r) => r.device_name = "dcob-zz99u1");
      assertEquals((await store.list({ q: "zz99" })).items.map((r) => r.id), [records[0].id]);
      const oldName = await store.list({ q: "dcoa-r000u1", limit: 200 });
      assertEquals(
        oldName.items.map((r) => r.device_name),
        newestFirst((r) => /-r000u1\d/.test(r.device_name)),
      );
    });
  });

  Deno.test(`${backend.name}: RegistrationStore.ensureIndex() indexes records stored before the term index, once`, async () => {
    await using state = await backend.open();
    const kv = state.kv;
    const store = new RegistrationStore(kv, state.coordination);
    // As an older version left them: the record and an index entry of the old shape, no terms.
    const old = record(7, { device_name: "dcoa-ra07u01" });
    await kv.set(["registrations", old.id], old);
    await kv.set(["registrations_search", old.id], { text: "dcoa-ra07u01", sites: ["dcoa"] });
    await kv.set(["registrations_by_status", "queued", old.id], {
      text: "dcoa-ra07u01",
      sites: [],
    });
    assertEquals((await store.list({ q: "ra07" })).items.length, 0);
    assertEquals(await store.ensureIndex(), 1);
    assertEquals((await store.list({ q: "ra07" })).items.map((r) => r.id), [old.id]);
    assertEquals((await store.list({ q: "ra07", status: "queued" })).items.map((r) => r.id), [
      old.id,
    ]);
    assertEquals((await store.list({ q: "ra07", site: "dcoa" })).items.map((r) => r.id), [old.id]);
    assertEquals(await store.ensureIndex(), 0);
  });
}

for (const backend of backends("store tests on PostgreSQL")) {
  Deno.test(`${backend.name}: updates side by side share a commit; one writer never fails its own check`, async () => {
    await using state = await backend.open();
    const { kv, counts } = countingKv(state.kv);
    const store = new RegistrationStore(kv, state.coordination);
    const r = record(1);
    await store.create(r);
    counts.commits = 0;
    const results = await Promise.all([
      store.update(r.id, (x) => x.warnings.push("a")),
      store.update(r.id, (x) => x.warnings.push("b")),
      store.update(r.id, (x) => x.warnings.push("c")),
      store.update(r.id, (x) => x.warnings.push("d")),
    ]);
    // The first goes alone; the three that came while it was in flight share the next commit.
    assertEquals(counts, { commits: 2, failed: 0, reads: 1, sets: 0 });
    assertEquals(results.map((x) => x.warnings.length), [1, 4, 4, 4]);
    assertEquals((await store.get(r.id))!.warnings, ["a", "b", "c", "d"]);
  });

  Deno.test(`${backend.name}: an update starts from its own last write, and from a fresh read after a write from elsewhere`, async () => {
    await using state = await backend.open();
    const { kv, counts } = countingKv(state.kv);
    const here = new RegistrationStore(kv, state.coordination);
    const elsewhere = new RegistrationStore(state.kv, state.coordination); // another replica
    const r = record(1);
    await here.create(r);
    await here.update(r.id, (x) => x.warnings.push("here 1"));
    counts.reads = 0;
    await here.update(r.id, (x) => x.warnings.push("here 2"));
    assertEquals(counts.reads, 0, "no read: the last write is known");
    await elsewhere.update(r.id, (x) => x.warnings.push("elsewhere"));
    await here.update(r.id, (x) => x.warnings.push("here 3"));
    assertEquals(counts.failed, 1, "the stale start fails its check once");
    assertEquals((await here.get(r.id))!.warnings, ["here 1", "here 2", "elsewhere", "here 3"]);
  });

  Deno.test(`${backend.name}: a change that throws fails its own update only; later() goes with the next update`, async () => {
    await using state = await backend.open();
    const store = new RegistrationStore(state.kv, state.coordination);
    const r = record(1);
    await store.create(r);
    store.later(r.id, (x) => x.steps.kea.status = "running");
    assertEquals((await store.get(r.id))!.steps.kea.status, "pending", "not written on its own");
    const first = store.update(r.id, (x) => x.warnings.push("first"));
    const [bad, good] = await Promise.allSettled([
      store.update(r.id, (x) => {
        x.warnings.push("half");
        throw new Error("refused");
      }),
      store.update(r.id, (x) => x.warnings.push("good")),
    ]);
    await first;
    assertEquals(bad.status, "rejected");
    assertEquals(good.status, "fulfilled");
    const now = (await store.get(r.id))!;
    assertEquals(now.warnings, ["first", "good"]);
    assertEquals(now.steps.kea.status, "running");
  });
}
