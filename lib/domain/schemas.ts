/** Request schemas shared by the API and the browser, with field-level messages a technician can act on. */
import { z } from "zod";
import { ipInSubnetProblem } from "./ipv4.ts";
import { canonicalMac, MAC_MESSAGES, macProblem } from "./mac.ts";
import { isKubernetesName } from "./names.ts";

/** A MAC in any label format, output in canonical colon form. */
export const macSchema = z.string({ error: "Required: the MAC address" }).trim().check((ctx) => {
  const problem = macProblem(ctx.value);
  if (problem) {
    ctx.issues.push({ code: "custom", message: MAC_MESSAGES[problem], input: ctx.value });
  }
}).transform((v) => canonicalMac(v)!);

export const passwordSchema = z.string({ error: "Required: the BMC password" })
  .min(1, "Required: the BMC password")
  .max(128, "The BMC password is longer than 128 characters")
  .regex(/^[\x20-\x7e]+$/, "The BMC password may only contain printable ASCII characters");

/** A Netbox object named by id, slug or name. */
const refSchema = (what: string) =>
  z.union([
    z.number().int().positive(),
    z.string().trim().min(1, `Required: the ${what}`).max(100),
  ], { error: `Required: the ${what} (its Netbox id, slug or name)` });

/**
 * A rack unit: a JSON integer or a string of decimal digits (CSV-born files). Nothing else is
 * coerced: `true`, `[40]` or `"0x27"` are refused rather than read as U1, U40 or U39. The rack's
 * own height is checked once the rack is known (pre-flight).
 */
export const positionSchema = z.preprocess(
  (v) => typeof v === "string" && /^\s*\d{1,3}\s*$/.test(v) ? Number(v) : v,
  z.number({ error: "The U position must be a number" })
    .int("The U position must be a whole number")
    .min(1, "The U position starts at 1")
    .max(100, "The U position is beyond any rack height"),
);

/**
 * An optional field: an empty (or blank) string or `null` means "not given", as in the files
 * the original system and spreadsheets export.
 */
function optional<T extends z.ZodType>(schema: T) {
  return z.preprocess(
    (v) => v === null || (typeof v === "string" && v.trim() === "") ? undefined : v,
    schema.optional(),
  );
}

const ipv4 = z.ipv4({ error: "Not an IPv4 address, e.g. 10.16.28.31" });
const PREFIX_MESSAGE = "The BMC prefix must be a Netbox prefix id or a CIDR, e.g. 10.16.28.0/24";
const prefixSchema = z.union([
  z.number().int().positive(),
  z.cidrv4({ error: PREFIX_MESSAGE }),
], { error: PREFIX_MESSAGE });
const usernameSchema = z.string().trim().min(1).max(64).regex(
  /^[\x21-\x7e]+$/,
  "The BMC username may only contain printable characters without spaces",
);

/** Which system of a multi-system BMC: its Redfish `Id` (`Node1`, `System.Embedded.1`) or path. */
export const bmcSystemSchema = z.string().trim().min(1, "Required: the BMC system").max(200)
  .regex(
    /^(\/redfish\/v1\/Systems\/)?[A-Za-z0-9][\w.:-]*$/,
    "The BMC system is a Redfish system Id (e.g. Node1) or its path /redfish/v1/Systems/{Id}",
  );

export const deviceNameSchema = z.string({ error: "Required: the device name" }).trim()
  .toLowerCase()
  .refine(
    isKubernetesName,
    "The device name must be lower-case letters, digits, '-' or '.', start and end alphanumeric, at most 63 characters",
  );

/** The boot NIC is never the BMC: a host booting from the BMC's MAC would never boot. */
function refuseBmcMacAsBootMac(
  item: { bmc_mac: string; boot_mac?: string },
  ctx: z.RefinementCtx,
): void {
  if (item.boot_mac !== undefined && item.boot_mac === item.bmc_mac) {
    ctx.addIssue({
      code: "custom",
      path: ["boot_mac"],
      message:
        "The boot MAC is the BMC's own MAC: scan the MAC of the NIC the server boots from, or leave it empty",
    });
  }
}

/** Replace the scanned BMC password after the check (default ONBOARDING_BMC_ROTATE). */
const rotateSchema = z.boolean({ error: "Must be true or false" });

/** What a registration and an import item may add: BMC prefix, tenant, user, boot NIC, rotation. */
const optionalShape = {
  bmc_prefix: optional(prefixSchema),
  tenant: optional(refSchema("tenant")),
  bmc_username: optional(usernameSchema),
  boot_mac: optional(macSchema),
  bmc_system: optional(bmcSystemSchema),
  rotate: optional(rotateSchema),
};

/** `POST /servers/register`: a scanned server in a known rack slot. Unknown fields are refused. */
export const registerRequestSchema = z.object({
  bmc_mac: macSchema,
  bmc_password: passwordSchema,
  site: refSchema("site"),
  location: refSchema("location"),
  rack: refSchema("rack"),
  position: positionSchema,
  device_type: refSchema("device type"),
  device_role: refSchema("device role"),
  ...optionalShape,
}).strict().superRefine(refuseBmcMacAsBootMac);

/** The fields that place a device in Netbox: all of them, or none (no Netbox step). */
export const NETBOX_FIELDS = [
  "site",
  "location",
  "rack",
  "position",
  "device_type",
  "device_role",
] as const;

const importItemShape = {
  device_name: deviceNameSchema,
  bmc_mac: macSchema,
  bmc_password: passwordSchema,
  bmc_ip: optional(ipv4),
  site: optional(refSchema("site")),
  location: optional(refSchema("location")),
  rack: optional(refSchema("rack")),
  position: optional(positionSchema),
  device_type: optional(refSchema("device type")),
  device_role: optional(refSchema("device role")),
  ...optionalShape,
};

/**
 * One item of `POST /servers/import`; Netbox fields all or none (no Netbox step without them).
 * Unknown keys are dropped here (files from other tools carry extra columns): see `unknownFields`.
 */
export const importItemSchema = z.object(importItemShape).superRefine((item, ctx) => {
  const given = NETBOX_FIELDS.filter((k) => item[k] !== undefined);
  if (given.length && given.length < NETBOX_FIELDS.length) {
    for (const k of NETBOX_FIELDS.filter((k) => item[k] === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [k],
        message: `Required with ${given.join(", ")}: give all of ${
          NETBOX_FIELDS.join(", ")
        } or none`,
      });
    }
  }
  if (item.bmc_ip && typeof item.bmc_prefix === "string") {
    const problem = ipInSubnetProblem(item.bmc_ip, item.bmc_prefix);
    if (problem) {
      ctx.addIssue({
        code: "custom",
        path: ["bmc_ip"],
        message: problem.replace(" inside ", " inside the BMC prefix "),
      });
    }
  }
  refuseBmcMacAsBootMac(item, ctx);
});

/** Keys of an import item that are not import fields, for a warning naming them. */
export function unknownFields(raw: unknown): string[] {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) return [];
  return Object.keys(raw).filter((k) => !Object.hasOwn(importItemShape, k));
}

/** `POST /servers/{id}/retry`: optionally a new password (rescan), the boot MAC that was missing or
 * the system of a multi-system BMC. */
export const retryRequestSchema = z.object({
  bmc_password: passwordSchema.optional(),
  boot_mac: macSchema.optional(),
  bmc_system: bmcSystemSchema.optional(),
}).strict();

/** `GET /servers` query: paging and filters. */
export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(500).optional(),
  site: z.string().trim().max(100).optional(),
  status: z.enum(["queued", "running", "ok", "failed", "blocked", "decommissioned"], {
    error: "One of queued, running, ok, failed, blocked, decommissioned",
  }).optional(),
  q: z.string().trim().max(100).optional(),
});

export const IMPORT_MAX_ITEMS = 5000;
export const importRequestSchema = z.array(z.unknown()).max(
  IMPORT_MAX_ITEMS,
  `At most ${IMPORT_MAX_ITEMS} servers per import`,
);

export type RegisterRequest = z.infer<typeof registerRequestSchema>;
export type ImportItem = z.infer<typeof importItemSchema>;

/** `{field: message}` from a zod error, first message per field (dotted paths). */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  // No prototype: a field called `constructor`, `toString` or `__proto__` is a key like any other.
  const out: Record<string, string> = Object.create(null);
  for (const issue of error.issues) {
    const key = issue.path.length ? issue.path.join(".") : "body";
    if (issue.code === "unrecognized_keys") {
      for (const k of issue.keys) out[k] ??= "Unknown field";
      continue;
    }
    out[key] ??= issue.message;
  }
  return out;
}
