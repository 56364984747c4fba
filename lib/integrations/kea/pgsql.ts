/** Kea's PostgreSQL host database (schema 13.0 of Kea 2.2 and later): reservations written
 * directly into `hosts` and `dhcp4_options`, which Kea reads on the next DISCOVER. */
import postgres from "postgres";
import { Buffer } from "node:buffer";
import {
  DEFAULT_RETRY,
  IntegrationError,
  redactText,
  redactUrl,
  type RetryPolicy,
  retryTransient,
} from "../http.ts";
import {
  bytesToMac,
  macToBytes,
  optionCode,
  type OptionData,
  optionName,
  type Reservation,
  ReservationConflict,
  sameReservation,
} from "../../domain/kea_json.ts";
import { intToIpv4, ipInPrefix, ipv4ToInt } from "../../domain/ipv4.ts";

/** `hosts.dhcp_identifier_type` for hw-address. */
const HW_ADDRESS = 0;
/** `dhcp_option_scope` id for host options. */
const HOST_SCOPE = 3;

export type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;
/** Column values we write. */
type DbRow = Record<string, string | number | boolean | null | Buffer>;

/** A stored host: the reservation plus the row id and subnet. */
export type StoredHost = Reservation & { subnetId: number; hostId: number };

interface HostRow {
  host_id: number;
  dhcp_identifier: Uint8Array;
  dhcp4_subnet_id: string | number;
  ipv4_address: string | number | null;
  hostname: string | null;
  dhcp4_client_classes: string | null;
  dhcp4_next_server: string | number | null;
  dhcp4_server_hostname: string | null;
  dhcp4_boot_file_name: string | null;
  user_context: string | null;
}

interface OptionRow {
  host_id: number;
  code: number;
  formatted_value: string | null;
  value: Uint8Array | null;
  space: string | null;
}

/** The `hosts` columns a reservation sets; `host_id` is the database's. */
const HOST_INSERT_COLUMNS = [
  "dhcp_identifier",
  "dhcp_identifier_type",
  "dhcp4_subnet_id",
  "ipv4_address",
  "hostname",
  "dhcp4_client_classes",
  "dhcp4_next_server",
  "dhcp4_server_hostname",
  "dhcp4_boot_file_name",
  "user_context",
];
const HOST_COLUMNS = [
  "host_id",
  ...HOST_INSERT_COLUMNS.filter((c) => c !== "dhcp_identifier_type"),
];

/** Opens a connection pool; nothing connects until the first query. */
export function connectKeaDb(
  dbUrl: string,
  options: { max?: number; timeoutMs?: number } = {},
): Sql {
  return postgres(dbUrl, {
    max: options.max ?? 4,
    onnotice: () => {},
    connect_timeout: Math.ceil((options.timeoutMs ?? 10_000) / 1000),
    idle_timeout: 30,
    transform: { undefined: null },
  });
}

/** Wraps a database failure as an IntegrationError without the password or full URL. */
export function dbError(dbUrl: string, operation: string, cause: unknown): IntegrationError {
  const secrets: string[] = [];
  try {
    const u = new URL(dbUrl);
    if (u.password) secrets.push(decodeURIComponent(u.password), u.password);
  } catch { /* not a URL: nothing to hide beyond the text itself */ }
  const detail = redactText(String((cause as Error)?.message ?? cause), secrets);
  const url = redactUrl(dbUrl);
  return new IntegrationError({
    integration: "kea",
    operation: `pgsql ${operation}`,
    method: "SQL",
    url,
    status: 0,
    message: `kea pgsql ${operation} failed (${url}): ${detail}`,
  });
}

/** Connection failures (postgres.js codes, SQLSTATE class 08), deadlocks, serialisation
 * failures and a server shutting down or starting up: worth another try. */
function isTransientDbError(e: unknown): boolean {
  const code = String((e as { code?: unknown })?.code ?? "");
  return code.startsWith("08") || TRANSIENT_DB_CODES.has(code);
}
const TRANSIENT_DB_CODES = new Set([
  "40001",
  "40P01",
  "57P01",
  "57P03",
  "53300",
  "ECONNREFUSED",
  "ECONNRESET",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

function num(v: string | number | bigint | null): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function rowToHost(row: HostRow, options: OptionRow[]): StoredHost {
  const r: StoredHost = {
    hostId: Number(row.host_id),
    mac: bytesToMac(row.dhcp_identifier),
    ip: intToIpv4(num(row.ipv4_address) ?? 0),
    subnetId: num(row.dhcp4_subnet_id) ?? 0,
  };
  if (row.hostname) r.hostname = row.hostname;
  const next = num(row.dhcp4_next_server);
  if (next) r.nextServer = intToIpv4(next);
  if (row.dhcp4_server_hostname) r.serverHostname = row.dhcp4_server_hostname;
  if (row.dhcp4_boot_file_name) r.bootFileName = row.dhcp4_boot_file_name;
  if (row.dhcp4_client_classes) {
    r.clientClasses = row.dhcp4_client_classes.split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (row.user_context) {
    try {
      const ctx = JSON.parse(row.user_context);
      if (ctx && typeof ctx === "object" && Object.keys(ctx).length) r.userContext = ctx;
    } catch { /* a hand-written non-JSON context is ignored for comparison */ }
  }
  if (options.length) {
    r.optionData = options.map((o) => {
      const space = o.space ?? "dhcp4";
      const e: OptionData = {
        code: Number(o.code),
        data: o.formatted_value ??
          [...(o.value ?? [])].map((b) => b.toString(16).padStart(2, "0")).join(""),
      };
      const name = optionName(e.code!, space);
      if (name) e.name = name;
      if (space !== "dhcp4") e.space = space;
      return e;
    });
  }
  return r;
}

/** Reads hosts (with their options) matching a condition fragment. */
async function selectHosts(tx: Sql | Tx, where: postgres.PendingQuery<postgres.Row[]>) {
  const rows = await tx<HostRow[]>`
    SELECT ${tx(HOST_COLUMNS)} FROM hosts
    WHERE dhcp_identifier_type = ${HW_ADDRESS} AND dhcp4_subnet_id IS NOT NULL AND ${where}
    ORDER BY host_id`;
  if (!rows.length) return [];
  // The same condition again rather than a list of ids: a read-back of 100,000 hosts would
  // otherwise send 100,000 ids back to the server.
  const options = await tx<OptionRow[]>`
    SELECT host_id, code, formatted_value, value, space FROM dhcp4_options
    WHERE scope_id = ${HOST_SCOPE} AND host_id IN (
      SELECT host_id FROM hosts
      WHERE dhcp_identifier_type = ${HW_ADDRESS} AND dhcp4_subnet_id IS NOT NULL AND ${where}
    ) ORDER BY option_id`;
  const byHost = new Map<number, OptionRow[]>();
  for (const o of options) {
    const list = byHost.get(Number(o.host_id));
    if (list) list.push(o);
    else byHost.set(Number(o.host_id), [o]);
  }
  return rows.map((row) => rowToHost(row, byHost.get(Number(row.host_id)) ?? []));
}

/** All hosts with a hw-address identifier, optionally of some subnets only. */
export function readHosts(sql: Sql | Tx, subnetIds?: number[]): Promise<StoredHost[]> {
  return selectHosts(
    sql,
    subnetIds ? sql`dhcp4_subnet_id = ANY(${subnetIds}::bigint[])` : sql`TRUE`,
  );
}

/** The hosts row values for a reservation. */
export function hostValues(r: Reservation, subnetId: number): DbRow {
  return {
    dhcp_identifier: Buffer.from(macToBytes(r.mac)),
    dhcp_identifier_type: HW_ADDRESS,
    dhcp4_subnet_id: subnetId,
    ipv4_address: ipv4ToInt(r.ip),
    hostname: r.hostname ?? null,
    dhcp4_client_classes: r.clientClasses?.length ? r.clientClasses.join(",") : null,
    dhcp4_next_server: r.nextServer ? ipv4ToInt(r.nextServer) : null,
    dhcp4_server_hostname: r.serverHostname ?? null,
    dhcp4_boot_file_name: r.bootFileName ?? null,
    user_context: r.userContext && Object.keys(r.userContext).length
      ? JSON.stringify(r.userContext)
      : null,
  };
}

/** The dhcp4_options rows of a host (scope host, subnet NULL as Kea writes them). */
export function optionValues(r: Reservation, hostId: number): DbRow[] {
  return (r.optionData ?? []).map((o) => ({
    code: optionCode(o),
    formatted_value: o.data,
    space: o.space ?? "dhcp4",
    persistent: false,
    host_id: hostId,
    scope_id: HOST_SCOPE,
  }));
}

const OPTION_COLUMNS = ["code", "formatted_value", "space", "persistent", "host_id", "scope_id"];

/** Validates what a reservation would write, before any statement runs. */
export function checkReservation(r: Reservation): void {
  macToBytes(r.mac);
  ipv4ToInt(r.ip);
  if (r.nextServer) ipv4ToInt(r.nextServer);
  for (const o of r.optionData ?? []) optionCode(o);
}

/**
 * Inserts hosts and their options, `batchSize` hosts per statement. The rows travel as one JSON
 * parameter expanded by `json_to_recordset` (a statement's size no longer grows its parameter
 * count), and options find their host by (identifier, subnet) in the same statement.
 */
export async function insertHosts(
  tx: Tx,
  items: { reservation: Reservation; subnetId: number }[],
  batchSize = 10_000,
): Promise<void> {
  for (let i = 0; i < items.length; i += batchSize) {
    const chunk = items.slice(i, i + batchSize);
    const hosts = chunk.map(({ reservation: r, subnetId }) => {
      const v = hostValues(r, subnetId);
      return [
        (v.dhcp_identifier as Buffer).toString("hex"),
        subnetId,
        v.ipv4_address,
        v.hostname,
        v.dhcp4_client_classes,
        v.dhcp4_next_server,
        v.dhcp4_server_hostname,
        v.dhcp4_boot_file_name,
        v.user_context,
      ];
    });
    await tx`
      INSERT INTO hosts (${tx(HOST_INSERT_COLUMNS)})
      SELECT decode(h->>0, 'hex'), ${HW_ADDRESS}, (h->>1)::int, (h->>2)::bigint, h->>3, h->>4,
        (h->>5)::bigint, h->>6, h->>7, h->>8
      FROM json_array_elements(${JSON.stringify(hosts)}::text::json) AS h`;
    const options = chunk.flatMap(({ reservation: r, subnetId }, j) =>
      (r.optionData ?? []).map((
        o,
      ) => [hosts[j][0], subnetId, optionCode(o), o.data, o.space ?? "dhcp4"])
    );
    if (!options.length) continue;
    // In input order, so option ids keep each host's option order.
    await tx`
      INSERT INTO dhcp4_options (code, formatted_value, space, persistent, host_id, scope_id)
      SELECT (o.value->>2)::int, o.value->>3, o.value->>4, false, h.host_id, ${HOST_SCOPE}
      FROM json_array_elements(${
      JSON.stringify(options)
    }::text::json) WITH ORDINALITY AS o(value, n)
      JOIN hosts h ON h.dhcp_identifier = decode(o.value->>0, 'hex')
        AND h.dhcp_identifier_type = ${HW_ADDRESS} AND h.dhcp4_subnet_id = (o.value->>1)::int
      ORDER BY o.n`;
  }
}

/** Rewrites an existing host row and replaces its options. */
export async function updateHost(tx: Tx, hostId: number, r: Reservation, subnetId: number) {
  const values = hostValues(r, subnetId);
  await tx`UPDATE hosts SET ${tx(values, HOST_INSERT_COLUMNS)} WHERE host_id = ${hostId}`;
  await tx`DELETE FROM dhcp4_options WHERE host_id = ${hostId} AND scope_id = ${HOST_SCOPE}`;
  const options = optionValues(r, hostId);
  if (options.length) await tx`INSERT INTO dhcp4_options ${tx(options, OPTION_COLUMNS)}`;
}

/** Subnets from the config-backend table `dhcp4_subnet` (empty unless a config backend is used). */
export async function configBackendSubnets(sql: Sql): Promise<{ id: number; subnet: string }[]> {
  const rows = await sql<{ id: string; prefix: string }[]>`
    SELECT subnet_id AS id, subnet_prefix AS prefix FROM dhcp4_subnet`;
  return rows.map((r) => ({ id: Number(r.id), subnet: r.prefix }));
}

/** The pgsql reservation backend behind `KeaClient`. */
export interface PgsqlBackend {
  label: string;
  findByMac(mac: string): Promise<StoredHost[]>;
  findByIp(ip: string, subnetId: number): Promise<StoredHost | null>;
  /** Every host of the subnet (the drift check). */
  list(subnetId: number): Promise<StoredHost[]>;
  reserve(r: Reservation, subnetId: number): Promise<"added" | "updated" | "unchanged">;
  release(mac: string, subnetId: number): Promise<"deleted" | "absent">;
  subnetFor(ip: string): Promise<number | null>;
  health(): Promise<void>;
  close(): Promise<void>;
}

/** Creates the pgsql backend; every failure is an IntegrationError without the password. */
export function createPgsqlBackend(
  dbUrl: string,
  options: { timeoutMs?: number; retry?: Partial<RetryPolicy> } = {},
) {
  let sql: Sql | undefined;
  const db = () => sql ??= connectKeaDb(dbUrl, options);
  const label = `pgsql ${redactUrl(dbUrl)}`;
  const policy = { ...DEFAULT_RETRY, ...options.retry };

  /** Every statement goes through the HTTP layer's retry policy: a lost connection, a server
   * restarting or a deadlock is tried again; each operation is one transaction, safe to repeat. */
  async function guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await retryTransient(policy, isTransientDbError, fn);
    } catch (e) {
      if (e instanceof ReservationConflict || e instanceof TypeError) throw e;
      throw dbError(dbUrl, operation, e);
    }
  }

  const backend: PgsqlBackend = {
    label,
    findByMac: (mac) =>
      guarded("find by MAC", () => {
        const s = db();
        return selectHosts(s, s`dhcp_identifier = ${Buffer.from(macToBytes(mac))}`);
      }),
    findByIp: (ip, subnetId) =>
      guarded("find by IP", async () => {
        const s = db();
        const hosts = await selectHosts(
          s,
          s`ipv4_address = ${ipv4ToInt(ip)} AND dhcp4_subnet_id = ${subnetId}`,
        );
        return hosts[0] ?? null;
      }),
    list: (subnetId) => guarded("list", () => readHosts(db(), [subnetId])),
    reserve: (r, subnetId) => {
      checkReservation(r);
      return guarded("reserve", async () => {
        for (let attempt = 1;; attempt++) {
          try {
            return await db().begin(async (tx) => {
              // Serialise writers of the same MAC and of the same IP in this subnet.
              await tx`SELECT pg_advisory_xact_lock(hashtext(${`kea4:${subnetId}:${r.mac}`}))`;
              await tx`SELECT pg_advisory_xact_lock(hashtext(${`kea4:${subnetId}:${r.ip}`}))`;
              const mac = Buffer.from(macToBytes(r.mac));
              const holders = await selectHosts(
                tx,
                tx`ipv4_address = ${ipv4ToInt(r.ip)} AND dhcp4_subnet_id = ${subnetId}
                   AND dhcp_identifier <> ${mac}`,
              );
              if (holders.length) {
                throw new ReservationConflict(
                  r.ip,
                  subnetId,
                  r.mac,
                  holders[0].mac,
                  holders[0].hostname,
                );
              }
              const [existing] = await selectHosts(
                tx,
                tx`dhcp_identifier = ${mac} AND dhcp4_subnet_id = ${subnetId}`,
              );
              if (existing && sameReservation(existing, r)) return "unchanged" as const;
              if (existing) {
                await updateHost(tx, existing.hostId, r, subnetId);
                return "updated" as const;
              }
              await insertHosts(tx, [{ reservation: r, subnetId }]);
              return "added" as const;
            });
          } catch (e) {
            // A concurrent writer outside our locks (another tool) inserted the same host.
            if ((e as { code?: string }).code === "23505" && attempt < 2) continue;
            throw e;
          }
        }
      });
    },
    release: (mac, subnetId) =>
      guarded("release", async () => {
        const rows = await db()`
          DELETE FROM hosts WHERE dhcp_identifier = ${Buffer.from(macToBytes(mac))}
          AND dhcp_identifier_type = ${HW_ADDRESS} AND dhcp4_subnet_id = ${subnetId}
          RETURNING host_id`;
        return rows.length ? "deleted" : "absent";
      }),
    subnetFor: (ip) =>
      guarded("subnet lookup", async () => {
        const subnets = await configBackendSubnets(db());
        return subnets.find((s) => ipInPrefix(ip, s.subnet))?.id ?? null;
      }),
    health: () =>
      guarded("health", async () => {
        await db()`SELECT 1`;
      }),
    close: async () => {
      const s = sql;
      sql = undefined;
      await s?.end({ timeout: 5 });
    },
  };
  return backend;
}
