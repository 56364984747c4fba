/**
 * Moves an installation's state from Deno KV to PostgreSQL:
 *   deno task migrate-state --from ./data/onboarding.kv --to postgres://…
 * Every record, claim, index entry, audit entry, session, idempotency key and the outbox key pair
 * is copied as is (the reference cache is not: it refills from Netbox). Safe to run again: a key
 * already in PostgreSQL is overwritten with the KV value. Ends with a count check per kind.
 * Stop the KV replica first, so nothing changes underneath, and run it before the PostgreSQL
 * replicas start: a later run puts the KV values back over theirs.
 */
import { parseArgs } from "node:util";
import { openPgState } from "../lib/state/pg_store.ts";

/** Kinds not copied: a cache refilled from Netbox, and logins that last minutes. */
const SKIPPED = new Set(["reference_cache", "auth_logins", "readyz"]);
const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

export async function migrateState(from: string, to: string): Promise<Map<string, number>> {
  await Deno.stat(from); // a missing file would otherwise be created empty
  const kv = await Deno.openKv(from);
  const pg = await openPgState(to);
  const counts = new Map<string, number>();
  try {
    let batch = pg.kv.atomic();
    let inBatch = 0;
    for await (const e of kv.list({ prefix: [] })) {
      const kind = String(e.key[0]);
      if (SKIPPED.has(kind)) continue;
      const value = e.value as { expiresAt?: number };
      // KV does not say when an entry expires: sessions carry it, idempotency keys last a day.
      const expireIn = kind === "auth_sessions" && typeof value?.expiresAt === "number"
        ? value.expiresAt - Date.now()
        : kind === "idempotency_keys"
        ? IDEMPOTENCY_TTL_MS
        : undefined;
      if (expireIn !== undefined && expireIn <= 0) continue;
      batch.set(e.key, e.value, { expireIn });
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      if (++inBatch === 500) {
        await commit(batch);
        batch = pg.kv.atomic();
        inBatch = 0;
      }
    }
    await commit(batch);
    // The check: every kind has as many keys in PostgreSQL as were copied.
    for (const [kind, n] of counts) {
      let found = 0;
      for await (const _ of pg.kv.list({ prefix: [kind] }, { batchSize: 1000 })) found++;
      if (found < n) throw new Error(`${kind}: ${n} copied but ${found} found in PostgreSQL`);
    }
    return counts;
  } finally {
    kv.close();
    await pg.close();
  }
}

async function commit(op: ReturnType<Awaited<ReturnType<typeof openPgState>>["kv"]["atomic"]>) {
  const res = await op.commit();
  if (!res.ok) throw new Error("A write to PostgreSQL was refused; run the migration again");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { from: { type: "string" }, to: { type: "string" } },
  });
  if (!values.from || !values.to || !/^postgres(ql)?:\/\//.test(values.to)) {
    console.error("Usage: deno task migrate-state --from <kv path> --to <postgres://…>");
    Deno.exit(2);
  }
  try {
    const counts = await migrateState(values.from, values.to);
    for (const [kind, n] of counts) console.log(`${kind}: ${n}`);
    console.log("Count check passed: every key copied is in PostgreSQL.");
  } catch (e) {
    console.error(`migrate-state failed: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
