/**
 * Who runs what across replicas on PostgreSQL: advisory locks on one dedicated connection per
 * process, so a replica that dies frees its registrations, import slots and leadership at once.
 */
import type postgres from "postgres";
import type { Logger } from "../observability/log.ts";
import { BUSY, type Coordination } from "./backend.ts";
import { LOCK } from "./pg_schema.ts";

/**
 * Advisory locks held on one dedicated connection per process: when the process dies the
 * connection closes and PostgreSQL frees its registrations, import slots and leadership at once.
 * Session locks are re-entrant, so this process also remembers which it holds.
 */
export class PgCoordination implements Coordination {
  readonly #held = new Set<string>();
  /** One local waiter at a time polls for an import slot; the others queue behind it. */
  #slotQueue: Promise<unknown> = Promise.resolve();
  #slotFreed?: () => void;
  #slotsHeard?: Promise<unknown>;

  constructor(readonly locks: postgres.Sql, readonly log?: Logger) {}

  async #lock(a: number, b: number): Promise<boolean> {
    const k = `${a}:${b}`;
    if (this.#held.has(k)) return false;
    this.#held.add(k);
    const [{ ok }] = await this.locks<
      { ok: boolean }[]
    >`SELECT pg_try_advisory_lock(${a}, ${b}) AS ok`
      .catch((e) => (this.#held.delete(k), Promise.reject(e)));
    if (!ok) this.#held.delete(k);
    return ok;
  }

  async #unlock(a: number, b: number): Promise<void> {
    await this.locks`SELECT pg_advisory_unlock(${a}, ${b})`.catch(() => {});
    this.#held.delete(`${a}:${b}`);
  }

  async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | typeof BUSY> {
    const key = hash32(id);
    if (!await this.#lock(LOCK.run, key)) return BUSY;
    try {
      return await fn();
    } finally {
      await this.#unlock(LOCK.run, key);
    }
  }

  async importSlot<T>(limit: number, fn: () => Promise<T>): Promise<T> {
    // A freed slot is announced to every replica (NOTIFY): their waiting imports all try, so
    // the work spreads instead of staying where it was submitted. A poll covers a lost notice.
    this.#slotsHeard ??= this.locks.listen(SLOTS_CHANNEL, () => this.#slotFreed?.()).catch(
      (e) => (this.log?.warn("import slot LISTEN failed; polling", { error: e }), undefined),
    );
    await this.#slotsHeard;
    const take = async () => {
      for (;;) {
        for (let i = 0; i < limit; i++) if (await this.#lock(LOCK.importSlot, i)) return i;
        await new Promise<void>((r) => {
          const t = setTimeout(r, 500 + 500 * Math.random());
          this.#slotFreed = () => (clearTimeout(t), r());
        });
        this.#slotFreed = undefined;
      }
    };
    const slot = this.#slotQueue.then(take);
    this.#slotQueue = slot.catch(() => {});
    const i = await slot;
    try {
      return await fn();
    } finally {
      await this.#unlock(LOCK.importSlot, i);
      await this.locks`SELECT pg_notify(${SLOTS_CHANNEL}, '')`.catch(() => {});
    }
  }

  /** Tries for the lock every two seconds; while held, `work` runs on this replica. */
  async lead(
    name: string,
    signal: AbortSignal,
    work: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const key = hash32(name);
    while (!signal.aborted) {
      const got = await this.#lock(LOCK.leader, key).catch(() => false);
      if (got) {
        this.log?.info("leading", { name });
        try {
          await work(signal);
        } catch (e) {
          this.log?.warn("led work stopped", { name, error: e });
        } finally {
          await this.#unlock(LOCK.leader, key);
        }
      }
      await sleep(2000, signal);
    }
  }
}

const SLOTS_CHANNEL = "state_import_slots";

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((r) => {
    if (signal.aborted) return r();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      r();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A stable 32-bit signed integer for an advisory lock key. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (const c of new TextEncoder().encode(s)) h = Math.imul(h ^ c, 0x01000193);
  return h | 0;
}
