/**
 * The versioned PostgreSQL schema of the state store. Migrations run at start-up under an advisory
 * lock (so replicas starting together apply each one once); a replica refuses a database whose
 * schema is newer than the newest migration it knows, because it could not read it safely.
 */
import type postgres from "postgres";

/** Append only: never edit a released migration, add the next one. */
export const MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: "key-value records, durable queue",
    sql: `
      CREATE SEQUENCE state_versionstamp;
      -- One row per Deno-KV-shaped key (hex of its ordered encoding, so text order = key order).
      -- The primary key is the uniqueness of every claim: name, MAC, rack unit, idempotency key.
      CREATE TABLE state_kv (
        key text COLLATE "C" PRIMARY KEY,
        value jsonb NOT NULL,
        versionstamp bigint NOT NULL,
        expires_at timestamptz
      );
      CREATE INDEX state_kv_expiry ON state_kv (expires_at) WHERE expires_at IS NOT NULL;
      -- Work messages: a replica leases one (FOR UPDATE SKIP LOCKED) and deletes it when done; a
      -- dead replica's lease runs out and another replica takes the message.
      CREATE TABLE state_queue (
        id bigserial PRIMARY KEY,
        payload jsonb NOT NULL,
        run_at timestamptz NOT NULL DEFAULT now(),
        locked_until timestamptz,
        attempts integer NOT NULL DEFAULT 0
      );
      CREATE INDEX state_queue_due ON state_queue (run_at);
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** Advisory lock keys (first int of the pair): one namespace per use. */
export const LOCK = {
  migrate: 1_476_001,
  run: 1_476_002,
  importSlot: 1_476_003,
  leader: 1_476_004,
};

export class SchemaTooNew extends Error {
  constructor(found: number) {
    super(
      `The state database has schema version ${found}, newer than this release knows ` +
        `(${SCHEMA_VERSION}): upgrade this replica instead of running an older one against it`,
    );
    this.name = "SchemaTooNew";
  }
}

/** Applies the missing migrations in order, each in its own transaction; returns the version. */
export async function migrate(sql: postgres.Sql): Promise<number> {
  return await sql.begin(async (tx) => {
    // Transaction-scoped: released on commit or when the connection dies.
    await tx`SELECT pg_advisory_xact_lock(${LOCK.migrate}, 0)`;
    await tx`CREATE TABLE IF NOT EXISTS state_schema (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const [{ v }] = await tx<{ v: number | null }[]>`SELECT max(version) AS v FROM state_schema`;
    const current = v ?? 0;
    if (current > SCHEMA_VERSION) throw new SchemaTooNew(current);
    for (const m of MIGRATIONS.filter((m) => m.version > current)) {
      await tx.unsafe(m.sql);
      await tx`INSERT INTO state_schema (version, name) VALUES (${m.version}, ${m.name})`;
    }
    return SCHEMA_VERSION;
  });
}
