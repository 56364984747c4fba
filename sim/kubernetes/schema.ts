/**
 * What the fake API server validates: BareMetalHost objects against the CRD's openAPIV3Schema
 * (shared with tests/metal3_test.ts), object metadata and Secrets, and the operator's webhook.
 */
// deno-lint-ignore-file no-explicit-any -- validated objects are arbitrary JSON documents

import { parse as parseYaml } from "yaml";
import { Ajv } from "ajv";
import { BMC_DRIVERS } from "../../lib/domain/metal3.ts";

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
  "../../schemas/metal3.io_baremetalhosts.yaml",
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

// Metadata and Secret validation (what the API server checks for every kind)

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function metadataCauses(meta: any): FieldCause[] {
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
export function foldStringData(secret: any) {
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

export function secretCauses(secret: any, previous: any): FieldCause[] {
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

/** The operator's admission webhook check: why it would deny the host, or null. */
export function bareMetalHostAdmission(bmh: any): string | null {
  const address: unknown = bmh.spec?.bmc?.address;
  if (typeof address !== "string" || address === "") return null;
  const m = address.match(/^([a-z0-9-]+)(\+https?)?:\/\//);
  const scheme = m ? m[1] : "ipmi"; // a bare host[:port] is IPMI
  if (!BMC_DRIVERS.has(scheme)) {
    return `Unknown BMC type '${scheme}' for address ${address}`;
  }
  if (scheme === "libvirt" && !bmh.spec?.bootMACAddress) {
    return `BMC driver libvirt requires a BootMACAddress value`;
  }
  return null;
}
