/** Managed fields (FieldsV1), field paths, and merge/JSON patches of the fake API server. */
// deno-lint-ignore-file no-explicit-any -- patched objects are arbitrary JSON documents
import { badRequest, StatusError } from "./status.ts";

/** A field path, e.g. ["spec","bmc","address"], stored as its JSON text in sets. */
export type FieldPath = string[];
export const key = (p: FieldPath) => JSON.stringify(p);
export const unkey = (k: string) => JSON.parse(k) as FieldPath;

export function ownedPaths(obj: any): Set<string> {
  const out = new Set<string>();
  const walk = (v: any, path: FieldPath) => {
    if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) {
      for (const [k, sub] of Object.entries(v)) walk(sub, [...path, k]);
    } else out.add(key(path));
  };
  for (const [k, v] of Object.entries(obj ?? {})) {
    if (["apiVersion", "kind", "status"].includes(k)) continue;
    if (k === "metadata") {
      for (const m of ["labels", "annotations", "finalizers", "ownerReferences"]) {
        if ((v as any)?.[m] !== undefined) walk((v as any)[m], ["metadata", m]);
      }
      continue;
    }
    walk(v, [k]);
  }
  return out;
}

export function valueAt(obj: any, path: FieldPath): any {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[p];
  }
  return cur;
}

export function deletePath(obj: any, path: FieldPath) {
  const parents: any[] = [];
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!cur || typeof cur !== "object") return;
    parents.push(cur);
    cur = cur[p];
  }
  if (!cur || typeof cur !== "object") return;
  delete cur[path[path.length - 1]];
  // Maps emptied by the removal go too (as the API server drops empty label maps).
  for (let i = path.length - 2; i >= 1; i--) {
    const parent = parents[i];
    const child = parent?.[path[i]];
    if (child && typeof child === "object" && !Array.isArray(child) && !Object.keys(child).length) {
      delete parent[path[i]];
    } else break;
  }
}

export function overlaps(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ak = Object.keys(a as object), bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => deepEqual((a as any)[k], (b as any)[k]));
}

/** Merges an apply intent into the live object: maps recursively, lists and scalars replaced. */
export function mergeInto(target: any, intent: any) {
  for (const [k, v] of Object.entries(intent)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      if (!target[k] || typeof target[k] !== "object" || Array.isArray(target[k])) target[k] = {};
      mergeInto(target[k], v);
    } else target[k] = structuredClone(v);
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: any, patch: any): any {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return structuredClone(patch);
  const out = target && typeof target === "object" && !Array.isArray(target)
    ? structuredClone(target)
    : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch (add, remove, replace, test, copy, move). */
export function jsonPatch(target: any, ops: any): any {
  if (!Array.isArray(ops)) throw badRequest("json patch must be a list of operations");
  const doc = structuredClone(target);
  const parse = (ptr: string) =>
    String(ptr).split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  const parentOf = (path: string[]) => {
    const parent = valueAt(doc, path.slice(0, -1));
    if (parent === undefined || parent === null || typeof parent !== "object") {
      throw new StatusError(422, "Invalid", `doc is missing path: "/${path.join("/")}"`);
    }
    return parent;
  };
  const put = (path: string[], value: any, insert: boolean) => {
    const parent = parentOf(path);
    const last = path[path.length - 1];
    if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      parent.splice(i, insert ? 0 : 1, value);
    } else parent[last] = value;
  };
  const remove = (path: string[]) => {
    const parent = parentOf(path);
    const last = path[path.length - 1];
    if (!(last in parent)) {
      throw new StatusError(422, "Invalid", `doc is missing path: "/${path.join("/")}"`);
    }
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  };
  for (const op of ops) {
    const path = parse(op.path);
    switch (op.op) {
      case "add":
        put(path, structuredClone(op.value), true);
        break;
      case "replace":
        remove(path);
        put(path, structuredClone(op.value), true);
        break;
      case "remove":
        remove(path);
        break;
      case "test":
        if (!deepEqual(valueAt(doc, path), op.value)) {
          throw new StatusError(422, "Invalid", `testing value /${path.join("/")} failed`);
        }
        break;
      case "copy":
        put(path, structuredClone(valueAt(doc, parse(op.from))), true);
        break;
      case "move": {
        const v = valueAt(doc, parse(op.from));
        remove(parse(op.from));
        put(path, v, true);
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

/** Renders managed field paths in the API's FieldsV1 form: {"f:spec":{"f:online":{}}}. */
export function fieldsV1(fields: Set<string>): Record<string, unknown> {
  const root: any = {};
  for (const k of fields) {
    let cur = root;
    for (const p of unkey(k)) cur = cur[`f:${p}`] ??= {};
  }
  return root;
}
