/** What a state backend offers: the part of Deno KV the service uses, and who runs what where. */
/** The part of Deno KV the service uses; `Deno.Kv` and `PgKv` (lib/state/pg_store.ts) both are one. */
export interface StateKv {
  get<T = unknown>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>>;
  getMany<T extends readonly unknown[]>(
    keys: readonly [...{ [K in keyof T]: Deno.KvKey }],
  ): Promise<{ [K in keyof T]: Deno.KvEntryMaybe<T[K]> }>;
  set(
    key: Deno.KvKey,
    value: unknown,
    options?: { expireIn?: number },
  ): Promise<Deno.KvCommitResult>;
  delete(key: Deno.KvKey): Promise<void>;
  list<T = unknown>(
    selector: { prefix: Deno.KvKey; end?: Deno.KvKey },
    options?: { limit?: number; cursor?: string; reverse?: boolean; batchSize?: number },
  ): AsyncIterableIterator<Deno.KvEntry<T>> & { readonly cursor: string };
  atomic(): StateAtomic;
  enqueue(value: unknown, options?: { delay?: number }): Promise<Deno.KvCommitResult>;
  listenQueue(handler: (value: unknown) => Promise<void> | void): Promise<void>;
  close(): void;
}

export interface StateAtomic {
  check(...checks: Deno.AtomicCheck[]): this;
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): this;
  delete(key: Deno.KvKey): this;
  commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError>;
}

/** Returned by `Coordination.exclusive` when another process works on that registration now. */
export const BUSY = Symbol("busy");

/** Thrown by a queue handler whose work another process holds: redeliver later, not a failure. */
export class RunsElsewhere extends Error {
  constructor(id: string) {
    super(`Registration ${id} runs in another replica`);
    this.name = "RunsElsewhere";
  }
}

/** Who works on what: in-process with Deno KV, across replicas with PostgreSQL advisory locks. */
export interface Coordination {
  /** Runs `fn` as the only worker on `id` anywhere, or returns BUSY at once. */
  exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | typeof BUSY>;
  /** Runs `fn` in one of `limit` import slots shared by every process on this store. */
  importSlot<T>(limit: number, fn: () => Promise<T>): Promise<T>;
  /** Runs `work` while this process leads `name` (one process at a time), until `signal`. */
  lead(
    name: string,
    signal: AbortSignal,
    work: (signal: AbortSignal) => Promise<void>,
  ): Promise<void>;
}

/** One process owns the store (Deno KV): coordination is in memory. */
export class LocalCoordination implements Coordination {
  readonly #busy = new Set<string>();
  #slots?: { limit: number; free: number; waiting: (() => void)[] };

  async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T | typeof BUSY> {
    if (this.#busy.has(id)) return BUSY;
    this.#busy.add(id);
    try {
      return await fn();
    } finally {
      this.#busy.delete(id);
    }
  }

  async importSlot<T>(limit: number, fn: () => Promise<T>): Promise<T> {
    const s = this.#slots ??= { limit, free: limit, waiting: [] };
    if (s.free > 0) s.free--;
    else await new Promise<void>((r) => s.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = s.waiting.shift();
      if (next) next();
      else s.free++;
    }
  }

  lead(_name: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<void>) {
    return work(signal);
  }
}
