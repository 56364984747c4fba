/**
 * The state store on PostgreSQL, for several replicas (`ONBOARDING_DATABASE_URL`): the same
 * `StateKv` the service uses with Deno KV, on the table of lib/state/pg_schema.ts, plus
 * `Coordination` by advisory locks held on dedicated connections, so a replica that dies (its
 * connections close) frees its registrations, import slots and leadership at once.
 */
import postgres from "postgres";
import type { Logger } from "../observability/log.ts";
import { migrate } from "./pg_schema.ts";
import { RunsElsewhere, type StateAtomic, type StateKv } from "./backend.ts";
import { PgCoordination, sleep } from "./pg_coordination.ts";

// --- Key encoding: ordered like Deno KV (bytes < strings < numbers < booleans), as hex text. ---

const enc = new TextEncoder();
const dec = new TextDecoder();

function escapeBytes(b: Uint8Array): number[] {
  const out: number[] = [];
  for (const x of b) x === 0 ? out.push(0, 0xff) : out.push(x);
  out.push(0);
  return out;
}

function encodePart(p: Deno.KvKeyPart): number[] {
  if (p instanceof Uint8Array) return [0x01, ...escapeBytes(p)];
  if (typeof p === "string") return [0x02, ...escapeBytes(enc.encode(p))];
  if (typeof p === "number") {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, p);
    // Sortable as bytes: flip every bit of a negative, the sign bit of a positive.
    if (b[0] & 0x80) { for (let i = 0; i < 8; i++) b[i] ^= 0xff; }
    else b[0] ^= 0x80;
    return [0x21, ...b];
  }
  if (typeof p === "boolean") return [p ? 0x27 : 0x26];
  throw new TypeError(`Unsupported key part ${typeof p}`);
}

const hex = (bytes: number[]) => bytes.map((b) => b.toString(16).padStart(2, "0")).join("");

export function encodeKey(key: Deno.KvKey): string {
  return hex(key.flatMap(encodePart));
}

export function decodeKey(text: string): Deno.KvKey {
  const b = Uint8Array.from(text.match(/../g) ?? [], (h) => parseInt(h, 16));
  const key: Deno.KvKeyPart[] = [];
  let i = 0;
  const unescape = () => {
    const out: number[] = [];
    while (!(b[i] === 0 && b[i + 1] !== 0xff)) {
      out.push(b[i]);
      i += b[i] === 0 ? 2 : 1;
    }
    i++;
    return Uint8Array.from(out);
  };
  while (i < b.length) {
    const tag = b[i++];
    if (tag === 0x01) key.push(unescape());
    else if (tag === 0x02) key.push(dec.decode(unescape()));
    else if (tag === 0x21) {
      const x = b.slice(i, i + 8);
      i += 8;
      if (x[0] & 0x80) x[0] ^= 0x80;
      else for (let j = 0; j < 8; j++) x[j] ^= 0xff;
      key.push(new DataView(x.buffer).getFloat64(0));
    } else key.push(tag === 0x27);
  }
  return key;
}

const stamp = (v: bigint | string | number) => BigInt(v).toString(16).padStart(20, "0");
const expiry = (ms?: number) => ms === undefined ? null : new Date(Date.now() + ms);

/** Queue messages one process handles at once (the import slots bound the real work). */
const MAX_IN_FLIGHT = 64;

/** Options of `openPgState`. */
export interface PgStateOptions {
  log?: Logger;
  /** How long a taken queue message stays with its replica without a heartbeat (seconds). */
  leaseSeconds?: number;
  /** Connections of the pool that serves requests and steps. */
  poolSize?: number;
}

class Conflict extends Error {}

type Mutation =
  | { type: "set"; key: Deno.KvKey; value: unknown; expireIn?: number }
  | { type: "delete"; key: Deno.KvKey };

class PgAtomic implements StateAtomic {
  readonly #checks: Deno.AtomicCheck[] = [];
  readonly #mutations: Mutation[] = [];
  constructor(readonly sql: postgres.Sql) {}

  check(...checks: Deno.AtomicCheck[]): this {
    this.#checks.push(...checks);
    return this;
  }
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this {
    this.#mutations.push({ type: "set", key, value, expireIn: options?.expireIn });
    return this;
  }
  delete(key: Deno.KvKey): this {
    this.#mutations.push({ type: "delete", key });
    return this;
  }

  async commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    // Checked keys are locked in key order, so two commits never wait on each other in a cycle.
    const checks = this.#checks.map((c) => ({
      key: encodeKey(c.key),
      versionstamp: c.versionstamp,
    }))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    const mustBeNew = new Set(checks.filter((c) => c.versionstamp === null).map((c) => c.key));
    try {
      const versionstamp = await this.sql.begin(async (tx) => {
        // An expired row is absent: gone before a key that must be absent is inserted.
        if (mustBeNew.size) {
          await tx`DELETE FROM state_kv WHERE key IN ${tx([...mustBeNew])} AND expires_at <= now()`;
        }
        if (checks.length) {
          const rows = await tx<{ key: string; versionstamp: string }[]>`
            SELECT key, versionstamp FROM state_kv WHERE key IN ${tx(checks.map((c) => c.key))}
            ORDER BY key FOR UPDATE`;
          const found = new Map(rows.map((r) => [r.key, stamp(r.versionstamp)]));
          if (checks.some((c) => (found.get(c.key) ?? null) !== c.versionstamp)) {
            throw new Conflict();
          }
        }
        const [{ v }] = await tx<{ v: string }[]>`SELECT nextval('state_versionstamp') AS v`;
        // The last mutation of a key wins, as in Deno KV; then one statement per kind.
        const last = new Map(this.#mutations.map((m) => [encodeKey(m.key), m]));
        const deletes = [...last].filter(([, m]) => m.type === "delete").map(([k]) => k);
        if (deletes.length) await tx`DELETE FROM state_kv WHERE key IN ${tx(deletes)}`;
        const sets = [...last].filter(([, m]) => m.type === "set") as [
          string,
          Extract<Mutation, { type: "set" }>,
        ][];
        for (const fresh of [true, false]) {
          const rows = sets.filter(([k]) => mustBeNew.has(k) === fresh);
          if (!rows.length) continue;
          const keys = rows.map(([k]) => k);
          const values = rows.map(([, m]) => JSON.stringify(m.value) ?? "null");
          const expires = rows.map(([, m]) => expiry(m.expireIn)?.toISOString() ?? null);
          const insert = tx`INSERT INTO state_kv (key, value, versionstamp, expires_at)
            SELECT k, j::jsonb, ${v}, e::timestamptz
            FROM unnest(${keys}::text[], ${values}::text[], ${expires}::text[]) AS t(k, j, e)`;
          // A key that had to be absent gets a plain insert: a replica that raced us to it
          // makes it fail on the primary key. The others replace what is there.
          if (fresh) await insert;
          else {
            await tx`${insert} ON CONFLICT (key) DO UPDATE SET value = excluded.value,
              versionstamp = excluded.versionstamp, expires_at = excluded.expires_at`;
          }
        }
        return stamp(v);
      });
      return { ok: true, versionstamp };
    } catch (e) {
      // Lost a race: a changed version, a unique key taken meanwhile, or a deadlock broken.
      const code = (e as { code?: string }).code;
      if (e instanceof Conflict || code === "23505" || code === "40P01" || code === "40001") {
        return { ok: false };
      }
      throw e;
    }
  }
}

/** `StateKv` on PostgreSQL. */
export class PgKv implements StateKv {
  readonly #listeners: (() => void)[] = [];
  readonly #stops = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    readonly sql: postgres.Sql,
    readonly leaseSeconds = 30,
    readonly log?: Logger,
  ) {}

  async get<T = unknown>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>> {
    const [row] = await this.sql<{ value: T; versionstamp: string }[]>`
      SELECT value, versionstamp FROM state_kv WHERE key = ${encodeKey(key)}
        AND (expires_at IS NULL OR expires_at > now())`;
    return row
      ? { key, value: row.value, versionstamp: stamp(row.versionstamp) }
      : { key, value: null, versionstamp: null };
  }

  async getMany<T extends readonly unknown[]>(
    keys: readonly [...{ [K in keyof T]: Deno.KvKey }],
  ): Promise<{ [K in keyof T]: Deno.KvEntryMaybe<T[K]> }> {
    if (!keys.length) return [] as unknown as { [K in keyof T]: Deno.KvEntryMaybe<T[K]> };
    const encoded = keys.map((k) => encodeKey(k as Deno.KvKey));
    const rows = await this.sql<{ key: string; value: unknown; versionstamp: string }[]>`
      SELECT key, value, versionstamp FROM state_kv WHERE key IN ${this.sql(encoded)}
        AND (expires_at IS NULL OR expires_at > now())`;
    const byKey = new Map(rows.map((r) => [r.key, r]));
    return keys.map((k, i) => {
      const r = byKey.get(encoded[i]);
      return r
        ? { key: k, value: r.value, versionstamp: stamp(r.versionstamp) }
        : { key: k, value: null, versionstamp: null };
    }) as unknown as { [K in keyof T]: Deno.KvEntryMaybe<T[K]> };
  }

  async set(
    key: Deno.KvKey,
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<Deno.KvCommitResult> {
    return await this.atomic().set(key, value, options).commit() as Deno.KvCommitResult;
  }

  async delete(key: Deno.KvKey): Promise<void> {
    await this.sql`DELETE FROM state_kv WHERE key = ${encodeKey(key)}`;
  }

  list<T = unknown>(
    selector: { prefix: Deno.KvKey; end?: Deno.KvKey },
    options: { limit?: number; cursor?: string; reverse?: boolean; batchSize?: number } = {},
  ): AsyncIterableIterator<Deno.KvEntry<T>> & { readonly cursor: string } {
    const sql = this.sql;
    const prefix = encodeKey(selector.prefix);
    // "g" sorts after every hex digit: past the last key under the prefix.
    const end = selector.end ? encodeKey(selector.end) : prefix + "g";
    const batch = Math.min(Math.max(options.batchSize ?? 100, 1), 1000);
    let last = options.cursor ? atob(options.cursor) : undefined;
    let left = options.limit ?? Infinity;
    const rows = async function* () {
      while (left > 0) {
        const n = Math.min(batch, left);
        const page = await (options.reverse
          ? sql<{ key: string; value: T; versionstamp: string }[]>`
            SELECT key, value, versionstamp FROM state_kv
            WHERE key > ${prefix} AND key < ${last ?? end}
              AND (expires_at IS NULL OR expires_at > now())
            ORDER BY key DESC LIMIT ${n}`
          : sql<{ key: string; value: T; versionstamp: string }[]>`
            SELECT key, value, versionstamp FROM state_kv
            WHERE key > ${last ?? prefix} AND key < ${end}
              AND (expires_at IS NULL OR expires_at > now())
            ORDER BY key LIMIT ${n}`);
        for (const r of page) {
          last = r.key;
          left--;
          yield { key: decodeKey(r.key), value: r.value, versionstamp: stamp(r.versionstamp) };
        }
        if (page.length < n) {
          return;
        }
      }
    };
    const it = rows();
    return Object.defineProperty(it, "cursor", {
      get: () => last === undefined ? "" : btoa(last),
    }) as typeof it & { readonly cursor: string };
  }

  atomic(): StateAtomic {
    return new PgAtomic(this.sql);
  }

  async enqueue(value: unknown, options?: { delay?: number }): Promise<Deno.KvCommitResult> {
    const runAt = new Date(Date.now() + (options?.delay ?? 0));
    const [{ id }] = await this.sql<{ id: string }[]>`
      INSERT INTO state_queue (payload, run_at)
      VALUES (${this.sql.json(value as postgres.JSONValue)}, ${runAt}) RETURNING id`;
    await this.sql`SELECT pg_notify('state_queue', '')`;
    return { ok: true, versionstamp: stamp(id) };
  }

  /**
   * Takes due messages (FOR UPDATE SKIP LOCKED, so each goes to one replica), keeps their lease
   * alive while `handler` runs, deletes them when it succeeds and retries with backoff when it
   * throws (at most 10 times, as Deno KV gives up too). Resolves when the store closes.
   */
  async listenQueue(handler: (value: unknown) => Promise<void> | void): Promise<void> {
    const wake = () => this.#listeners.splice(0).forEach((f) => f());
    const signal = this.#stops.signal;
    // Without the wake-ups the queue is still polled every second: a refused LISTEN (the server
    // full) is retried in the background rather than stopping the worker.
    let listener: { unlisten(): Promise<void> } | undefined;
    const subscribe = async () => {
      for (let wait = 1000; !signal.aborted && !listener; wait = Math.min(wait * 2, 30_000)) {
        listener = await this.sql.listen("state_queue", wake).catch((e) => {
          this.log?.warn("state queue LISTEN failed; polling meanwhile", { error: e });
          return undefined;
        });
        if (!listener) await sleep(wait, signal);
      }
    };
    const subscribed = subscribe();
    try {
      while (!signal.aborted) {
        if (this.#inFlight.size >= MAX_IN_FLIGHT) {
          await Promise.race(this.#inFlight);
          continue;
        }
        const [job] = await this.sql<{ id: string; payload: unknown; attempts: number }[]>`
          UPDATE state_queue SET locked_until = now() + make_interval(secs => ${this.leaseSeconds}),
            attempts = attempts + 1
          WHERE id = (SELECT id FROM state_queue
            WHERE run_at <= now() AND (locked_until IS NULL OR locked_until < now())
            ORDER BY run_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
          RETURNING id, payload, attempts`.catch((e) => {
          if (!signal.aborted) this.log?.warn("state queue poll failed", { error: e });
          return [];
        });
        if (!job) {
          // Woken by a NOTIFY, or a poll now and then for delayed and expired messages.
          await new Promise<void>((r) => {
            this.#listeners.push(r);
            sleep(1000, signal).then(r);
          });
          continue;
        }
        const p = this.#handle(job, handler);
        this.#inFlight.add(p);
        p.finally(() => this.#inFlight.delete(p));
      }
    } finally {
      await subscribed;
      await listener?.unlisten().catch(() => {});
    }
  }

  async #handle(
    job: { id: string; payload: unknown; attempts: number },
    handler: (value: unknown) => Promise<void> | void,
  ): Promise<void> {
    const beat = setInterval(() => {
      this
        .sql`UPDATE state_queue SET locked_until = now() + make_interval(secs => ${this.leaseSeconds})
        WHERE id = ${job.id}`.catch(() => {});
    }, this.leaseSeconds * 1000 / 3);
    try {
      await handler(job.payload);
      await this.sql`DELETE FROM state_queue WHERE id = ${job.id}`;
    } catch (e) {
      if (this.#stops.signal.aborted) return; // the lease runs out; another replica takes it
      const elsewhere = e instanceof RunsElsewhere;
      if (!elsewhere && job.attempts >= 10) {
        this.log?.error("queue message dropped after 10 attempts", { error: e });
        await this.sql`DELETE FROM state_queue WHERE id = ${job.id}`.catch(() => {});
        return;
      }
      const delay = elsewhere ? 1 : Math.min(2 ** job.attempts, 60);
      await this.sql`UPDATE state_queue SET locked_until = NULL,
          run_at = now() + make_interval(secs => ${delay}),
          attempts = attempts - ${elsewhere ? 1 : 0}
        WHERE id = ${job.id}`.catch(() => {});
    } finally {
      clearInterval(beat);
    }
  }

  close(): void {
    this.#stops.abort();
    this.#listeners.splice(0).forEach((f) => f());
  }
}

/** A PostgreSQL state store: connects, migrates (or refuses a newer schema) and returns both. */
export async function openPgState(
  url: string,
  options: PgStateOptions = {},
): Promise<{ kv: PgKv; coordination: PgCoordination; sql: postgres.Sql; close(): Promise<void> }> {
  const sql = postgres(url, {
    max: options.poolSize ?? 10,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
  });
  try {
    await migrate(sql);
  } catch (e) {
    await sql.end({ timeout: 5 });
    throw e;
  }
  const kv = new PgKv(sql, options.leaseSeconds ?? 30, options.log);
  // Its own connection: the locks live and die with it (and so with this process).
  // Named, so pg_stat_activity and pg_locks show which pod holds which registration.
  const locks = postgres(url, {
    max: 1,
    onnotice: () => {},
    connect_timeout: 10,
    // HOSTNAME is the pod's name in Kubernetes (Deno.hostname() would need --allow-sys).
    connection: {
      application_name: `onboarding locks ${Deno.env.get("HOSTNAME") ?? ""} ${Deno.pid}`,
    },
  });
  return {
    kv,
    coordination: new PgCoordination(locks, options.log),
    sql,
    async close() {
      kv.close();
      await Promise.all([sql.end({ timeout: 5 }), locks.end({ timeout: 5 })]);
    },
  };
}
