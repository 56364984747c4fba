/**
 * The fake API server's state (`Cluster`): stored objects with their managed fields, the event
 * history and open watches; resource types, Status errors and label/field selectors.
 */
// deno-lint-ignore-file no-explicit-any -- stored objects are arbitrary JSON documents
import { fieldsV1 } from "./fields.ts";
import type { BareMetalHostValidator } from "./schema.ts";
import { badRequest, type ResourceType, StatusError } from "./status.ts";

import { Faults } from "../faults.ts";

export interface ManagerEntry {
  operation: "Apply" | "Update";
  fields: Set<string>;
  time: string;
  subresource?: string;
}

export interface Stored {
  type: ResourceType;
  object: any;
  managers: Map<string, ManagerEntry>;
}

// Selectors

export type Requirement = {
  key: string;
  op: "=" | "!=" | "in" | "notin" | "exists" | "!";
  values: string[];
};

export function parseSelector(selector: string | null): Requirement[] {
  if (!selector) return [];
  const reqs: Requirement[] = [];
  // Split on commas outside parentheses.
  const parts = selector.match(/([^,(]+(\([^)]*\))?)+/g) ?? [];
  for (const raw of parts.map((p) => p.trim()).filter(Boolean)) {
    let m: RegExpMatchArray | null;
    if ((m = raw.match(/^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      reqs.push({
        key: m[1],
        op: m[2] as "in" | "notin",
        values: m[3].split(",").map((s) => s.trim()),
      });
    } else if ((m = raw.match(/^([^=!]+)!=(.*)$/))) {
      reqs.push({ key: m[1].trim(), op: "!=", values: [m[2].trim()] });
    } else if ((m = raw.match(/^([^=!]+)==?(.*)$/))) {
      reqs.push({ key: m[1].trim(), op: "=", values: [m[2].trim()] });
    } else if ((m = raw.match(/^!(\S+)$/))) reqs.push({ key: m[1], op: "!", values: [] });
    else if (/^\S+$/.test(raw)) reqs.push({ key: raw, op: "exists", values: [] });
    else throw badRequest(`unable to parse requirement: ${raw}`);
  }
  return reqs;
}

export function matches(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case "=":
      case "in":
        return has && r.values.includes(l[r.key]);
      case "!=":
      case "notin":
        return !has || !r.values.includes(l[r.key]);
      case "exists":
        return has;
      case "!":
        return !has;
    }
  });
}

export function fieldMatches(selector: string | null, obj: any): boolean {
  if (!selector) return true;
  return selector.split(",").every((term) => {
    const m = term.match(/^([\w.]+)(==?|!=)(.*)$/);
    if (!m) throw badRequest(`invalid field selector: ${term}`);
    const value = m[1] === "metadata.name"
      ? obj.metadata.name
      : m[1] === "metadata.namespace"
      ? obj.metadata.namespace
      : undefined;
    if (value === undefined) throw badRequest(`field label not supported: ${m[1]}`);
    return m[2] === "!=" ? value !== m[3] : value === m[3];
  });
}

export interface WatchRecord {
  type: "ADDED" | "MODIFIED" | "DELETED";
  rv: number;
  resource: string;
  namespace: string;
  object: any;
  previous?: any;
}

export interface Watcher {
  type: ResourceType;
  namespace: string | null;
  labels: Requirement[];
  fields: string | null;
  send(record: { type: string; object: any }): void;
  end(): void;
}

/** Options of the fake that its concerns read. */
export interface ClusterOptions {
  provisioning?: { stepMs: number; deleteMs?: number };
  historyLimit?: number;
  goneAs?: "event" | "http";
  namespaces?: string[];
}

/** Everything one fake API server holds; the concern modules take it as their first argument. */
export interface Cluster {
  options: ClusterOptions;
  faults: Faults;
  objects: Map<string, Stored>;
  history: WatchRecord[];
  historyLimit: number;
  watchers: Set<Watcher>;
  timers: Set<ReturnType<typeof setTimeout>>;
  requests: { method: string; path: string; search: string; contentType: string }[];
  warnings: string[];
  token: string | undefined;
  /** Latest resourceVersion handed out (global, as in etcd). */
  rv: number;
  /** Watches from a resourceVersion below this are gone. */
  compactedRv: number;
  closed: boolean;
  /** When the operator may drop its finalizer from a host being deleted, by object key. */
  deleteDue: Map<string, number>;
  /**
   * Loaded before any write is served, so that a write reads the object, validates and stores
   * without yielding: two writes to one object never interleave and lose one another's change
   * (the API server serialises them too).
   */
  validateHost: BareMetalHostValidator | undefined;
  validatorReady: Promise<void>;
  /** Called when a BareMetalHost with a BMC is created (the simulated operator starts on it). */
  onHostCreated?: (ns: string, name: string) => void;
}

export function createCluster(
  options: ClusterOptions & { token?: string },
  validator: Promise<BareMetalHostValidator>,
): Cluster {
  const cluster: Cluster = {
    options,
    faults: new Faults(),
    objects: new Map(),
    history: [],
    historyLimit: options.historyLimit ?? 1000,
    watchers: new Set(),
    timers: new Set(),
    requests: [],
    warnings: [],
    token: options.token,
    rv: 0,
    compactedRv: 0,
    closed: false,
    deleteDue: new Map(),
    validateHost: undefined,
    validatorReady: validator.then((v) => {
      cluster.validateHost = v;
    }),
  };
  return cluster;
}

export const objKey = (t: ResourceType, ns: string, name: string) => `${t.plural}/${ns}/${name}`;
export function render(s: Stored): any {
  const out = structuredClone(s.object);
  const managed = [...s.managers].filter(([, e]) => e.fields.size).map(([manager, e]) => ({
    manager,
    operation: e.operation,
    apiVersion: s.type.apiVersion,
    time: e.time,
    fieldsType: "FieldsV1",
    fieldsV1: fieldsV1(e.fields),
    ...(e.subresource ? { subresource: e.subresource } : {}),
  }));
  if (managed.length) out.metadata.managedFields = managed;
  return out;
}

export function emit(cluster: Cluster, type: WatchRecord["type"], s: Stored, previous?: any) {
  const record: WatchRecord = {
    type,
    rv: cluster.rv,
    resource: s.type.plural,
    namespace: s.object.metadata.namespace,
    object: render(s),
    previous,
  };
  cluster.history.push(record);
  while (cluster.history.length > cluster.historyLimit) {
    cluster.compactedRv = cluster.history.shift()!.rv;
  }
  for (const w of cluster.watchers) deliver(w, record);
}

/** Sends a record to a watcher, translated for its selector (leaving the selection = DELETED). */
export function deliver(w: Watcher, r: WatchRecord) {
  if (r.resource !== w.type.plural) return;
  if (w.namespace && r.namespace !== w.namespace) return;
  const now = matches(w.labels, r.object.metadata.labels) && fieldMatches(w.fields, r.object);
  const before = r.previous !== undefined &&
    matches(w.labels, r.previous.metadata.labels) && fieldMatches(w.fields, r.previous);
  if (r.type === "DELETED") {
    if (now) w.send({ type: "DELETED", object: r.object });
  } else if (r.type === "ADDED") {
    if (now) w.send({ type: "ADDED", object: r.object });
  } else if (now && before) w.send({ type: "MODIFIED", object: r.object });
  else if (now) w.send({ type: "ADDED", object: r.object });
  else if (before) w.send({ type: "DELETED", object: r.object });
}

export function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}

export function checkNamespace(cluster: Cluster, ns: string) {
  if (cluster.options.namespaces && !cluster.options.namespaces.includes(ns)) {
    throw new StatusError(404, "NotFound", `namespaces "${ns}" not found`, {
      name: ns,
      kind: "namespaces",
    });
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
