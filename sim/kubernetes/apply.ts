/** Writes: server-side apply with managed fields and conflicts, updates, validation and commit. */
// deno-lint-ignore-file no-explicit-any -- request bodies are arbitrary JSON documents
import {
  deepEqual,
  deletePath,
  type FieldPath,
  key,
  mergeInto,
  overlaps,
  ownedPaths,
  unkey,
  valueAt,
} from "./fields.ts";
import {
  bareMetalHostAdmission,
  BASE64,
  foldStringData,
  metadataCauses,
  secretCauses,
} from "./schema.ts";
import {
  checkNamespace,
  type Cluster,
  emit,
  type ManagerEntry,
  now,
  objKey,
  render,
  type Stored,
} from "./state.ts";
import {
  badRequest,
  BMHS,
  conflictModified,
  invalid,
  notFound,
  type ResourceType,
  SECRETS,
  StatusError,
} from "./status.ts";

import { logRequest } from "../faults.ts";

/** Validates and stores a new or changed object; returns what the API would answer. */
export function commit(
  cluster: Cluster,
  t: ResourceType,
  ns: string,
  name: string,
  next: any,
  managers: Map<string, ManagerEntry>,
  strict: boolean,
  warn: string[],
): Stored {
  const k = objKey(t, ns, name);
  const existing = cluster.objects.get(k);
  const causes = metadataCauses(next.metadata);
  if (t === SECRETS) {
    for (const [dk, dv] of Object.entries(next.data ?? {})) {
      if (typeof dv !== "string" || !BASE64.test(dv)) {
        throw badRequest(
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data for key ${dk}`,
        );
      }
    }
    causes.push(...secretCauses(next, existing?.object));
  } else {
    const result = cluster.validateHost!(next);
    if (result.unknownFields.length) {
      if (strict) {
        throw badRequest(
          `.${result.unknownFields[0]}: field not declared in schema`,
        );
      }
      for (const f of result.unknownFields) {
        deletePath(next, f.split("."));
        warn.push(`unknown field "${f}"`);
      }
    }
    causes.push(...result.causes);
  }
  // The API server's rule (ValidateObjectMetaUpdate): a deleting object gains no finalizer.
  const added = (next.metadata.finalizers ?? []).filter((f: string) =>
    !(existing?.object.metadata.finalizers ?? []).includes(f)
  );
  if (existing?.object.metadata.deletionTimestamp && added.length) {
    causes.push({
      reason: "FieldValueForbidden",
      message: `Forbidden: no new finalizers can be added if the object is being deleted, ` +
        `found new finalizers []string{${added.map((f: string) => JSON.stringify(f)).join(", ")}}`,
      field: "metadata.finalizers",
    });
  }
  if (causes.length) throw invalid(t, name, causes);
  if (t === BMHS) {
    const denial = bareMetalHostAdmission(next);
    if (denial) {
      throw new StatusError(
        403,
        "Forbidden",
        `admission webhook "baremetalhost.metal3.io" denied the request: ${denial}`,
      );
    }
  }
  for (const w of warn) logRequest(cluster.warnings, w);

  if (existing) {
    // Identical content is a no-op: no new resourceVersion, no event.
    if (deepEqual(stripVolatile(existing.object), stripVolatile(next))) {
      existing.managers = managers;
      return existing;
    }
    const previous = render(existing);
    cluster.rv++;
    next.metadata.resourceVersion = String(cluster.rv);
    if (t === BMHS && !deepEqual(existing.object.spec, next.spec)) {
      next.metadata.generation = (existing.object.metadata.generation ?? 1) + 1;
    }
    const stored: Stored = { type: t, object: next, managers };
    // The last finalizer gone from an object being deleted: it is deleted now.
    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
      cluster.objects.delete(k);
      emit(cluster, "DELETED", stored, previous);
      collectGarbage(cluster, stored);
      return stored;
    }
    cluster.objects.set(k, stored);
    emit(cluster, "MODIFIED", stored, previous);
    return stored;
  }
  cluster.rv++;
  next.metadata.resourceVersion = String(cluster.rv);
  next.metadata.uid = crypto.randomUUID();
  next.metadata.creationTimestamp = now();
  if (t === BMHS) next.metadata.generation = 1;
  const stored: Stored = { type: t, object: next, managers };
  cluster.objects.set(k, stored);
  emit(cluster, "ADDED", stored);
  if (t === BMHS && cluster.options.provisioning && next.spec?.bmc) {
    cluster.onHostCreated?.(ns, name);
  }
  return stored;
}

export function stripVolatile(o: any): any {
  const c = structuredClone(o);
  delete c.metadata.resourceVersion;
  delete c.metadata.managedFields;
  delete c.metadata.generation;
  return c;
}

export function cloneManagers(m: Map<string, ManagerEntry>): Map<string, ManagerEntry> {
  return new Map([...m].map(([k, e]) => [k, { ...e, fields: new Set(e.fields) }]));
}

/** Deletes Secrets owned (ownerReferences) by a deleted object, as the garbage collector does. */
export function collectGarbage(cluster: Cluster, owner: Stored) {
  const uid = owner.object.metadata.uid;
  for (const [k, s] of cluster.objects) {
    if (s.object.metadata.ownerReferences?.some((r: any) => r.uid === uid)) {
      cluster.objects.delete(k);
      cluster.rv++;
      s.object.metadata.resourceVersion = String(cluster.rv);
      emit(cluster, "DELETED", s, render(s));
    }
  }
}

/** The fields an Update changed become its manager's, and leave every other manager. */
export function recordUpdate(
  managers: Map<string, ManagerEntry>,
  manager: string,
  before: any,
  after: any,
  subresource?: string,
): Map<string, ManagerEntry> {
  const out = cloneManagers(managers);
  const oldPaths = ownedPaths(before ?? {});
  const newPaths = ownedPaths(after);
  const changed = [...newPaths].filter((p) =>
    !oldPaths.has(p) || !deepEqual(valueAt(before, unkey(p)), valueAt(after, unkey(p)))
  );
  const gone = [...oldPaths].filter((p) => !newPaths.has(p));
  for (const [m, e] of out) {
    for (const f of [...e.fields]) {
      const fp = unkey(f);
      if (gone.some((g) => overlaps(unkey(g), fp))) e.fields.delete(f);
      else if (m !== manager && changed.some((c) => overlaps(unkey(c), fp))) e.fields.delete(f);
    }
  }
  if (changed.length || subresource) {
    const entry = out.get(manager) ?? { operation: "Update", fields: new Set(), time: now() };
    for (const c of changed) entry.fields.add(c);
    entry.operation = "Update";
    entry.time = now();
    if (subresource) entry.subresource = subresource;
    out.set(manager, entry);
  }
  return out;
}

/** Server-side apply of `intent` by `manager` (reference D.5). */
export async function apply(
  cluster: Cluster,
  t: ResourceType,
  ns: string,
  name: string,
  intent: any,
  manager: string,
  force: boolean,
  strict: boolean,
): Promise<{ stored: Stored; created: boolean }> {
  if (!intent || typeof intent !== "object" || Array.isArray(intent)) {
    throw badRequest("error decoding YAML: the body must be an object");
  }
  checkKindAndName(t, ns, name, intent, true);
  if (intent.metadata.managedFields !== undefined) {
    throw badRequest("metadata.managedFields must be nil");
  }
  const existing = cluster.objects.get(objKey(t, ns, name));
  if (
    intent.metadata.resourceVersion !== undefined && existing &&
    intent.metadata.resourceVersion !== existing.object.metadata.resourceVersion
  ) throw conflictModified(t, name);
  const cleanIntent = structuredClone(intent);
  for (const f of ["resourceVersion", "uid", "creationTimestamp", "generation"]) {
    delete cleanIntent.metadata[f];
  }
  // With a status subresource, status is ignored on the main resource.
  if (t.statusSubresource) delete cleanIntent.status;
  if (t === SECRETS) foldStringData(cleanIntent);
  const applied = ownedPaths(cleanIntent);
  const warn: string[] = [];

  if (!existing) {
    checkNamespace(cluster, ns);
    const next = cleanIntent;
    next.metadata.namespace = ns;
    if (t === SECRETS) next.type ??= "Opaque";
    const managers = new Map<string, ManagerEntry>([[manager, {
      operation: "Apply",
      fields: applied,
      time: now(),
    }]]);
    return {
      stored: await commit(cluster, t, ns, name, next, managers, strict, warn),
      created: true,
    };
  }

  const managers = cloneManagers(existing.managers);
  const conflicts: { manager: string; path: FieldPath }[] = [];
  for (const [m, e] of managers) {
    if (m === manager) continue;
    for (const f of e.fields) {
      const fp = unkey(f);
      const clash = [...applied].some((a) => {
        const ap = unkey(a);
        if (!overlaps(ap, fp)) return false;
        const p = ap.length >= fp.length ? ap : fp;
        return !deepEqual(valueAt(cleanIntent, p), valueAt(existing.object, p));
      });
      if (clash) conflicts.push({ manager: m, path: fp });
    }
  }
  if (conflicts.length && !force) {
    const causes = conflicts.map((c) => ({
      reason: "FieldManagerConflict",
      message: `conflict with "${c.manager}"`,
      field: `.${c.path.join(".")}`,
    }));
    throw new StatusError(
      409,
      "Conflict",
      `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? "s" : ""}: ` +
        causes.map((c) => `${c.message}: ${c.field}`).join(", "),
      { causes },
    );
  }
  for (const c of conflicts) managers.get(c.manager)!.fields.delete(key(c.path));

  const next = structuredClone(existing.object);
  const previousOwn = managers.get(manager)?.fields ?? new Set<string>();
  for (const f of previousOwn) {
    if (applied.has(f)) continue;
    const fp = unkey(f);
    const ownedElsewhere = [...managers].some(([m, e]) =>
      m !== manager && [...e.fields].some((o) => overlaps(unkey(o), fp))
    );
    if (!ownedElsewhere) deletePath(next, fp);
  }
  const { metadata: intentMeta, ...intentRest } = cleanIntent;
  delete intentRest.apiVersion;
  delete intentRest.kind;
  mergeInto(next, intentRest);
  for (const m of ["labels", "annotations", "finalizers", "ownerReferences"]) {
    if (intentMeta[m] !== undefined) mergeInto(next.metadata, { [m]: intentMeta[m] });
  }
  const entry = managers.get(manager);
  managers.set(manager, {
    operation: "Apply",
    fields: applied,
    // An unchanged apply keeps its timestamp so that it stays a no-op.
    time: entry && sameSet(entry.fields, applied) ? entry.time : now(),
  });
  return {
    stored: await commit(cluster, t, ns, name, next, managers, strict, warn),
    created: false,
  };
}

export function sameSet(a: Set<string>, b: Set<string>) {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

export function checkKindAndName(
  t: ResourceType,
  ns: string,
  name: string | null,
  body: any,
  isApply = false,
) {
  if (body.apiVersion !== t.apiVersion || body.kind !== t.kind) {
    const what = isApply ? "apply patch" : "body";
    throw badRequest(
      `the ${what} has apiVersion ${JSON.stringify(body.apiVersion)} and kind ` +
        `${JSON.stringify(body.kind)}, expected ${t.apiVersion} ${t.kind}`,
    );
  }
  body.metadata ??= {};
  if (body.metadata.namespace !== undefined && body.metadata.namespace !== ns) {
    throw badRequest(
      "the namespace of the provided object does not match the namespace sent on the request",
    );
  }
  if (name !== null && body.metadata.name !== undefined && body.metadata.name !== name) {
    throw badRequest(
      `the name of the object (${body.metadata.name}) does not match the name on the URL (${name})`,
    );
  }
  if (name !== null) body.metadata.name = name;
}

/** Non-apply write (PUT, merge/json patch, test helper) by `manager`. */
export async function update(
  cluster: Cluster,
  kind: "Secret" | "BareMetalHost",
  ns: string,
  name: string,
  mutate: (object: any) => void,
  manager = "unknown",
  subresource?: "status",
): Promise<any> {
  const t = kind === "Secret" ? SECRETS : BMHS;
  await cluster.validatorReady;
  const existing = cluster.objects.get(objKey(t, ns, name));
  if (!existing) throw notFound(t, name);
  const next = structuredClone(existing.object);
  mutate(next);
  return render(await writeUpdate(cluster, t, existing, next, manager, subresource, false));
}

export async function writeUpdate(
  cluster: Cluster,
  t: ResourceType,
  existing: Stored,
  proposed: any,
  manager: string,
  subresource: "status" | undefined,
  strict: boolean,
): Promise<Stored> {
  const ns = existing.object.metadata.namespace, name = existing.object.metadata.name;
  let next: any;
  if (subresource === "status") {
    // Only status changes through the status subresource.
    next = structuredClone(existing.object);
    next.status = proposed.status;
    if (next.status === undefined) delete next.status;
  } else {
    next = proposed;
    if (t.statusSubresource) {
      if (existing.object.status !== undefined) next.status = existing.object.status;
      else delete next.status;
    }
    // System metadata is the server's.
    for (const f of ["uid", "creationTimestamp", "deletionTimestamp", "generation"]) {
      if (existing.object.metadata[f] !== undefined) {
        next.metadata[f] = existing.object.metadata[f];
      } else delete next.metadata[f];
    }
    next.metadata.name = name;
    next.metadata.namespace = ns;
    delete next.metadata.managedFields;
    if (t === SECRETS) foldStringData(next);
  }
  next.metadata.resourceVersion = existing.object.metadata.resourceVersion;
  // Status fields are not tracked as managed fields here; the operator owns them all.
  const managers = subresource
    ? cloneManagers(existing.managers)
    : recordUpdate(existing.managers, manager, existing.object, next);
  return await commit(cluster, t, ns, name, next, managers, strict, []);
}
