/**
 * The two state store backends for tests that exercise the store: Deno KV in memory, and
 * PostgreSQL (a private server per test process, a fresh database per store). With CI=true a
 * missing PostgreSQL fails rather than skips, as the Kea tests do.
 */
import { openPgState } from "../lib/state/pg_store.ts";
import { type Coordination, LocalCoordination, type StateKv } from "../lib/state/store.ts";
import {
  createDatabase,
  missingDependency,
  startPostgres,
  type TestPostgres,
} from "./kea_harness.ts";

export interface TestState extends AsyncDisposable {
  kv: StateKv;
  coordination: Coordination;
  /** The database URL (PostgreSQL only). */
  url?: string;
  close(): Promise<void>;
}

export interface Backend {
  name: "kv" | "postgres";
  open(): Promise<TestState>;
}

let server: Promise<TestPostgres> | undefined;
let databases = 0;

/** A new, empty PostgreSQL database on the shared test server. */
export async function newDatabase(): Promise<string> {
  server ??= startPostgres().then((pg) => {
    globalThis.addEventListener("unload", () => pg.stopSync());
    return pg;
  });
  const pg = await server;
  return await createDatabase(pg.url, `state_${Deno.pid}_${++databases}`);
}

/** True when PostgreSQL tests can run; with CI=true its absence throws. */
export function postgresAvailable(what: string): boolean {
  if (Deno.env.get("ONBOARDING_TEST_PG_URL") || !missingDependency()) return true;
  const msg = `SKIP: ${what} needs PostgreSQL (apt-get install postgresql)`;
  if (Deno.env.get("CI") === "true") throw new Error(`${msg}: missing dependency with CI=true`);
  console.warn(`\n${"!".repeat(78)}\n${msg}\n${"!".repeat(78)}`);
  return false;
}

const kvBackend: Backend = {
  name: "kv",
  async open() {
    const kv = await Deno.openKv(":memory:");
    const close = () => Promise.resolve(kv.close());
    return { kv, coordination: new LocalCoordination(), close, [Symbol.asyncDispose]: close };
  },
};

const pgBackend: Backend = {
  name: "postgres",
  async open() {
    const url = await newDatabase();
    const state = await openPgState(url, { leaseSeconds: 3 });
    return { ...state, url, [Symbol.asyncDispose]: state.close };
  },
};

/** Both backends (PostgreSQL only when available). */
export function backends(what: string): Backend[] {
  return postgresAvailable(what) ? [kvBackend, pgBackend] : [kvBackend];
}

/** `kv` with its traffic counted: reads, commits (failed ones too), and writes outside a commit. */
export function countingKv(kv: StateKv) {
  const counts = { reads: 0, commits: 0, failed: 0, sets: 0 };
  const own: Partial<StateKv> = {
    get: (key) => {
      counts.reads++;
      return kv.get(key);
    },
    set: (key, value, options) => {
      counts.sets++;
      return kv.set(key, value, options);
    },
    delete: (key) => {
      counts.sets++;
      return kv.delete(key);
    },
    atomic: () => {
      const op = kv.atomic();
      const commit = op.commit.bind(op);
      op.commit = async () => {
        const res = await commit();
        counts.commits++;
        if (!res.ok) counts.failed++;
        return res;
      };
      return op;
    },
  };
  const counted = new Proxy(kv, {
    get: (target, name) => {
      if (name in own) return own[name as keyof StateKv];
      const value = Reflect.get(target, name);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { kv: counted, counts };
}
