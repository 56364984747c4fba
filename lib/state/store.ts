/**
 * Registration records in the state store (Deno KV, or PostgreSQL for several replicas): keys,
 * atomic claims on rack slots and MACs, paging, audit trail. Both backends sit behind `StateKv`
 * (the part of Deno KV the service uses) and `Coordination` (who runs what, where).
 */
import type {
  ProvisioningState,
  RegistrationStatus,
  StepName,
  StepState,
} from "../domain/model.ts";
import { type BmcSystem, type HostNic, STEP_NAMES } from "../domain/model.ts";
import { MacAlreadyRegistered, NotFound, RackSlotTaken } from "../domain/errors.ts";
import { keys } from "./keys.ts";

/** What the requester asked for; Netbox references as given (id, slug or name). Never the password. */
export interface RegistrationRequest {
  site?: string | number;
  location?: string | number;
  rack?: string | number;
  position?: number;
  device_type?: string | number;
  device_role?: string | number;
  bmc_prefix?: string | number;
  tenant?: string | number;
  bmc_ip?: string;
}

/** Netbox ids resolved during pre-flight. */
export interface ResolvedRefs {
  siteId: number;
  siteSlug: string;
  siteName?: string;
  locationId: number;
  locationName?: string;
  rackId: number;
  rackName: string;
  rackHeight: number;
  deviceTypeId: number;
  uHeight: number;
  roleId: number;
  tenantId?: number;
  prefixId?: number;
  /** CIDR of that prefix. */
  prefix?: string;
  /** A Netbox device of this name that already carries this BMC MAC (reused, not created). */
  existingDeviceId?: number;
}

/** Ids of everything the steps created, so a retry reuses them and decommission removes them. */
export interface CreatedObjects {
  netbox_device_id?: number;
  netbox_device_preexisting?: boolean;
  netbox_interface_id?: number;
  netbox_mac_id?: number | null;
  netbox_ip_id?: number;
  openbao_path?: string;
  openbao_version?: number;
  kea_subnet_id?: number;
  kea_servers?: { server: string; outcome: string; message?: string }[];
  metal3_secret?: string;
  metal3_bmh?: string;
}

export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  detail?: string;
}

export interface Registration {
  id: string;
  device_name: string;
  status: RegistrationStatus;
  source: "register" | "import";
  bmc_mac: string;
  bmc_username: string;
  boot_mac?: string;
  bmc_ip?: string;
  request: RegistrationRequest;
  resolved?: ResolvedRefs;
  steps: Record<StepName, StepState>;
  created: CreatedObjects;
  warnings: string[];
  error?: string;
  /** Which system of a multi-system BMC (its Redfish `Id` or path), as the operator picked it. */
  bmc_system?: string;
  /** What the Redfish check found. */
  bmc?: {
    vendor: string;
    model: string;
    serial: string;
    systemId: string;
    systemPath: string;
    /** A BMC that manages several systems, until one is picked (`bmc_system`). */
    systems?: BmcSystem[];
    /** Host NICs that could boot, with their link state: the technician's choice when the BMC
     * does not say which one boots. */
    nics?: HostNic[];
    /** The boot NIC MAC discovered over Redfish ("" when ambiguous): shown as discovered, never
     * as `boot_mac` (which is what a person scanned or typed). */
    bootMac?: string;
    bootReason?: string;
  };
  provisioning?: ProvisioningState;
  /** Rotate the BMC password at registration (the request's `rotate`; default the config's). */
  rotate?: boolean;
  /** The last BMC password rotation: `running` until OpenBao, the BMC and the Secret agree. */
  rotation?: {
    status: "running" | "ok" | "failed";
    message: string;
    at: string;
    /** The OpenBao version that is current after it. */
    version?: number;
  };
  actor: string;
  created_at: string;
  updated_at: string;
  /**
   * Decommissioned, but its BareMetalHost is still being deleted (the operator's finalizer):
   * name, MAC and rack slot stay claimed until it is gone.
   */
  host_deletion?: { name: string; since: string };
  /** Claimed rack units (rack id + positions), released on decommission. */
  slot?: { rackId: number; units: number[] };
}

/** Bumped whenever the index entries change shape; `ensureIndex` rewrites them once. */
const INDEX_VERSION = 2;

/** What a filtered list reads instead of the record. */
interface SearchEntry {
  /** Device name, lower case. */
  name: string;
  mac: string;
  ip?: string;
  status: string;
  /** The Netbox site once resolved: the same for a request that named it by id, slug or name. */
  site_id?: number;
  /** The site as requested and, once resolved, its slug and name (lower case). */
  sites: string[];
}

/** The `site` filter of a list: the resolved Netbox site, or only the text as written. */
export interface SiteFilter {
  id?: number;
  /** Lower-case names the site goes by (as written, slug, name), for unresolved records. */
  names: string[];
}

function searchEntry(r: Registration): SearchEntry {
  const sites = [r.request.site, r.resolved?.siteSlug, r.resolved?.siteName]
    .filter((s) => s !== undefined).map((s) => String(s).toLowerCase());
  return {
    name: r.device_name.toLowerCase(),
    mac: r.bmc_mac,
    ...(r.bmc_ip ? { ip: r.bmc_ip } : {}),
    status: r.status,
    ...(r.resolved ? { site_id: r.resolved.siteId } : {}),
    sites: [...new Set(sites)],
  };
}

function siteMatches(entry: SearchEntry, filter: SiteFilter): boolean {
  if (filter.id !== undefined && entry.site_id !== undefined) return entry.site_id === filter.id;
  return entry.sites.some((s) => filter.names.includes(s.toLowerCase()));
}

/** Letters and digits only: the form terms are stored and looked up in. */
const termOf = (s: string) => s.toLowerCase().replace(/[^0-9a-z]/g, "");
/** Longer queries look up their first 12 characters; the entry check does the rest. */
const TERM_MAX = 12;
/** Name parts after this many separators are not indexed (bounds the entries per record). */
const NAME_PARTS_MAX = 6;

/** Where the name's parts start: 0 and after each separator, at most NAME_PARTS_MAX more. */
function partStarts(name: string): number[] {
  const starts = [0];
  for (const m of name.matchAll(/[^0-9a-z](?=[0-9a-z])/g)) {
    if (starts.length > NAME_PARTS_MAX) break;
    starts.push(m.index + 1);
  }
  return starts;
}

/**
 * The terms a search can look a record up by: every prefix (up to TERM_MAX) of the device name
 * from its start and from each part after a separator (`-r12` finds `dcoa-r120u5`), of the BMC IP,
 * and the MAC's last 4 to 12 hex digits (a label's MAC in any form, or its end). About 35 entries
 * per record, all written in the record's own atomic commit.
 */
function searchTerms(r: Registration): Set<string> {
  const out = new Set<string>();
  const prefixes = (t: string) => {
    for (let k = 1; k <= Math.min(t.length, TERM_MAX); k++) out.add(t.slice(0, k));
  };
  const name = r.device_name.toLowerCase();
  for (const b of partStarts(name)) prefixes(termOf(name.slice(b)));
  if (r.bmc_ip) prefixes(termOf(r.bmc_ip));
  const hex = termOf(r.bmc_mac);
  for (let k = 4; k <= hex.length; k++) out.add(hex.slice(-k));
  return out;
}

/** A free-text query: what it looks up, and the exact check of each entry found. */
function textQuery(q: string): { term: string; matches: (e: SearchEntry) => boolean } {
  const text = q.trim().toLowerCase();
  const part = text.replace(/^[^0-9a-z]+/, "");
  // A MAC as printed on a label (3CECEF…, 3c-ec-ef…, 3cec.ef…), or its last digits.
  const hex = text.replace(/[-:.\s]/g, "");
  const mac = /^[0-9a-f]{4,12}$/.test(hex) ? hex : undefined;
  return {
    term: termOf(text).slice(0, TERM_MAX),
    matches: (e) => {
      if (e.ip?.startsWith(text)) return true;
      if (mac && termOf(e.mac).endsWith(mac)) return true;
      return part !== "" && partStarts(e.name).some((b) => e.name.startsWith(part, b));
    },
  };
}

/** Adds the index writes for `next` (and removes what `prev` had and `next` has not) to an atomic op. */
function indexRecord(op: StateAtomic, next: Registration, prev?: Registration) {
  if (prev && prev.status !== next.status) op.delete(keys.byStatus(prev.status, next.id));
  const entry = searchEntry(next);
  if (!prev || JSON.stringify(searchEntry(prev)) !== JSON.stringify(entry)) {
    op.set(keys.search(next.id), entry).set(keys.byStatus(next.status, next.id), entry);
  }
  const before = prev ? searchTerms(prev) : new Set<string>();
  const after = searchTerms(next);
  for (const t of before) if (!after.has(t)) op.delete(keys.byTerm(t, next.id));
  for (const t of after) if (!before.has(t)) op.set(keys.byTerm(t, next.id), 1);
}

let lastMs = 0;
let seq = 0;

/** Time-ordered id (monotonic within this process): lists come out oldest first, reversed for newest first. */
export function newRegistrationId(): string {
  const now = Date.now();
  seq = now === lastMs ? seq + 1 : 0;
  lastMs = now;
  const rand = crypto.getRandomValues(new Uint8Array(4));
  return now.toString(36).padStart(9, "0") + seq.toString(36).padStart(3, "0") +
    Array.from(rand, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function pendingSteps(): Record<StepName, StepState> {
  return Object.fromEntries(STEP_NAMES.map((s) => [s, { status: "pending" }])) as Record<
    StepName,
    StepState
  >;
}

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

const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;

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
  async create(record: Registration, idempotencyKey?: string): Promise<void> {
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

  /** Read-modify-write with optimistic concurrency; `change` may be called more than once. */
  async update(id: string, change: (r: Registration) => void): Promise<Registration> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const entry = await this.kv.get<Registration>(keys.registration(id));
      if (!entry.value) throw new NotFound(`No registration ${id}`);
      const next = structuredClone(entry.value);
      change(next);
      next.updated_at = new Date().toISOString();
      const op = this.kv.atomic().check(entry).set(keys.registration(id), next);
      indexRecord(op, next, entry.value);
      const res = await op.commit();
      if (res.ok) return next;
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
    // A counter suffix keeps two entries in the same millisecond apart.
    await this.kv.set(keys.audit(id, `${entry.at}#${crypto.randomUUID().slice(0, 8)}`), entry);
  }

  async auditTrail(id: string): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    for await (const e of this.kv.list<AuditEntry>({ prefix: keys.auditFor(id) })) {
      out.push(e.value);
    }
    return out;
  }
}
