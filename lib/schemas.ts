/** Request schemas shared by the API and the browser, with field-level messages a technician can act on. */
import { z } from "zod";
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

export const positionSchema = z.coerce.number({ error: "The U position must be a number" })
  .int("The U position must be a whole number")
  .min(1, "The U position starts at 1")
  .max(100, "The U position is beyond any rack height");

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

export const deviceNameSchema = z.string({ error: "Required: the device name" }).trim()
  .toLowerCase()
  .refine(
    isKubernetesName,
    "The device name must be lower-case letters, digits, '-' or '.', start and end alphanumeric, at most 63 characters",
  );

/** `POST /servers/register`: a scanned server in a known rack slot. */
export const registerRequestSchema = z.object({
  bmc_mac: macSchema,
  bmc_password: passwordSchema,
  site: refSchema("site"),
  location: refSchema("location"),
  rack: refSchema("rack"),
  position: positionSchema,
  device_type: refSchema("device type"),
  device_role: refSchema("device role"),
  bmc_prefix: prefixSchema.optional(),
  tenant: refSchema("tenant").optional(),
  bmc_username: usernameSchema.optional(),
  boot_mac: macSchema.optional(),
}).strict();

/** One item of `POST /servers/import`; Netbox fields are optional (no Netbox step without them). */
export const importItemSchema = z.object({
  device_name: deviceNameSchema,
  bmc_mac: macSchema,
  bmc_password: passwordSchema,
  bmc_ip: ipv4.optional(),
  site: refSchema("site").optional(),
  location: refSchema("location").optional(),
  rack: refSchema("rack").optional(),
  position: positionSchema.optional(),
  device_type: refSchema("device type").optional(),
  device_role: refSchema("device role").optional(),
  bmc_prefix: prefixSchema.optional(),
  tenant: refSchema("tenant").optional(),
  bmc_username: usernameSchema.optional(),
  boot_mac: macSchema.optional(),
}).strict().superRefine((item, ctx) => {
  if (
    item.bmc_ip && typeof item.bmc_prefix === "string" && !ipInPrefix(item.bmc_ip, item.bmc_prefix)
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["bmc_ip"],
      message: `${item.bmc_ip} is not inside the BMC prefix ${item.bmc_prefix}`,
    });
  }
});

/** `POST /servers/{id}/retry`: optionally a new password (rescan) or the boot MAC that was missing. */
export const retryRequestSchema = z.object({
  bmc_password: passwordSchema.optional(),
  boot_mac: macSchema.optional(),
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
  const out: Record<string, string> = {};
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

/** IPv4 address to an unsigned 32-bit integer. */
export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** Integer back to dotted IPv4. */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** True when `ip` lies inside `cidr`. */
export function ipInPrefix(ip: string, cidr: string): boolean {
  const [base, len] = cidr.split("/");
  const size = 2 ** (32 - Number(len));
  const start = Math.floor(ipToInt(base) / size) * size;
  const n = ipToInt(ip);
  return n >= start && n < start + size;
}
