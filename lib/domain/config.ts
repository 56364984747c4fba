/** Configuration from `ONBOARDING_*` environment variables, validated once at start-up. */
import { z } from "zod";
import { type Network, parseNetwork } from "./client_address.ts";
import { DEFAULT_NAME_TEMPLATE } from "./names.ts";

const PREFIX = "ONBOARDING_";

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalUrl = z.preprocess(emptyToUndefined, z.url().optional());
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const port = (fallback: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(fallback));

const keaServers = z.preprocess(
  (v) => {
    if (emptyToUndefined(v) === undefined) return [];
    try {
      return JSON.parse(String(v));
    } catch {
      return v;
    }
  },
  z.array(z.string().min(1), {
    error: 'must be a JSON list of hosts, e.g. ["10.0.0.2","10.0.0.3"]',
  }),
);

const BMC_NETWORKS_MESSAGE = "must be a list of CIDRs, e.g. 10.16.28.0/24,10.16.29.0/24";

/** `server, storage` → ["server", "storage"]; each a Netbox slug or id. */
const slugList = z.preprocess(
  (v) => typeof v === "string" ? v.split(",").map((x) => x.trim()).filter(Boolean) : v ?? [],
  z.array(
    z.string().regex(/^[\w-]+$/, "must be Netbox slugs or ids separated by commas"),
  ),
);

/** A list of CIDRs or addresses, separated by commas or spaces (IPv4 and IPv6). */
const networkList = (fallback: string) =>
  z.preprocess(
    (v) => String(emptyToUndefined(v) ?? fallback).split(/[\s,]+/).filter(Boolean),
    z.array(z.string()).transform((list, ctx): Network[] =>
      list.map((cidr) => {
        const n = parseNetwork(cidr);
        if (!n) ctx.addIssue({ code: "custom", message: `"${cidr}" is not a CIDR or address` });
        return n!;
      })
    ),
  );

export const configSchema = z.object({
  PORT: port(8000),
  HOSTNAME: z.preprocess(emptyToUndefined, z.string().default("0.0.0.0")),
  KV_PATH: z.preprocess(emptyToUndefined, z.string().default("./data/onboarding.kv")),
  /** PostgreSQL for the state store instead of KV_PATH: several replicas share it. */
  DATABASE_URL: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  ),
  /** Seconds a replica keeps a queue message without a heartbeat (PostgreSQL): how soon a dead
   * replica's registration is resumed by another. */
  STATE_LEASE: z.preprocess(emptyToUndefined, z.coerce.number().int().min(2).max(600).default(30)),
  LOG_LEVEL: z.preprocess(
    emptyToUndefined,
    z.enum(["debug", "info", "warn", "error"]).default("info"),
  ),

  OIDC_ISSUER: optionalUrl,
  OIDC_AUDIENCE: optionalString,
  OIDC_REQUIRED_GROUP: optionalString,
  OIDC_ADMIN_GROUP: optionalString,
  OIDC_GROUPS_CLAIM: z.preprocess(emptyToUndefined, z.string().default("groups")),
  OIDC_CLIENT_ID: optionalString,
  OIDC_CLIENT_SECRET: optionalString,
  PUBLIC_URL: optionalUrl,

  NETBOX_URL: optionalUrl,
  NETBOX_TOKEN: optionalString,

  OPENBAO_URL: optionalUrl,
  OPENBAO_ROLE_ID: optionalString,
  OPENBAO_SECRET_ID: optionalString,
  OPENBAO_MOUNT_POINT: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^[\w.-]+(\/[\w.-]+)*$/).default("secret"),
  ),

  KEA_SERVERS: keaServers,
  KEA_PORT: port(8000),
  KEA_SUBNET_ID: z.preprocess(emptyToUndefined, z.coerce.number().int().positive().optional()),
  KEA_MODE: z.preprocess(emptyToUndefined, z.enum(["auto", "api", "pgsql"]).default("auto")),
  KEA_DB_URL: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL").optional(),
  ),

  BMC_PREFIX: z.preprocess(emptyToUndefined, z.cidrv4().optional()),
  /** The only networks a BMC IP may be in (CIDRs); default BMC_PREFIX. See `bmcNetworks`. */
  BMC_NETWORKS: z.preprocess(
    (v) => {
      const text = emptyToUndefined(v);
      if (text === undefined) return undefined;
      try {
        return JSON.parse(String(text));
      } catch {
        return String(text).split(/[\s,]+/).filter(Boolean);
      }
    },
    z.array(z.string(), { error: BMC_NETWORKS_MESSAGE }).min(1, BMC_NETWORKS_MESSAGE).refine(
      (list) => list.every((c) => z.cidrv4().safeParse(c).success),
      BMC_NETWORKS_MESSAGE,
    ).optional(),
  ),
  METAL3_NAMESPACE: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/).default("metal3"),
  ),
  BMC_DRIVER: z.preprocess(
    emptyToUndefined,
    z.enum([
      "ipmi",
      "redfish",
      "redfish-virtualmedia",
      "redfish-uefihttp",
      "idrac-redfish",
      "idrac-virtualmedia",
      "libvirt",
    ]).default("ipmi"),
  ),
  BMC_USERNAME: z.preprocess(emptyToUndefined, z.string().default("ADMIN")),
  /** Check the scanned credentials over Redfish at the BMC IP before Metal3 gets them. */
  BMC_CHECK: z.preprocess(
    emptyToUndefined,
    z.enum(["true", "false"]).default("true").transform((v) => v === "true"),
  ),
  /** Replace the scanned BMC password after the credential check (lib/registration/rotation.ts). */
  BMC_ROTATE: z.preprocess(
    emptyToUndefined,
    z.enum(["true", "false"]).default("false").transform((v) => v === "true"),
  ),
  /** Length of a generated BMC password; clamped to the BMC's Min/MaxPasswordLength. */
  BMC_PASSWORD_LENGTH: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(8).max(64).default(16),
  ),
  /** Symbols a generated password draws from (one at least); empty for letters and digits only. */
  BMC_PASSWORD_SYMBOLS: z.preprocess(
    (v) => v === undefined ? undefined : v,
    z.string().regex(/^[!-/:-@[-`{-~]*$/, "must be printable ASCII symbols").default("-_.+!"),
  ),
  /** Characters never used, in any class (e.g. look-alikes, or what a firmware refuses). */
  BMC_PASSWORD_REFUSED: z.preprocess(emptyToUndefined, z.string().default("")),
  DEVICE_NAME_TEMPLATE: z.preprocess(
    emptyToUndefined,
    z.string().refine((t) => t.includes("{"), "must contain placeholders such as {site}").default(
      DEFAULT_NAME_TEMPLATE,
    ),
  ),
  /** Imported servers whose steps run at once; single registrations are not limited by it. */
  IMPORT_CONCURRENCY: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(1).max(64).default(8),
  ),
  /** Seconds between background drift checks (0 = off; the demo is off unless set). */
  DRIFT_INTERVAL: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(0).max(7 * 24 * 3600).default(3600),
  ),
  /** Seconds the Metal3 step waits for a BareMetalHost or Secret being deleted to be gone. */
  METAL3_DELETE_WAIT: z.preprocess(
    emptyToUndefined,
    z.coerce.number().min(0).max(3600).default(300),
  ),
  /** Seconds a SIGTERM/SIGINT lets running steps finish; below the pod's grace period. */
  SHUTDOWN_TIMEOUT: z.preprocess(
    emptyToUndefined,
    z.coerce.number().min(0).max(3600).default(20),
  ),
  /** Writes per minute per client (register, import, retry, delete). */
  WRITE_RATE_LIMIT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).default(120)),
  /** IPAM role slugs or names of BMC prefixes, listed first (alone when any exists) in the picker. */
  BMC_PREFIX_ROLES: z.preprocess(
    emptyToUndefined,
    z.string().default("bmc,oob,management").transform((v) =>
      v.split(",").map((r) => r.trim().toLowerCase()).filter(Boolean)
    ),
  ),
  /** The Netbox devices the Servers list shows beside our registrations: role and site slugs or
   * ids, comma-separated; empty = every role / every site. */
  INVENTORY_ROLES: slugList,
  INVENTORY_SITES: slugList,
  /** Seconds reference look-ups stay cached in KV. */
  REFERENCE_TTL: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(300)),

  // Request-facing security: who may read /metrics, whose X-Forwarded-For counts, body deadline.
  /** Peers allowed to read /metrics and the /readyz detail without the token. */
  METRICS_NETWORKS: networkList("127.0.0.0/8,::1"),
  /** Bearer token for /metrics and the /readyz detail from anywhere else; empty = none. */
  METRICS_TOKEN: optionalString,
  /** Proxies (the ingress controller) whose X-Forwarded-For names the client; empty = none. */
  TRUSTED_PROXIES: networkList(""),
  /** Seconds a client has to send a request's headers and body. */
  REQUEST_TIMEOUT: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(1).max(3600).default(30),
  ),
});

export type Config = z.infer<typeof configSchema>;

/**
 * The networks a BMC IP must lie in: ONBOARDING_BMC_NETWORKS, else ONBOARDING_BMC_PREFIX. Empty
 * when neither is set: then no BMC IP is accepted (nothing may receive a BMC password).
 */
export function bmcNetworks(config: Pick<Config, "BMC_NETWORKS" | "BMC_PREFIX">): string[] {
  if (config.BMC_NETWORKS) return config.BMC_NETWORKS;
  return config.BMC_PREFIX?.includes("/") ? [config.BMC_PREFIX] : [];
}

/** Thrown for a bad variable; the message names it and never includes its value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment (a plain object) into a Config, or throws ConfigError naming the variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(configSchema.shape)) raw[key] = env[PREFIX + key];
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ConfigError(`Invalid ${PREFIX}${issue.path.join(".")}: ${issue.message}`);
  }
  return result.data;
}

export type IntegrationName = "netbox" | "openbao" | "kea" | "kubernetes";

/** Which integrations have settings; the others' steps are skipped with a warning. */
export function configuredIntegrations(
  config: Config,
  env: Record<string, string | undefined>,
): Record<IntegrationName, boolean> {
  return {
    netbox: Boolean(config.NETBOX_URL && config.NETBOX_TOKEN),
    openbao: Boolean(config.OPENBAO_URL && config.OPENBAO_ROLE_ID),
    kea: config.KEA_SERVERS.length > 0 || Boolean(config.KEA_DB_URL),
    kubernetes: Boolean(env.KUBERNETES_SERVICE_HOST || env.KUBECONFIG),
  };
}
