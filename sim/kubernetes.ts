/** A Kubernetes API server fake for Secrets and Metal3 BareMetalHosts: server-side apply with
 * managed fields, CRD schema validation, Status errors, watch with bounded history, and an optional
 * simulated bare-metal operator. Used by the tests and by the demo. */
// deno-lint-ignore-file no-explicit-any -- request bodies are arbitrary JSON documents
import { parse as parseYaml } from "yaml";
import { Ajv } from "ajv";
import { type Fault, Faults, logRequest } from "./faults.ts";
import type {
  BareMetalHostObject,
  BareMetalHostStatus,
  SecretObject,
} from "../lib/domain/metal3.ts";

// ---------------------------------------------------------------------------------------------
// BareMetalHost schema validation (shared with tests/metal3_test.ts)

/** One validation problem, shaped like a Kubernetes `StatusCause`. */
export interface FieldCause {
  reason: string;
  message: string;
  field: string;
}

export interface BareMetalHostValidation {
  /** Schema violations: the API server answers 422 Invalid with these causes. */
  causes: FieldCause[];
  /** Fields the schema does not declare (pruned by the API server, or rejected when strict). */
  unknownFields: string[];
}

export type BareMetalHostValidator = (object: unknown) => BareMetalHostValidation;

/** The upstream BareMetalHost CRD kept in the repository (`schemas/`, see its README). */
export const BMH_CRD_URL = new URL(
  "../schemas/metal3.io_baremetalhosts.yaml",
  import.meta.url,
);

const validators = new Map<string, Promise<BareMetalHostValidator>>();

/** Loads the validator for BareMetalHost objects from the CRD's openAPIV3Schema. */
export function loadBareMetalHostValidator(
  crdUrl: URL = BMH_CRD_URL,
): Promise<BareMetalHostValidator> {
  const key = crdUrl.href;
  let v = validators.get(key);
  if (!v) {
    v = buildValidator(crdUrl);
    validators.set(key, v);
  }
  return v;
}

async function buildValidator(crdUrl: URL): Promise<BareMetalHostValidator> {
  const text = await Deno.readTextFile(crdUrl);
  const crd = parseYaml(text) as any;
  const version = crd.spec.versions.find((v: any) => v.name === "v1alpha1") ?? crd.spec.versions[0];
  const original = version.schema.openAPIV3Schema;
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
  for (const f of ["int32", "int64", "double", "float", "byte", "int-or-string"]) {
    ajv.addFormat(f, true);
  }
  const validate = ajv.compile(toJsonSchema(original));
  return (object) => {
    const ok = validate(object);
    const causes = ok ? [] : (validate.errors ?? []).map((e) => ajvCause(e, object));
    const unknownFields: string[] = [];
    findUnknown(original, object, "", unknownFields);
    return { causes: dedupeCauses(causes), unknownFields };
  };
}

/** OpenAPI v3 (Kubernetes flavour) to JSON Schema: drop `x-kubernetes-*`, expand `nullable`. */
function toJsonSchema(node: any): any {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== "object") return node;
  const out: any = {};
  for (const [k, v] of Object.entries(node)) {
    if (k.startsWith("x-kubernetes-") || k === "nullable") continue;
    // Under `properties` the keys are field names, not keywords.
    out[k] = k === "properties"
      ? Object.fromEntries(Object.entries(v as any).map(([p, s]) => [p, toJsonSchema(s)]))
      : toJsonSchema(v);
  }
  if (node.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  return out;
}

function findUnknown(schema: any, value: any, path: string, out: string[]) {
  if (!schema || value === null || typeof value !== "object") return;
  if (Array.isArray(value)) {
    if (schema.items) value.forEach((v, i) => findUnknown(schema.items, v, `${path}[${i}]`, out));
    return;
  }
  if (schema["x-kubernetes-preserve-unknown-fields"]) return;
  if (schema.properties) {
    for (const [k, v] of Object.entries(value)) {
      const sub = schema.properties[k];
      const p = path ? `${path}.${k}` : k;
      if (sub) findUnknown(sub, v, p, out);
      else if (!schema.additionalProperties) out.push(p);
    }
  } else if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
    for (const [k, v] of Object.entries(value)) {
      findUnknown(schema.additionalProperties, v, path ? `${path}.${k}` : k, out);
    }
  }
}

function fieldOf(instancePath: string): string {
  return instancePath.split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, p) => /^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p, "");
}

function valueAtPointer(obj: any, instancePath: string): any {
  let cur = obj;
  for (const p of instancePath.split("/").slice(1)) {
    cur = cur?.[p.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return cur;
}

function goValue(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v) ?? "null";
}

function ajvCause(e: any, object: unknown): FieldCause {
  const field = fieldOf(e.instancePath);
  const value = valueAtPointer(object, e.instancePath);
  switch (e.keyword) {
    case "required": {
      const f = field ? `${field}.${e.params.missingProperty}` : e.params.missingProperty;
      return { reason: "FieldValueRequired", message: "Required value", field: f };
    }
    case "pattern":
      return {
        reason: "FieldValueInvalid",
        message: `Invalid value: ${
          goValue(value)
        }: ${field} in body should match '${e.params.pattern}'`,
        field,
      };
    case "enum":
      return {
        reason: "FieldValueNotSupported",
        message: `Unsupported value: ${goValue(value)}: supported values: ${
          e.params.allowedValues.map((a: unknown) => JSON.stringify(a)).join(", ")
        }`,
        field,
      };
    case "type": {
      const got = Array.isArray(value) ? "array" : value === null ? "null" : typeof value;
      return {
        reason: "FieldValueTypeInvalid",
        message: `Invalid value: "${got}": ${field} in body must be of type ${
          [e.params.type].flat().join(",")
        }: "${got}"`,
        field,
      };
    }
    default:
      return {
        reason: "FieldValueInvalid",
        message: `Invalid value: ${goValue(value)}: ${field} in body ${e.message}`,
        field,
      };
  }
}

function dedupeCauses(causes: FieldCause[]): FieldCause[] {
  const seen = new Set<string>();
  return causes.filter((c) => {
    const k = `${c.field}\n${c.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Resource types, Status errors

interface ResourceType {
  kind: "Secret" | "BareMetalHost";
  plural: string;
  group: string;
  apiVersion: string;
  /** `secrets` / `baremetalhosts.metal3.io`, as the API server names them in messages. */
  qualified: string;
  /** Kind as written in Invalid messages: `Secret` / `BareMetalHost.metal3.io`. */
  qualifiedKind: string;
  statusSubresource: boolean;
  /** Custom resources refuse an update without metadata.resourceVersion. */
  unconditionalUpdate: boolean;
}

const SECRETS: ResourceType = {
  kind: "Secret",
  plural: "secrets",
  group: "",
  apiVersion: "v1",
  qualified: "secrets",
  qualifiedKind: "Secret",
  statusSubresource: false,
  unconditionalUpdate: true,
};
const BMHS: ResourceType = {
  kind: "BareMetalHost",
  plural: "baremetalhosts",
  group: "metal3.io",
  apiVersion: "metal3.io/v1alpha1",
  qualified: "baremetalhosts.metal3.io",
  qualifiedKind: "BareMetalHost.metal3.io",
  statusSubresource: true,
  unconditionalUpdate: false,
};

/** A response that is not the happy path; thrown inside the fake and turned into a Status. */
class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  toJSON() {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

const notFound = (t: ResourceType, name: string) =>
  new StatusError(404, "NotFound", `${t.qualified} "${name}" not found`, {
    name,
    group: t.group,
    kind: t.plural,
  });

function invalid(t: ResourceType, name: string, causes: FieldCause[]): StatusError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new StatusError(422, "Invalid", `${t.qualifiedKind} "${name}" is invalid: ${list}`, {
    name,
    group: t.group,
    kind: t.kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

const badRequest = (message: string) => new StatusError(400, "BadRequest", message);

function conflictModified(t: ResourceType, name: string): StatusError {
  return new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${t.qualified} "${name}": the object has been modified; ` +
      "please apply your changes to the latest version and try again",
    { name, group: t.group, kind: t.plural },
  );
}

// ---------------------------------------------------------------------------------------------
// Field paths and managed fields

/** A field path, e.g. ["spec","bmc","address"], stored as its JSON text in sets. */
type FieldPath = string[];
const key = (p: FieldPath) => JSON.stringify(p);
const unkey = (k: string) => JSON.parse(k) as FieldPath;

interface ManagerEntry {
  operation: "Apply" | "Update";
  fields: Set<string>;
  time: string;
  subresource?: string;
}

interface Stored {
  type: ResourceType;
  object: any;
  managers: Map<string, ManagerEntry>;
}

/** The user-owned fields of an object: leaves of maps; lists and scalars are atomic. */
function ownedPaths(obj: any): Set<string> {
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

function valueAt(obj: any, path: FieldPath): any {
  let cur = obj;
  for (const p of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[p];
  }
  return cur;
}

function deletePath(obj: any, path: FieldPath) {
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

function overlaps(a: FieldPath, b: FieldPath): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ak = Object.keys(a as object), bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => deepEqual((a as any)[k], (b as any)[k]));
}

/** Merges an apply intent into the live object: maps recursively, lists and scalars replaced. */
function mergeInto(target: any, intent: any) {
  for (const [k, v] of Object.entries(intent)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      if (!target[k] || typeof target[k] !== "object" || Array.isArray(target[k])) target[k] = {};
      mergeInto(target[k], v);
    } else target[k] = structuredClone(v);
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: any, patch: any): any {
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
function jsonPatch(target: any, ops: any): any {
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
function fieldsV1(fields: Set<string>): Record<string, unknown> {
  const root: any = {};
  for (const k of fields) {
    let cur = root;
    for (const p of unkey(k)) cur = cur[`f:${p}`] ??= {};
  }
  return root;
}

// ---------------------------------------------------------------------------------------------
// Selectors

type Requirement = {
  key: string;
  op: "=" | "!=" | "in" | "notin" | "exists" | "!";
  values: string[];
};

function parseSelector(selector: string | null): Requirement[] {
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

function matches(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
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

function fieldMatches(selector: string | null, obj: any): boolean {
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

// ---------------------------------------------------------------------------------------------
// Metadata and Secret validation (what the API server checks for every kind)

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function metadataCauses(meta: any): FieldCause[] {
  const causes: FieldCause[] = [];
  const name = meta?.name;
  if (!name) {
    causes.push({
      reason: "FieldValueRequired",
      message: "Required value: name or generateName is required",
      field: "metadata.name",
    });
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    causes.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must ` +
        "consist of lower case alphanumeric characters, '-' or '.', and must start and end " +
        "with an alphanumeric character",
      field: "metadata.name",
    });
  }
  for (const [k, v] of Object.entries(meta?.labels ?? {})) {
    const slash = k.lastIndexOf("/");
    const prefix = slash >= 0 ? k.slice(0, slash) : "";
    const local = slash >= 0 ? k.slice(slash + 1) : k;
    if (
      (slash >= 0 && (!DNS_SUBDOMAIN.test(prefix) || prefix.length > 253)) ||
      local.length > 63 || !LABEL_NAME.test(local)
    ) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric ` +
          "characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        field: "metadata.labels",
      });
    }
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or ` +
          "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an " +
          "alphanumeric character (regex used for validation is " +
          "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        field: "metadata.labels",
      });
    }
  }
  for (const [k, v] of Object.entries(meta?.annotations ?? {})) {
    if (typeof v !== "string") {
      causes.push({
        reason: "FieldValueTypeInvalid",
        message: "Invalid value: must be a string",
        field: `metadata.annotations.${k}`,
      });
    }
  }
  return causes;
}

/** Folds write-only `stringData` into base64 `data`, as the API server does on every write. */
function foldStringData(secret: any) {
  if (secret.stringData && typeof secret.stringData === "object") {
    secret.data ??= {};
    for (const [k, v] of Object.entries(secret.stringData)) {
      secret.data[k] = encodeBase64(String(v));
    }
  }
  delete secret.stringData;
}

function encodeBase64(text: string): string {
  let bin = "";
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function secretCauses(secret: any, previous: any): FieldCause[] {
  const causes: FieldCause[] = [];
  let size = 0;
  for (const [k, v] of Object.entries(secret.data ?? {})) {
    if (!SECRET_KEY.test(k)) {
      causes.push({
        reason: "FieldValueInvalid",
        message: `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of ` +
          "alphanumeric characters, '-', '_' or '.'",
        field: `data[${k}]`,
      });
    }
    size += String(v).length * 3 / 4;
  }
  if (size > 1024 * 1024) {
    causes.push({
      reason: "FieldValueTooLong",
      message: "Too long: must have at most 1048576 bytes",
      field: "data",
    });
  }
  if (previous && previous.type !== secret.type) {
    causes.push({
      reason: "FieldValueInvalid",
      message: `Invalid value: ${JSON.stringify(secret.type)}: field is immutable`,
      field: "type",
    });
  }
  return causes;
}

/** Schemes the operator's admission webhook accepts in `bmc.address`. */
const KNOWN_BMC_SCHEMES = new Set([
  "ipmi",
  "libvirt",
  "redfish",
  "redfish-virtualmedia",
  "redfish-uefihttp",
  "idrac-redfish",
  "idrac-virtualmedia",
  "ilo5-redfish",
  "ilo5-virtualmedia",
]);

/** The operator's admission webhook check: why it would deny the host, or null. */
export function bareMetalHostAdmission(bmh: any): string | null {
  const address: unknown = bmh.spec?.bmc?.address;
  if (typeof address !== "string" || address === "") return null;
  const m = address.match(/^([a-z0-9-]+)(\+https?)?:\/\//);
  const scheme = m ? m[1] : "ipmi"; // a bare host[:port] is IPMI
  if (!KNOWN_BMC_SCHEMES.has(scheme)) {
    return `Unknown BMC type '${scheme}' for address ${address}`;
  }
  if (scheme === "libvirt" && !bmh.spec?.bootMACAddress) {
    return `BMC driver libvirt requires a BootMACAddress value`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// The fake

export interface FakeKubernetesOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Simulate the bare-metal operator: registering → inspecting → available, one step per stepMs.
   * A deleted host keeps the operator's finalizer (deletionTimestamp set, still readable) for
   * deleteMs (default stepMs) while it is deprovisioned, then is gone.
   */
  provisioning?: { stepMs: number; deleteMs?: number };
  /** Events kept for watches; a watch from an older resourceVersion gets 410 Gone. */
  historyLimit?: number;
  /** How a too-old watch is refused: an ERROR event in a 200 stream (watch cache), or HTTP 410. */
  goneAs?: "event" | "http";
  /** Namespaces that exist; any namespace when absent. */
  namespaces?: string[];
  /** Where the BareMetalHost CRD is read from. */
  crdUrl?: URL;
}

export interface WatchRecord {
  type: "ADDED" | "MODIFIED" | "DELETED";
  rv: number;
  resource: string;
  namespace: string;
  object: any;
  previous?: any;
}

export interface FakeKubernetesState {
  /** Latest resourceVersion handed out (global, as in etcd). */
  readonly resourceVersion: number;
  /** Every request seen (after faults), for assertions. */
  readonly requests: { method: string; path: string; search: string; contentType: string }[];
  /** Warnings sent (e.g. unknown fields pruned). */
  readonly warnings: string[];
  readonly openWatches: number;
  secrets(namespace: string): SecretObject[];
  bareMetalHosts(namespace: string): BareMetalHostObject[];
  secret(namespace: string, name: string): SecretObject | null;
  bareMetalHost(namespace: string, name: string): BareMetalHostObject | null;
}

export interface FakeKubernetes extends Disposable {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  state: FakeKubernetesState;
  /** Changes the accepted bearer token (a rotated service-account token). */
  setToken(token: string | undefined): void;
  /** Drops the event history, as etcd compaction does: older watches get 410. */
  compact(): void;
  /** Ends every open watch stream (an API server restart or a dropped connection). */
  endWatches(): void;
  /** Writes a BareMetalHost's status through the status subresource, as the operator does. */
  setBareMetalHostStatus(
    namespace: string,
    name: string,
    status: BareMetalHostStatus,
  ): BareMetalHostObject;
  /** Changes an object as another controller would (an `Update` by `manager`). */
  update(
    kind: "Secret" | "BareMetalHost",
    namespace: string,
    name: string,
    mutate: (object: any) => void,
    manager?: string,
  ): unknown;
  /** Stops the operator timers and ends the watch streams. */
  close(): void;
}

interface Watcher {
  type: ResourceType;
  namespace: string | null;
  labels: Requirement[];
  fields: string | null;
  send(record: { type: string; object: any }): void;
  end(): void;
}

const OPERATOR = "baremetal-operator";
const BMH_FINALIZER = "baremetalhost.metal3.io";

/** Creates an in-memory Kubernetes API server for Secrets and BareMetalHosts. */
export function createFakeKubernetes(options: FakeKubernetesOptions = {}): FakeKubernetes {
  const faults = new Faults();
  const objects = new Map<string, Stored>();
  const history: WatchRecord[] = [];
  const historyLimit = options.historyLimit ?? 1000;
  const watchers = new Set<Watcher>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const requests: FakeKubernetesState["requests"] = [];
  const warnings: string[] = [];
  let token = options.token;
  let rv = 0;
  /** Watches from a resourceVersion below this are gone. */
  let compactedRv = 0;
  let closed = false;

  const objKey = (t: ResourceType, ns: string, name: string) => `${t.plural}/${ns}/${name}`;
  /** When the operator may drop its finalizer from a host being deleted, by object key. */
  const deleteDue = new Map<string, number>();
  // Loaded before any write is served, so that a write reads the object, validates and stores
  // without yielding: two writes to one object never interleave and lose one another's change
  // (the API server serialises them too).
  let validateHost: BareMetalHostValidator | undefined;
  const validatorReady = loadBareMetalHostValidator(options.crdUrl).then((v) => {
    validateHost = v;
  });

  function render(s: Stored): any {
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

  function emit(type: WatchRecord["type"], s: Stored, previous?: any) {
    const record: WatchRecord = {
      type,
      rv,
      resource: s.type.plural,
      namespace: s.object.metadata.namespace,
      object: render(s),
      previous,
    };
    history.push(record);
    while (history.length > historyLimit) compactedRv = history.shift()!.rv;
    for (const w of watchers) deliver(w, record);
  }

  /** Sends a record to a watcher, translated for its selector (leaving the selection = DELETED). */
  function deliver(w: Watcher, r: WatchRecord) {
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

  function now(): string {
    return new Date().toISOString().replace(/\.\d+Z$/, "Z");
  }

  function checkNamespace(ns: string) {
    if (options.namespaces && !options.namespaces.includes(ns)) {
      throw new StatusError(404, "NotFound", `namespaces "${ns}" not found`, {
        name: ns,
        kind: "namespaces",
      });
    }
  }

  /** Validates and stores a new or changed object; returns what the API would answer. */
  function commit(
    t: ResourceType,
    ns: string,
    name: string,
    next: any,
    managers: Map<string, ManagerEntry>,
    strict: boolean,
    warn: string[],
  ): Stored {
    const k = objKey(t, ns, name);
    const existing = objects.get(k);
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
      const result = validateHost!(next);
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
          `found new finalizers []string{${
            added.map((f: string) => JSON.stringify(f)).join(", ")
          }}`,
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
    for (const w of warn) logRequest(warnings, w);

    if (existing) {
      // Identical content is a no-op: no new resourceVersion, no event.
      if (deepEqual(stripVolatile(existing.object), stripVolatile(next))) {
        existing.managers = managers;
        return existing;
      }
      const previous = render(existing);
      rv++;
      next.metadata.resourceVersion = String(rv);
      if (t === BMHS && !deepEqual(existing.object.spec, next.spec)) {
        next.metadata.generation = (existing.object.metadata.generation ?? 1) + 1;
      }
      const stored: Stored = { type: t, object: next, managers };
      // The last finalizer gone from an object being deleted: it is deleted now.
      if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length) {
        objects.delete(k);
        emit("DELETED", stored, previous);
        collectGarbage(stored);
        return stored;
      }
      objects.set(k, stored);
      emit("MODIFIED", stored, previous);
      return stored;
    }
    rv++;
    next.metadata.resourceVersion = String(rv);
    next.metadata.uid = crypto.randomUUID();
    next.metadata.creationTimestamp = now();
    if (t === BMHS) next.metadata.generation = 1;
    const stored: Stored = { type: t, object: next, managers };
    objects.set(k, stored);
    emit("ADDED", stored);
    if (t === BMHS && options.provisioning && next.spec?.bmc) scheduleOperator(ns, name);
    return stored;
  }

  function stripVolatile(o: any): any {
    const c = structuredClone(o);
    delete c.metadata.resourceVersion;
    delete c.metadata.managedFields;
    delete c.metadata.generation;
    return c;
  }

  function cloneManagers(m: Map<string, ManagerEntry>): Map<string, ManagerEntry> {
    return new Map([...m].map(([k, e]) => [k, { ...e, fields: new Set(e.fields) }]));
  }

  /** Deletes Secrets owned (ownerReferences) by a deleted object, as the garbage collector does. */
  function collectGarbage(owner: Stored) {
    const uid = owner.object.metadata.uid;
    for (const [k, s] of objects) {
      if (s.object.metadata.ownerReferences?.some((r: any) => r.uid === uid)) {
        objects.delete(k);
        rv++;
        s.object.metadata.resourceVersion = String(rv);
        emit("DELETED", s, render(s));
      }
    }
  }

  /** The fields an Update changed become its manager's, and leave every other manager. */
  function recordUpdate(
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
  async function apply(
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
    const existing = objects.get(objKey(t, ns, name));
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
      checkNamespace(ns);
      const next = cleanIntent;
      next.metadata.namespace = ns;
      if (t === SECRETS) next.type ??= "Opaque";
      const managers = new Map<string, ManagerEntry>([[manager, {
        operation: "Apply",
        fields: applied,
        time: now(),
      }]]);
      return { stored: await commit(t, ns, name, next, managers, strict, warn), created: true };
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
    return { stored: await commit(t, ns, name, next, managers, strict, warn), created: false };
  }

  function sameSet(a: Set<string>, b: Set<string>) {
    return a.size === b.size && [...a].every((x) => b.has(x));
  }

  function checkKindAndName(
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

  // ---- the simulated bare-metal operator ----

  function schedule(fn: () => void, ms: number) {
    if (closed) return;
    const id = setTimeout(() => {
      timers.delete(id);
      if (!closed) fn();
    }, ms);
    timers.add(id);
  }

  function operatorUpdate(t: ResourceType, ns: string, name: string, mutate: (o: any) => void) {
    return update(t.kind, ns, name, mutate, OPERATOR).catch(() => {});
  }

  function scheduleOperator(ns: string, name: string) {
    const step = options.provisioning!.stepMs;
    schedule(() => void advance(ns, name), step);
  }

  async function advance(ns: string, name: string) {
    const s = objects.get(objKey(BMHS, ns, name));
    if (!s) return;
    const o = s.object;
    if (o.metadata.deletionTimestamp) {
      // Deprovisioning takes its time: an earlier provisioning tick leaves the finalizer.
      if (Date.now() < (deleteDue.get(objKey(BMHS, ns, name)) ?? 0)) return;
      deleteDue.delete(objKey(BMHS, ns, name));
      await operatorUpdate(BMHS, ns, name, (b) => {
        b.metadata.finalizers = (b.metadata.finalizers ?? []).filter((f: string) =>
          f !== BMH_FINALIZER
        );
      });
      return;
    }
    const state = o.status?.provisioning?.state ?? "";
    const base = {
      lastUpdated: now(),
      poweredOn: false,
      errorCount: 0,
      errorMessage: "",
      operationalStatus: "OK",
    };
    if (state === "") {
      if (!o.metadata.finalizers?.includes(BMH_FINALIZER)) {
        await operatorUpdate(BMHS, ns, name, (b) => {
          b.metadata.finalizers = [...(b.metadata.finalizers ?? []), BMH_FINALIZER];
        });
      }
      await writeStatus(ns, name, {
        ...base,
        provisioning: { state: "registering", ID: crypto.randomUUID() },
      });
    } else if (state === "registering") {
      const credName = o.spec?.bmc?.credentialsName;
      const secret = credName ? objects.get(objKey(SECRETS, ns, credName)) : undefined;
      const user = secret?.object.data?.username, pass = secret?.object.data?.password;
      if (!secret || !user || !pass) {
        await writeStatus(ns, name, {
          ...o.status,
          lastUpdated: now(),
          operationalStatus: "error",
          errorType: "registration error",
          errorMessage: !secret
            ? `Failed to get BMC credentials: secret ${ns}/${credName} not found`
            : `Missing BMC connection detail '${!user ? "username" : "password"}' in credentials`,
          errorCount: (o.status?.errorCount ?? 0) + 1,
        });
      } else {
        await operatorUpdate(SECRETS, ns, credName, (sec) => {
          sec.metadata.labels = { ...sec.metadata.labels, "environment.metal3.io": "baremetal" };
          if (!sec.metadata.ownerReferences?.some((r: any) => r.uid === o.metadata.uid)) {
            sec.metadata.ownerReferences = [{
              apiVersion: BMHS.apiVersion,
              kind: BMHS.kind,
              name,
              uid: o.metadata.uid,
            }];
          }
        });
        await writeStatus(ns, name, {
          ...base,
          provisioning: { ...o.status.provisioning, state: "inspecting" },
          goodCredentials: {
            credentials: { name: credName, namespace: ns },
            credentialsVersion: secret.object.metadata.resourceVersion,
          },
        });
      }
    } else if (state === "inspecting") {
      await writeStatus(ns, name, {
        ...o.status,
        ...base,
        provisioning: { ...o.status.provisioning, state: "available" },
      });
      return;
    } else return;
    scheduleOperator(ns, name);
  }

  function writeStatus(ns: string, name: string, status: any): Promise<unknown> {
    return update(
      "BareMetalHost",
      ns,
      name,
      (b) => {
        b.status = status;
      },
      OPERATOR,
      "status",
    ).catch(() => {});
  }

  /** Non-apply write (PUT, merge/json patch, test helper) by `manager`. */
  async function update(
    kind: "Secret" | "BareMetalHost",
    ns: string,
    name: string,
    mutate: (object: any) => void,
    manager = "unknown",
    subresource?: "status",
  ): Promise<any> {
    const t = kind === "Secret" ? SECRETS : BMHS;
    await validatorReady;
    const existing = objects.get(objKey(t, ns, name));
    if (!existing) throw notFound(t, name);
    const next = structuredClone(existing.object);
    mutate(next);
    return render(await writeUpdate(t, existing, next, manager, subresource, false));
  }

  async function writeUpdate(
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
    return await commit(t, ns, name, next, managers, strict, []);
  }

  // ---- HTTP ----

  function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(body), {
      status,
      headers: { "content-type": "application/json", ...headers },
    });
  }

  function statusResponse(e: StatusError): Response {
    return json(e.toJSON(), e.code);
  }

  async function readBody(req: Request, yamlOk: boolean): Promise<any> {
    const text = await req.text();
    if (!text.trim()) throw badRequest("the request body is empty");
    try {
      // JSON is YAML: try the fast parser first, as clients mostly send JSON apply patches.
      if (!yamlOk) return JSON.parse(text);
      try {
        return JSON.parse(text);
      } catch {
        return parseYaml(text);
      }
    } catch (e) {
      throw badRequest(`error decoding ${yamlOk ? "YAML" : "JSON"}: ${(e as Error).message}`);
    }
  }

  function managerFrom(url: URL, req: Request): string {
    const m = url.searchParams.get("fieldManager");
    if (m !== null) {
      if (m.length > 128) throw badRequest("fieldManager: Too long: must have at most 128 bytes");
      return m;
    }
    const ua = req.headers.get("user-agent") ?? "";
    return ua.split("/")[0] || "unknown";
  }

  function listResponse(t: ResourceType, ns: string | null, url: URL): Response {
    const labels = parseSelector(url.searchParams.get("labelSelector"));
    const fields = url.searchParams.get("fieldSelector");
    const limit = Number(url.searchParams.get("limit") ?? 0);
    let after = "";
    let listRv = rv;
    const cont = url.searchParams.get("continue");
    if (cont) {
      try {
        const c = JSON.parse(atob(cont));
        after = c.after;
        listRv = c.rv;
      } catch {
        throw badRequest("continue key is not valid");
      }
      if (listRv < compactedRv) {
        throw new StatusError(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. " +
            "You can start a new list without the continue parameter.",
        );
      }
    }
    const all = [...objects.values()]
      .filter((s) => s.type === t && (!ns || s.object.metadata.namespace === ns))
      .filter((s) => matches(labels, s.object.metadata.labels) && fieldMatches(fields, s.object))
      .sort((a, b) =>
        `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
          `${b.object.metadata.namespace}/${b.object.metadata.name}`,
        )
      )
      .filter((s) => `${s.object.metadata.namespace}/${s.object.metadata.name}` > after);
    const page = limit > 0 ? all.slice(0, limit) : all;
    const metadata: any = { resourceVersion: String(listRv) };
    if (limit > 0 && all.length > limit) {
      const last = page[page.length - 1].object.metadata;
      metadata.continue = btoa(
        JSON.stringify({ rv: listRv, after: `${last.namespace}/${last.name}` }),
      );
      metadata.remainingItemCount = all.length - limit;
    }
    const items = page.map((s) => {
      const o = render(s);
      // Core lists omit kind/apiVersion per item; custom resource lists keep them.
      if (t === SECRETS) {
        delete o.kind;
        delete o.apiVersion;
      }
      return o;
    });
    return json({ kind: `${t.kind}List`, apiVersion: t.apiVersion, metadata, items });
  }

  function watchResponse(t: ResourceType, ns: string | null, url: URL): Response {
    const labels = parseSelector(url.searchParams.get("labelSelector"));
    const fields = url.searchParams.get("fieldSelector");
    const fromParam = url.searchParams.get("resourceVersion") ?? "";
    const timeoutSeconds = Number(url.searchParams.get("timeoutSeconds") ?? 1800);
    const bookmarks = url.searchParams.get("allowWatchBookmarks") === "true";
    const from = fromParam === "" || fromParam === "0" ? null : Number(fromParam);
    if (from !== null && !Number.isFinite(from)) {
      throw badRequest(`invalid resource version: ${fromParam}`);
    }
    const gone = from !== null && from < compactedRv;
    const goneStatus = new StatusError(
      410,
      "Expired",
      `too old resource version: ${from} (${compactedRv + 1})`,
    );
    if (gone && options.goneAs === "http") throw goneStatus;

    const enc = new TextEncoder();
    let watcher: Watcher | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        let ended = false;
        const end = () => {
          if (ended) return;
          ended = true;
          if (watcher) watchers.delete(watcher);
          if (timer !== undefined) clearTimeout(timer);
          try {
            controller.close();
          } catch { /* already closed by the reader */ }
        };
        const send = (r: { type: string; object: any }) => {
          if (ended) return;
          try {
            controller.enqueue(enc.encode(JSON.stringify(r) + "\n"));
          } catch {
            end();
          }
        };
        if (gone) {
          send({ type: "ERROR", object: goneStatus.toJSON() });
          end();
          return;
        }
        watcher = { type: t, namespace: ns, labels, fields, send, end };
        if (from === null) {
          // No resourceVersion: synthetic ADDED for the current state, then changes.
          for (const s of objects.values()) {
            if (s.type !== t || (ns && s.object.metadata.namespace !== ns)) continue;
            if (matches(labels, s.object.metadata.labels) && fieldMatches(fields, s.object)) {
              send({ type: "ADDED", object: render(s) });
            }
          }
        } else {
          for (const r of history) if (r.rv > from) deliver(watcher, r);
        }
        watchers.add(watcher);
        timer = setTimeout(() => {
          if (bookmarks) {
            send({
              type: "BOOKMARK",
              object: {
                kind: t.kind,
                apiVersion: t.apiVersion,
                metadata: { resourceVersion: String(rv) },
              },
            });
          }
          end();
        }, timeoutSeconds * 1000);
      },
      cancel() {
        watcher?.end();
      },
    });
    return new Response(stream, {
      status: 200,
      headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
    });
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "");
    if (["/readyz", "/livez", "/healthz"].includes(path)) {
      return new Response("ok", { headers: { "content-type": "text/plain" } });
    }
    if (path === "/version") {
      return json({
        major: "1",
        minor: "32",
        gitVersion: "v1.32.0",
        platform: "linux/amd64",
      });
    }
    let m = path.match(/^\/api\/v1(?:\/namespaces\/([^/]+))?\/secrets(?:\/([^/]+))?$/);
    let t: ResourceType = SECRETS;
    let sub: string | undefined;
    if (!m) {
      m = path.match(
        /^\/apis\/metal3\.io\/v1alpha1(?:\/namespaces\/([^/]+))?\/baremetalhosts(?:\/([^/]+)(?:\/(status))?)?$/,
      );
      t = BMHS;
      sub = m?.[3];
    }
    if (!m) {
      throw new StatusError(
        404,
        "NotFound",
        "the server could not find the requested resource",
        {},
      );
    }
    const ns = m[1] ? decodeURIComponent(m[1]) : null;
    const name = m[2] ? decodeURIComponent(m[2]) : null;
    const strict = url.searchParams.get("fieldValidation") === "Strict";
    const watch = ["1", "true"].includes(url.searchParams.get("watch") ?? "");

    if (name === null) {
      if (req.method === "GET") {
        return watch ? watchResponse(t, ns, url) : listResponse(t, ns, url);
      }
      if (req.method === "POST" && ns) {
        const body = await readBody(req, /yaml/.test(req.headers.get("content-type") ?? ""));
        checkKindAndName(t, ns, null, body);
        const newName = body.metadata.name;
        if (!newName) throw invalid(t, "", metadataCauses(body.metadata));
        if (objects.has(objKey(t, ns, newName))) {
          throw new StatusError(
            409,
            "AlreadyExists",
            `${t.qualified} "${newName}" already exists`,
            {
              name: newName,
              group: t.group,
              kind: t.plural,
            },
          );
        }
        checkNamespace(ns);
        const manager = managerFrom(url, req);
        if (body.metadata.managedFields) delete body.metadata.managedFields;
        for (const f of ["resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"]) {
          delete body.metadata[f];
        }
        body.metadata.namespace = ns;
        if (t.statusSubresource) delete body.status;
        if (t === SECRETS) {
          foldStringData(body);
          body.type ??= "Opaque";
        }
        const managers = recordUpdate(new Map(), manager, undefined, body);
        const stored = await commit(t, ns, newName, body, managers, strict, []);
        return json(render(stored), 201);
      }
      throw new StatusError(
        405,
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
    }
    if (!ns) {
      throw new StatusError(
        404,
        "NotFound",
        "the server could not find the requested resource",
        {},
      );
    }
    if (sub && !t.statusSubresource) {
      throw new StatusError(
        404,
        "NotFound",
        "the server could not find the requested resource",
        {},
      );
    }
    const k = objKey(t, ns, name);
    const existing = objects.get(k);

    switch (req.method) {
      case "GET": {
        if (!existing) throw notFound(t, name);
        return json(render(existing));
      }
      case "DELETE": {
        if (sub) {
          throw new StatusError(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
          );
        }
        if (!existing) throw notFound(t, name);
        if (existing.object.metadata.finalizers?.length) {
          if (!existing.object.metadata.deletionTimestamp) {
            const next = structuredClone(existing.object);
            next.metadata.deletionTimestamp = now();
            const stored = await commit(t, ns, name, next, existing.managers, false, []);
            if (options.provisioning && t === BMHS) {
              const ms = options.provisioning.deleteMs ?? options.provisioning.stepMs;
              deleteDue.set(k, Date.now() + ms);
              schedule(() => void advance(ns, name), ms);
            }
            return json(render(stored));
          }
          return json(render(existing));
        }
        objects.delete(k);
        rv++;
        existing.object.metadata.resourceVersion = String(rv);
        emit("DELETED", existing, render(existing));
        collectGarbage(existing);
        return json(render(existing));
      }
      case "PUT": {
        const body = await readBody(req, /yaml/.test(req.headers.get("content-type") ?? ""));
        checkKindAndName(t, ns, name, body);
        if (!existing) throw notFound(t, name);
        const given = body.metadata.resourceVersion;
        if (!given && !t.unconditionalUpdate) {
          throw invalid(t, name, [{
            reason: "FieldValueInvalid",
            message: "Invalid value: 0x0: must be specified for an update",
            field: "metadata.resourceVersion",
          }]);
        }
        if (given && given !== existing.object.metadata.resourceVersion) {
          throw conflictModified(t, name);
        }
        const stored = await writeUpdate(
          t,
          existing,
          body,
          managerFrom(url, req),
          sub as "status" | undefined,
          strict,
        );
        return json(render(stored));
      }
      case "PATCH": {
        const type = (req.headers.get("content-type") ?? "").split(";")[0].trim();
        if (type === "application/apply-patch+yaml") {
          const manager = url.searchParams.get("fieldManager");
          // The API server validates PatchOptions as an Invalid (422) object.
          if (!manager) {
            throw new StatusError(
              422,
              "Invalid",
              'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
              {
                group: "meta.k8s.io",
                kind: "PatchOptions",
                causes: [{
                  reason: "FieldValueRequired",
                  message: "Required value: is required for apply patch",
                  field: "fieldManager",
                }],
              },
            );
          }
          if (sub) {
            throw badRequest("apply to the status subresource is not supported by this server");
          }
          const force = url.searchParams.get("force") === "true";
          const body = await readBody(req, true);
          const { stored, created } = await apply(t, ns, name, body, manager, force, strict);
          return json(render(stored), created ? 201 : 200);
        }
        const strategic = type === "application/strategic-merge-patch+json";
        if (
          type !== "application/merge-patch+json" && type !== "application/json-patch+json" &&
          !(strategic && t === SECRETS)
        ) {
          throw new StatusError(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: ` +
              "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
          );
        }
        if (!existing) throw notFound(t, name);
        const patch = await readBody(req, false);
        const current = render(existing);
        delete current.metadata.managedFields;
        const next = type === "application/json-patch+json"
          ? jsonPatch(current, patch)
          : mergePatch(current, patch);
        if (
          next.metadata?.resourceVersion &&
          next.metadata.resourceVersion !== existing.object.metadata.resourceVersion
        ) throw conflictModified(t, name);
        checkKindAndName(t, ns, name, next);
        const stored = await writeUpdate(
          t,
          existing,
          next,
          managerFrom(url, req),
          sub as "status" | undefined,
          strict,
        );
        return json(render(stored));
      }
      default:
        throw new StatusError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
    }
  }

  async function handler(req: Request): Promise<Response> {
    await validatorReady;
    const injected = await faults.apply(req);
    if (injected) return injected;
    const url = new URL(req.url);
    logRequest(requests, {
      method: req.method,
      path: url.pathname,
      search: url.search,
      contentType: req.headers.get("content-type") ?? "",
    });
    if (token !== undefined) {
      const auth = req.headers.get("authorization") ?? "";
      if (auth !== `Bearer ${token}`) {
        await req.body?.cancel().catch(() => {});
        return statusResponse(new StatusError(401, "Unauthorized", "Unauthorized"));
      }
    }
    try {
      const res = await route(req);
      return res;
    } catch (e) {
      if (e instanceof StatusError) return statusResponse(e);
      throw e;
    }
  }

  const get = (t: ResourceType, ns: string, name: string) => {
    const s = objects.get(objKey(t, ns, name));
    return s ? render(s) : null;
  };
  const listOf = (t: ResourceType, ns: string) =>
    [...objects.values()].filter((s) => s.type === t && s.object.metadata.namespace === ns)
      .map(render);

  const close = () => {
    closed = true;
    for (const id of timers) clearTimeout(id);
    timers.clear();
    for (const w of [...watchers]) w.end();
  };

  return {
    handler,
    faults,
    state: {
      get resourceVersion() {
        return rv;
      },
      requests,
      warnings,
      get openWatches() {
        return watchers.size;
      },
      secrets: (ns) => listOf(SECRETS, ns),
      bareMetalHosts: (ns) => listOf(BMHS, ns),
      secret: (ns, name) => get(SECRETS, ns, name),
      bareMetalHost: (ns, name) => get(BMHS, ns, name),
    },
    setToken(t) {
      token = t;
    },
    compact() {
      if (history.length) compactedRv = history[history.length - 1].rv;
      compactedRv = Math.max(compactedRv, rv);
      history.length = 0;
    },
    endWatches() {
      for (const w of [...watchers]) w.end();
    },
    setBareMetalHostStatus(ns, name, status) {
      const s = objects.get(objKey(BMHS, ns, name));
      if (!s) throw new Error(`No BareMetalHost ${ns}/${name}`);
      // Synchronous for callers: validation of a status we write ourselves is skipped.
      const next = structuredClone(s.object);
      next.status = status;
      const previous = render(s);
      rv++;
      next.metadata.resourceVersion = String(rv);
      s.object = next;
      emit("MODIFIED", s, previous);
      return render(s);
    },
    update: (kind, ns, name, mutate, manager = "kubectl-edit") =>
      update(kind, ns, name, mutate, manager),
    close,
    [Symbol.dispose]: close,
  };
}

/** A Fault with a Kubernetes Status body, for `fake.faults.add(...)`. */
export function statusFault(
  code: number,
  reason: string,
  message: string,
  extra: Omit<Fault, "status" | "body"> = {},
): Fault {
  return {
    ...extra,
    status: code,
    body: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      code,
    },
  };
}
