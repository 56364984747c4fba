/** The import file checked on this machine, before anything is sent (`deno task import --dry-run`
 * without a server): each item valid or not, what would be sent (never the password). */
import { fieldErrors, importItemSchema, NETBOX_FIELDS, unknownFields } from "./schemas.ts";

/** Each item parsed as the API would: its errors, or what would be sent and the warnings. */
export function checkImportItems(items: unknown[]) {
  return items.map((item, index) => {
    const parsed = importItemSchema.safeParse(item);
    if (!parsed.success) {
      return {
        index,
        device_name: nameOf(item, index),
        status: "invalid" as const,
        errors: fieldErrors(parsed.error),
      };
    }
    const { bmc_password: _password, ...shown } = parsed.data;
    // An empty or null field is "not given"; the schema leaves such keys undefined.
    const netbox = NETBOX_FIELDS.every((k) => shown[k] !== undefined);
    const unknown = unknownFields(item);
    return {
      index,
      device_name: parsed.data.device_name,
      status: "valid" as const,
      netbox,
      item: shown,
      warnings: unknown.length ? [`Unknown fields ignored: ${unknown.join(", ")}`] : [],
    };
  });
}

/** Every password in the input, so no output line can ever show one. */
export function passwordsOf(items: unknown[]): string[] {
  const out: string[] = [];
  for (const item of items) {
    if (item && typeof item === "object") {
      const p = (item as Record<string, unknown>).bmc_password;
      if (typeof p === "string" && p) out.push(p);
    }
  }
  return out;
}

/** The item's device name, or its position (`#3`) when it has none. */
export function nameOf(item: unknown, index: number): string {
  if (item && typeof item === "object") {
    const n = (item as Record<string, unknown>).device_name;
    if (typeof n === "string" && n.trim()) return n.trim();
  }
  return `#${index + 1}`;
}

/** "an object", "a string", "null": what a JSON value is, for a message. */
export function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return `a ${typeof v}`;
}
