/** What only PostgreSQL has to get right: several replicas on one database. */
import { deepStrictEqual as assertEquals, ok, rejects } from "node:assert/strict";
import postgres from "postgres";
import { RackSlotTaken } from "../domain/errors.ts";
import { newDatabase, postgresAvailable } from "../../tests/state_backends.ts";
import { EventBus, type LiveEvent } from "./events.ts";
import { shareEvents } from "./pg_events.ts";
import { SCHEMA_VERSION, SchemaTooNew } from "./pg_schema.ts";
import { openPgState } from "./pg_store.ts";
import {
  BUSY,
  newRegistrationId,
  pendingSteps,
  type Registration,
  RegistrationStore,
} from "./store.ts";

const run = postgresAvailable("PostgreSQL state store tests");

function record(i: number, overrides: Partial<Registration> = {}): Registration {
  const now = new Date().toISOString();
  return {
    id: newRegistrationId() + String(i).padStart(4, "0"),
    device_name: `dcoa-rb06u${i}`,
    status: "queued",
    source: "import",
    bmc_mac: `3c:ec:ef:00:01:${i.toString(16).padStart(2, "0")}`,
    bmc_username: "ADMIN",
    request: {},
    steps: pendingSteps(),
    created: {},
    warnings: [],
    actor: "test",
    created_at: now,
    updated_at: now,
    ...overrides,
  };
}

/** Three replicas' state on one new database. */
async function replicas(n = 3) {
  const url = await newDatabase();
  const all = await Promise.all(
    Array.from({ length: n }, () => openPgState(url, { leaseSeconds: 2 })),
  );
  const close = () => Promise.all(all.map((s) => s.close())).then(() => {});
  return { url, all, [Symbol.asyncDispose]: close };
}

Deno.test({
  name: "postgres: migrations run once under a lock; a newer schema is refused",
  ignore: !run,
  async fn() {
    await using r = await replicas(3); // three replicas migrating at once
    const sql = postgres(r.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql`SELECT version FROM state_schema ORDER BY version`;
      assertEquals(rows.map((x) => x.version), [SCHEMA_VERSION]);
      await sql`INSERT INTO state_schema (version, name) VALUES (${SCHEMA_VERSION + 1}, 'future')`;
      await rejects(openPgState(r.url), SchemaTooNew);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "postgres: 20 registrations for one rack slot over three replicas: exactly one wins",
  ignore: !run,
  async fn() {
    await using r = await replicas(3);
    const stores = r.all.map((s) => new RegistrationStore(s.kv, s.coordination));
    const results = await Promise.allSettled(
      Array.from(
        { length: 20 },
        (_, i) => stores[i % 3].create(record(i + 1, { slot: { rackId: 3, units: [20] } })),
      ),
    );
    assertEquals(results.filter((x) => x.status === "fulfilled").length, 1);
    ok(results.every((x) => x.status === "fulfilled" || x.reason instanceof RackSlotTaken));
  },
});

Deno.test({
  name: "postgres: a registration runs on one replica at a time; a dead one's lock is freed",
  ignore: !run,
  async fn() {
    await using r = await replicas(2);
    const [a, b] = r.all;
    const release = Promise.withResolvers<void>();
    const held = a.coordination.exclusive("reg-1", () => release.promise);
    await new Promise((res) => setTimeout(res, 50));
    assertEquals(await b.coordination.exclusive("reg-1", () => Promise.resolve("ran")), BUSY);
    assertEquals(await a.coordination.exclusive("reg-1", () => Promise.resolve("ran")), BUSY);
    await a.close(); // its lock connection goes, as when the process dies
    assertEquals(await b.coordination.exclusive("reg-1", () => Promise.resolve("ran")), "ran");
    release.resolve();
    await held.catch(() => {});
  },
});

Deno.test({
  name: "postgres: import slots are shared by every replica",
  ignore: !run,
  async fn() {
    await using r = await replicas(3);
    let now = 0, most = 0;
    await Promise.all(
      r.all.flatMap((s) =>
        Array.from({ length: 5 }, () =>
          s.coordination.importSlot(2, async () => {
            most = Math.max(most, ++now);
            await new Promise((res) => setTimeout(res, 30));
            now--;
          }))
      ),
    );
    assertEquals(most, 2);
  },
});

Deno.test({
  name: "postgres: a queue message a dead replica held is taken by another once its lease ends",
  ignore: !run,
  async fn() {
    await using r = await replicas(2);
    const [a, b] = r.all;
    await a.kv.enqueue({ n: 1 });
    // What a replica killed mid-message leaves: the message leased, nobody renewing it.
    await a.sql`UPDATE state_queue SET locked_until = now() + interval '1 second', attempts = 1`;
    const got = Promise.withResolvers<unknown>();
    const started = Date.now();
    b.kv.listenQueue((m) => got.resolve(m));
    assertEquals(await got.promise, { n: 1 });
    ok(Date.now() - started >= 500, "not before the lease ended");
    // Handled: the message is deleted.
    const left = async () => (await a.sql`SELECT count(*)::int AS n FROM state_queue`)[0].n;
    for (let i = 0; i < 50 && await left() > 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
    }
    assertEquals(await left(), 0);
  },
});

Deno.test({
  name: "postgres: one leader at a time, and another takes over when it dies",
  ignore: !run,
  async fn() {
    await using r = await replicas(2);
    const [a, b] = r.all;
    const leading: string[] = [];
    const stop = new AbortController();
    const work = (name: string) => (signal: AbortSignal) =>
      new Promise<void>((res) => {
        leading.push(name);
        signal.addEventListener("abort", () => res());
      });
    a.coordination.lead("watch", stop.signal, work("a"));
    await new Promise((res) => setTimeout(res, 200));
    b.coordination.lead("watch", stop.signal, work("b"));
    await new Promise((res) => setTimeout(res, 2500));
    assertEquals(leading, ["a"]);
    await a.close();
    for (let i = 0; i < 50 && leading.length < 2; i++) {
      await new Promise((res) => setTimeout(res, 100));
    }
    assertEquals(leading, ["a", "b"]);
    stop.abort();
  },
});

Deno.test({
  name: "postgres: live events published on one replica reach the others' buses, in order",
  ignore: !run,
  async fn() {
    await using r = await replicas(2);
    const [a, b] = r.all;
    const storeA = new RegistrationStore(a.kv, a.coordination);
    const storeB = new RegistrationStore(b.kv, b.coordination);
    const busA = new EventBus(), busB = new EventBus();
    const stopA = await shareEvents(a.sql, busA, storeA);
    const stopB = await shareEvents(b.sql, busB, storeB);
    const seen: LiveEvent[] = [];
    busB.subscribe((e) => seen.push(e));
    const rec = record(1);
    await storeA.create(rec);
    const steps = ["netbox", "openbao", "kea", "metal3"] as const;
    for (const step of steps) {
      busA.publish({
        type: "step",
        id: rec.id,
        device_name: rec.device_name,
        step,
        status: "done",
      });
    }
    const { slot: _s, ...view } = rec;
    busA.publish({ type: "registration", registration: view });
    for (let i = 0; i < 50 && seen.length < 5; i++) await new Promise((res) => setTimeout(res, 50));
    assertEquals(
      seen.map((e) =>
        e.type === "step" ? e.step : e.type === "registration" ? e.registration.id : e.type
      ),
      [
        ...steps,
        rec.id,
      ],
    );
    await stopA();
    await stopB();
  },
});
