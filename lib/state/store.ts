/**
 * Registration records in the state store (Deno KV, or PostgreSQL for several replicas): keys,
 * atomic claims on rack slots and MACs, paging, audit trail. Both backends sit behind `StateKv`
 * (the part of Deno KV the service uses) and `Coordination` (who runs what, where).
 */
import { MacAlreadyRegistered, NotFound, RackSlotTaken } from "../domain/errors.ts";
import type { AuditEntry, Registration } from "../domain/registration.ts";
import { type Coordination, LocalCoordination, type StateKv } from "./backend.ts";
import { keys } from "./keys.ts";
import {
  INDEX_VERSION,
  indexRecord,
  type SearchEntry,
  type SiteFilter,
  siteMatches,
  textQuery,
} from "./search_index.ts";

export * from "../domain/registration.ts";
export * from "./backend.ts";
export type { SiteFilter } from "./search_index.ts";

const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
/** How many records' last writes `update` keeps to start from (more than run side by side). */
const RECENT_WRITES = 256;

/** One record's updates from this process: waiting for a commit, or for the next one. */
interface Writes {
  waiting: { change: (r: Registration) => void; done: PromiseWithResolvers<Registration> }[];
  later: ((r: Registration) => void)[];
  busy: boolean;
  last?: Deno.KvEntry<Registration>;
}

/** Typed access to registration records. */
export class RegistrationStore {
  constructor(
    readonly kv: StateKv,
    readonly coordination: Coordination = new LocalCoordination(),
  ) {}

  async get(id: string): Promise<Registration | null> {
    return (await this.kv.get<Registration>(keys.registration(id))).value;
  }

  async mustGet(id: string): Promise<Registration> {
    const r = await this.get(id);
    if (!r) throw new NotFound(`No registration ${id}`);
    return r;
  }

  async idByName(name: string): Promise<string | null> {
    return (await this.kv.get<string>(keys.byName(name))).value;
  }

  async idByMac(mac: string): Promise<string | null> {
    return (await this.kv.get<string>(keys.byMac(mac))).value;
  }

  async idByIdempotencyKey(key: string): Promise<string | null> {
    return (await this.kv.get<string>(keys.idempotency(key))).value;
  }

  /**
   * Creates a record and claims its name, MAC and rack units in one atomic commit, so two racing
   * requests for one slot or one MAC cannot both win. Throws naming the holder on a lost race.
   */
  async create(record: Registration, idempotencyKey?: string, audit?: AuditEntry): Promise<void> {
    const op = this.kv.atomic()
      .check({ key: keys.registration(record.id), versionstamp: null })
      .check({ key: keys.byName(record.device_name), versionstamp: null })
      .check({ key: keys.byMac(record.bmc_mac), versionstamp: null })
      .set(keys.registration(record.id), record)
      .set(keys.byName(record.device_name), record.id)
      .set(keys.byMac(record.bmc_mac), record.id);
    indexRecord(op, record);
    for (const u of record.slot?.units ?? []) {
      op.check({ key: keys.slot(record.slot!.rackId, u), versionstamp: null })
        .set(keys.slot(record.slot!.rackId, u), record.id);
    }
    if (idempotencyKey) {
      op.check({ key: keys.idempotency(idempotencyKey), versionstamp: null })
        .set(keys.idempotency(idempotencyKey), record.id, { expireIn: IDEMPOTENCY_TTL_MS });
    }
    if (audit) op.set(this.#auditKey(record.id, audit), audit);
    const res = await op.commit();
    if (res.ok) return;
    await this.explainClaimFailure(record);
    throw new Error(`Registration ${record.device_name} lost a race; retry the request`);
  }

  /** Finds which claim failed and throws the matching domain error. */
  private async explainClaimFailure(record: Registration): Promise<void> {
    const macHolder = await this.idByMac(record.bmc_mac);
    if (macHolder && macHolder !== record.id) {
      const other = await this.get(macHolder);
      throw new MacAlreadyRegistered(record.bmc_mac, other?.device_name ?? macHolder);
    }
    for (const u of record.slot?.units ?? []) {
      const holder = (await this.kv.get<string>(keys.slot(record.slot!.rackId, u))).value;
      if (holder && holder !== record.id) {
        const other = await this.get(holder);
        throw new RackSlotTaken(
          record.resolved?.rackName ?? String(record.slot!.rackId),
          u,
          other?.device_name ?? holder,
        );
      }
    }
    const nameHolder = await this.idByName(record.device_name);
    if (nameHolder && nameHolder !== record.id) {
      const other = await this.get(nameHolder);
      throw new MacAlreadyRegistered(
        other?.bmc_mac ?? "another MAC",
        `${record.device_name} (a registration with that name already exists)`,
      );
    }
  }

  /**
   * Read-modify-write with optimistic concurrency; `change` may be called more than once. Updates
   * of one record from this process go out one commit at a time: those that arrive while a commit
   * is in flight (a run's steps side by side) share the next one, and each starts from the record
   * this process last wrote instead of reading it again (a write from elsewhere fails the check:
   * read, apply again). Changes given to `later` go with it. The record returned is the store's
   * copy until the next update: read it, never change it.
   */
  update(id: string, change: (r: Registration) => void): Promise<Registration> {
    const w = this.#writes.get(id) ?? this.#newWrites(id);
    const done = Promise.withResolvers<Registration>();
    w.waiting.push({ change, done });
    if (!w.busy) this.#flush(id, w);
    return done.promise;
  }

  /**
   * A change not worth a commit of its own (a step starting, the ids it records on its way to its
   * end): it goes with this process's next update of the record (or `flush`), and is lost if the
   * process stops first, so only for what a resumed run does again.
   */
  later(id: string, change: (r: Registration) => void): void {
    (this.#writes.get(id) ?? this.#newWrites(id)).later.push(change);
  }

  /** Writes what `later` holds for the record now, if anything. */
  async flush(id: string): Promise<void> {
    if (this.#writes.get(id)?.later.length) await this.update(id, () => {});
  }

  /** Pending and in-flight updates by record, and each record's last write from here. */
  readonly #writes = new Map<string, Writes>();

  #newWrites(id: string): Writes {
    const w: Writes = { waiting: [], later: [], busy: false };
    this.#writes.set(id, w);
    return w;
  }

  async #flush(id: string, w: Writes): Promise<void> {
    w.busy = true;
    while (w.waiting.length) {
      const batch = w.waiting.splice(0);
      const later = w.later.splice(0);
      try {
        const next = await this.#commit(id, w, later, batch);
        for (const b of batch) b.done.resolve(next);
      } catch (e) {
        for (const b of batch) b.done.reject(e);
      }
    }
    w.busy = false;
    // The last write is kept for the record's next update while it is still being changed (a
    // run); the oldest are forgotten beyond a bound.
    this.#writes.delete(id);
    if (w.later.length) this.#writes.set(id, w);
    else if (w.last) {
      this.#recent.set(id, w.last);
      if (this.#recent.size > RECENT_WRITES) this.#recent.delete(this.#recent.keys().next().value!);
    }
  }

  /** The last record written from here, by id (for `update` to start from). */
  readonly #recent = new Map<string, Deno.KvEntry<Registration>>();

  async #commit(
    id: string,
    w: Writes,
    later: ((r: Registration) => void)[],
    batch: Writes["waiting"],
  ): Promise<Registration> {
    let entry = w.last ?? this.#recent.get(id);
    this.#recent.delete(id);
    for (let attempt = 0; attempt < 20; attempt++) {
      entry ??= await this.kv.get<Registration>(keys.registration(id)) as Deno.KvEntry<
        Registration
      >;
      if (!entry.value) throw new NotFound(`No registration ${id}`);
      const next = structuredClone(entry.value);
      for (const c of later) c(next);
      for (let i = 0; i < batch.length; i++) {
        try {
          batch[i].change(next);
        } catch (e) {
          // That caller alone fails; the others start again without its partial change.
          batch.splice(i, 1)[0].done.reject(e);
          return await this.#commit(id, w, later, batch);
        }
      }
      next.updated_at = new Date().toISOString();
      const op = this.kv.atomic().check(entry).set(keys.registration(id), next);
      indexRecord(op, next, entry.value);
      const res = await op.commit();
      if (res.ok) {
        w.last = { key: keys.registration(id), value: next, versionstamp: res.versionstamp };
        return next;
      }
      entry = undefined; // changed elsewhere: read it again
    }
    throw new Error(`Registration ${id} is being changed too often; try again`);
  }

  /** Releases name, MAC and slot claims (after decommission) while keeping the record. */
  async releaseClaims(record: Registration): Promise<void> {
    const op = this.kv.atomic();
    const release = async (key: Deno.KvKey) => {
      const e = await this.kv.get<string>(key);
      if (e.value === record.id) op.check(e).delete(key);
    };
    await release(keys.byName(record.device_name));
    await release(keys.byMac(record.bmc_mac));
    for (const u of record.slot?.units ?? []) await release(keys.slot(record.slot!.rackId, u));
    await op.commit();
  }

  /** Marks or clears a decommissioned record as waiting for its BareMetalHost to be gone. */
  async setHostDeletion(id: string, waiting: boolean): Promise<void> {
    if (waiting) await this.kv.set(keys.hostDeletion(id), true);
    else await this.kv.delete(keys.hostDeletion(id));
  }

  /** Ids of the records waiting for their BareMetalHost to be deleted. */
  async hostDeletions(): Promise<string[]> {
    const ids: string[] = [];
    for await (const e of this.kv.list({ prefix: keys.hostDeletions() })) {
      ids.push(String(e.key[1]));
    }
    return ids;
  }

  /** Who holds a rack unit, if anyone. */
  async slotHolder(rackId: number, unit: number): Promise<string | null> {
    return (await this.kv.get<string>(keys.slot(rackId, unit))).value;
  }

  /**
   * Newest first, `limit` per page, continuing from `cursor`. Filters are applied while reading an
   * index so a page is always full when enough records match. A text query reads the ids of its
   * term only (see `searchTerms`); its cursor is the last id returned.
   */
  async list(
    options: {
      limit?: number;
      cursor?: string;
      site?: string | SiteFilter;
      status?: string;
      q?: string;
    } = {},
  ): Promise<{ items: Registration[]; cursor: string | null }> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
    const site: SiteFilter | undefined = typeof options.site === "string"
      ? { names: [options.site.trim().toLowerCase()] }
      : options.site;
    // A query without a letter or digit ("-", "::") filters nothing.
    const query = options.q ? textQuery(options.q) : undefined;
    if (query?.term) return await this.search(query, limit, options.status, site, options.cursor);
    if (!options.site && !options.status) {
      const iter = this.kv.list<Registration>({ prefix: keys.registrations() }, {
        reverse: true,
        cursor: options.cursor || undefined,
        batchSize: limit + 1,
      });
      const items: Registration[] = [];
      for await (const entry of iter) {
        items.push(entry.value);
        if (items.length === limit) return { items, cursor: iter.cursor };
      }
      return { items, cursor: null };
    }
    // Status and site: read the small index entries, then fetch only the matching records.
    const prefix = options.status ? keys.withStatus(options.status) : keys.searchAll();
    const iter = this.kv.list<SearchEntry>({ prefix }, {
      reverse: true,
      cursor: options.cursor || undefined,
      batchSize: site ? 500 : limit + 1,
    });
    const ids: string[] = [];
    let cursor: string | null = null;
    for await (const entry of iter) {
      if (site && !siteMatches(entry.value, site)) continue;
      ids.push(entry.key.at(-1) as string);
      if (ids.length === limit) {
        cursor = iter.cursor;
        break;
      }
    }
    return { items: await this.records(ids), cursor };
  }

  /** A text query: the term's ids newest first, each checked against its entry in batches. */
  private async search(
    query: ReturnType<typeof textQuery>,
    limit: number,
    status: string | undefined,
    site: SiteFilter | undefined,
    cursor: string | undefined,
  ) {
    const prefix = keys.terms(query.term);
    const iter = this.kv.list<number>(
      cursor ? { prefix, end: [...prefix, cursor] } : { prefix },
      { reverse: true, batchSize: limit + 10 },
    );
    const ids: string[] = [];
    let batch: string[] = [];
    const check = async () => {
      const entries = await this.getMany<SearchEntry>(batch.map((id) => keys.search(id)));
      for (const [i, e] of entries.entries()) {
        if (ids.length === limit) break;
        if (!e || (status && e.status !== status) || (site && !siteMatches(e, site))) continue;
        if (query.matches(e)) ids.push(batch[i]);
      }
      batch = [];
    };
    for await (const entry of iter) {
      batch.push(entry.key.at(-1) as string);
      if (batch.length === limit + 10) await check();
      if (ids.length === limit) break;
    }
    if (batch.length && ids.length < limit) await check();
    return {
      items: await this.records(ids),
      cursor: ids.length === limit ? ids[ids.length - 1] : null,
    };
  }

  /** Values of many keys, 10 per `getMany` (its limit), side by side; null where absent. */
  private async getMany<T>(list: Deno.KvKey[]): Promise<(T | null)[]> {
    const chunks = [];
    for (let i = 0; i < list.length; i += 10) chunks.push(list.slice(i, i + 10));
    const found = await Promise.all(chunks.map((c) => this.kv.getMany<T[]>(c)));
    return found.flat().map((e) => e.value);
  }

  private async records(ids: string[]): Promise<Registration[]> {
    return (await this.getMany<Registration>(ids.map((id) => keys.registration(id))))
      .filter((r): r is Registration => r !== null);
  }

  /**
   * Writes the index entries of records stored before the index took its present shape, once
   * (start-up). Idempotent: a run stopped half-way is finished by the next.
   */
  async ensureIndex(): Promise<number> {
    const version = await this.kv.get<number>(keys.indexVersion());
    if (version.value === INDEX_VERSION) return 0;
    let count = 0;
    let batch: Deno.KvEntry<Registration>[] = [];
    const flush = async () => {
      await Promise.all(batch.map(async (entry) => {
        for (;;) {
          const op = this.kv.atomic().check(entry);
          indexRecord(op, entry.value); // prev unknown: write every entry of the record
          if ((await op.commit()).ok) return;
          const fresh = await this.kv.get<Registration>(entry.key);
          if (!fresh.value) return;
          entry = fresh as Deno.KvEntry<Registration>;
        }
      }));
      count += batch.length;
      batch = [];
    };
    for await (const e of this.kv.list<Registration>({ prefix: keys.registrations() })) {
      batch.push(e);
      if (batch.length === 100) await flush();
    }
    await flush();
    await this.kv.set(keys.indexVersion(), INDEX_VERSION);
    return count;
  }

  /** Every record whose work is unfinished, for resuming after a restart. */
  async unfinished(): Promise<Registration[]> {
    const ids: string[] = [];
    for (const status of ["queued", "running"]) {
      for await (const e of this.kv.list({ prefix: keys.withStatus(status) })) {
        ids.push(e.key.at(-1) as string);
      }
    }
    return (await this.records(ids.sort())).filter((r) =>
      r.status === "queued" || r.status === "running"
    );
  }

  /** Every live record whose last password rotation has this status (resume after a restart). */
  async byRotation(status: "running" | "ok" | "failed"): Promise<Registration[]> {
    const out: Registration[] = [];
    for await (const e of this.kv.list<Registration>({ prefix: keys.registrations() })) {
      if (e.value.rotation?.status === status && e.value.status !== "decommissioned") {
        out.push(e.value);
      }
    }
    return out;
  }

  async audit(id: string, entry: AuditEntry): Promise<void> {
    await this.kv.set(this.#auditKey(id, entry), entry);
  }

  // A random suffix keeps two entries in the same millisecond apart.
  #auditKey(id: string, entry: AuditEntry): Deno.KvKey {
    return keys.audit(id, `${entry.at}#${crypto.randomUUID().slice(0, 8)}`);
  }

  async auditTrail(id: string): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const e of this.kv.list<AuditEntry>({ prefix: keys.auditFor(id) })) {
      out.push(e.value);
    }
    return out;
  }
}
