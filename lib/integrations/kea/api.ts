/** Kea DHCP reservations: the control API (host_cmds, on every server concurrently) or Kea's
 * PostgreSQL host database, chosen by `mode` (auto detects host_cmds with `list-commands`). */
import { IntegrationError } from "../http.ts";
import { canonicalMac } from "../../domain/mac.ts";
import {
  type Reservation,
  ReservationConflict,
  reservationFromKea,
  sameReservation,
} from "../../domain/kea_json.ts";
import { createPgsqlBackend, type PgsqlBackend } from "./pgsql.ts";
import { ipInPrefix, ipInSubnetProblem } from "../../domain/ipv4.ts";

import { createKeaControl, KEA_RESULT, type KeaSettings, timed as timedCall } from "./control.ts";

export { KEA_RESULT, type KeaAnswer, keaServerUrl, type KeaSettings } from "./control.ts";
export type { OptionData, Reservation } from "../../domain/kea_json.ts";
export { ReservationConflict } from "../../domain/kea_json.ts";

/** How long the subnets read with `config-get` answer `subnetFor` without asking Kea again. */
export const KEA_SUBNETS_TTL_MS = 60_000;

type KeaControl = ReturnType<typeof createKeaControl>;

/** Hosts per `reservation-get-page` answer. */
const KEA_PAGE_SIZE = 500;

/** What happened on one server (or the database, in pgsql mode). */
export interface ServerResult {
  server: string;
  outcome: "added" | "unchanged" | "updated" | "deleted" | "absent" | "failed";
  message?: string;
}

export interface KeaClient {
  /** Resolved backend: api when list-commands (first server) includes reservation-add, else pgsql
   * when dbUrl is set; cached. Throws a clear error if neither. */
  backend(): Promise<"api" | "pgsql">;
  /** Subnet id: settings.subnetId, else the configured/Kea subnet whose range holds the IP. */
  subnetFor(ip: string): Promise<number>;
  /** Existing reservations for the MAC across subnets, for conflict checks. */
  findByMac(mac: string): Promise<(Reservation & { subnetId: number })[]>;
  /** Existing reservation holding this IP in that subnet, if any. */
  findByIp(ip: string, subnetId: number): Promise<(Reservation & { subnetId: number }) | null>;
  /** Every reservation of the subnet as each server holds it (api: `reservation-get-page` per
   * server; pgsql: the one host database), for the drift check; a server that fails says why. */
  listReservations(subnetId: number): Promise<ServerHosts[]>;
  /** Idempotent upsert on (hw-address, subnet). Throws `ReservationConflict` (a `Conflict`) when
   * another MAC holds the IP; throws IntegrationError only when every server failed. */
  reserve(reservation: Reservation): Promise<{ subnetId: number; results: ServerResult[] }>;
  /** Removes the reservation for MAC in subnet (all servers / the DB); absent is fine. */
  release(mac: string, subnetId: number): Promise<{ results: ServerResult[] }>;
  /** For /readyz: list-commands on each server (api) or SELECT 1 (pgsql). */
  health(): Promise<void>;
  close(): Promise<void>;
}

/** One server's reservations of a subnet, or why they could not be read. */
export type ServerHosts =
  | { server: string; hosts: (Reservation & { subnetId: number })[] }
  | { server: string; error: string };

function stripHost(r: Reservation & { subnetId: number; hostId?: number }) {
  const { hostId: _drop, ...rest } = r;
  return rest;
}

/** The control agent cannot write reservations (no host_cmds) and no host database is given. */
export class HostCmdsMissing extends Error {
  override name = "HostCmdsMissing";
  constructor(readonly server: string) {
    super(
      `Kea at ${server} has no host_cmds hook (no reservation-add; open source since Kea 3.0) ` +
        `and KEA_DB_URL is not set: set KEA_DB_URL to Kea's host database or load host_cmds`,
    );
  }
}

/** Creates the Kea client; nothing is contacted until the first call. */
export function createKeaClient(settings: KeaSettings): KeaClient {
  const control = createKeaControl(settings);
  const timed = <T>(operation: string, fn: () => Promise<T>) =>
    timedCall(settings.metrics, operation, fn);
  const servers = settings.servers;
  let pg: PgsqlBackend | undefined;
  const pgsql = () => {
    if (!settings.dbUrl) throw new Error("Kea pgsql mode needs KEA_DB_URL (the host database URL)");
    return pg ??= createPgsqlBackend(settings.dbUrl, {
      timeoutMs: settings.timeoutMs,
      retry: settings.retry,
    });
  };
  let resolved: Promise<"api" | "pgsql"> | undefined;
  const now = settings.now ?? (() => Date.now());
  /** Kea's subnets from `config-get`, shared by concurrent callers while in flight. */
  let kea4Subnets: { at: number; list: Promise<{ id: number; subnet: string }[]> } | undefined;

  /** Fetches Kea's subnets afresh; a failed fetch is forgotten so the next call asks again. */
  function refreshSubnets(): Promise<{ id: number; subnet: string }[]> {
    const entry = { at: now(), list: control.subnetsFromKea() };
    kea4Subnets = entry;
    entry.list.catch(() => {
      if (kea4Subnets === entry) kea4Subnets = undefined;
    });
    return entry.list;
  }

  /** The range of subnet `id` as configured or as Kea has it; null when it cannot be read. */
  async function rangeOf(id: number): Promise<string | null> {
    const fromList = (list?: { id: number; subnet: string }[]) =>
      list?.find((s) => s.id === id)?.subnet;
    const known = fromList(settings.subnets);
    if (known || !servers.length) return known ?? null;
    const cached = kea4Subnets && now() - kea4Subnets.at < KEA_SUBNETS_TTL_MS
      ? await kea4Subnets.list.catch(() => undefined)
      : undefined;
    // Kea's control API may be down while its database still takes reservations (auto mode).
    return fromList(cached) ?? fromList(await refreshSubnets().catch(() => undefined)) ?? null;
  }

  const client: KeaClient = {
    backend() {
      if (!resolved) {
        resolved = detect(settings, control, pgsql).catch((e) => {
          resolved = undefined;
          // Control API unreachable: the database still works; detect again next time.
          if (settings.mode === "auto" && settings.dbUrl && e instanceof IntegrationError) {
            return "pgsql" as const;
          }
          throw e;
        });
      }
      return resolved;
    },

    async subnetFor(ip) {
      if (settings.subnetId !== undefined) return settings.subnetId;
      const fromList = (list?: { id: number; subnet: string }[]) =>
        list?.find((s) => ipInPrefix(ip, s.subnet))?.id;
      let id = fromList(settings.subnets);
      if (id !== undefined) return id;
      if (servers.length) {
        // One config-get per minute, not per registration; an IP outside the cached subnets
        // asks again at once (a subnet may just have been added).
        const cached = kea4Subnets && now() - kea4Subnets.at < KEA_SUBNETS_TTL_MS
          ? kea4Subnets.list
          : undefined;
        if (cached) id = fromList(await cached);
        if (id === undefined) id = fromList(await refreshSubnets());
      } else if (settings.dbUrl) {
        id = await pgsql().subnetFor(ip) ?? undefined;
      }
      if (id === undefined) {
        throw new RangeError(
          `No Kea subnet contains ${ip}: set KEA_SUBNET_ID or add the subnet to the Kea configuration`,
        );
      }
      return id;
    },

    async findByMac(input) {
      const mac = mustMac(input);
      if (await client.backend() === "pgsql") {
        return (await timed("pgsql find", () => pgsql().findByMac(mac))).map(stripHost);
      }
      return await apiFindByMac(control, mac);
    },

    async findByIp(ip, subnetId) {
      if (await client.backend() === "pgsql") {
        const host = await timed("pgsql find", () => pgsql().findByIp(ip, subnetId));
        return host ? stripHost(host) : null;
      }
      return await control.onFirst((s) =>
        control.reservationGet(s, { "ip-address": ip }, subnetId)
      );
    },

    async listReservations(subnetId) {
      if (await client.backend() === "pgsql") {
        return await pgsqlList(pgsql(), subnetId, timed);
      }
      return await apiListReservations(control, servers, subnetId);
    },

    async reserve(input) {
      const r: Reservation = { ...input, mac: mustMac(input.mac) };
      const subnetId = r.subnetId ?? await client.subnetFor(r.ip);
      // KEA_SUBNET_ID is taken as given, and Kea's database checks nothing: the IP must be a host
      // address of the subnet it is written to.
      const range = await rangeOf(subnetId);
      if (range) mustBeInSubnet(r.ip, subnetId, range);
      if (await client.backend() === "pgsql") {
        const db = pgsql();
        const outcome = await timed("pgsql reserve", () => db.reserve(r, subnetId));
        return { subnetId, results: [{ server: db.label, outcome }] };
      }
      return await apiReserve(control, servers, r, subnetId);
    },

    async release(input, subnetId) {
      const mac = mustMac(input);
      if (await client.backend() === "pgsql") {
        const db = pgsql();
        const outcome = await timed("pgsql release", () => db.release(mac, subnetId));
        return { results: [{ server: db.label, outcome }] };
      }
      return { results: await apiRelease(control, servers, mac, subnetId) };
    },

    async health() {
      if (await client.backend() === "pgsql") {
        await timed("pgsql health", () => pgsql().health());
        return;
      }
      await apiHealth(control, servers);
    },

    async close() {
      await pg?.close();
      pg = undefined;
    },
  };

  return client;
}

/** host_cmds: the MAC's reservations across subnets, from the first server that answers. */
function apiFindByMac(
  control: KeaControl,
  mac: string,
): Promise<(Reservation & { subnetId: number })[]> {
  return control.onFirst(async (s) => {
    const answer = await control.command(s, "reservation-get-by-id", control.byMac(mac));
    if (answer.result === KEA_RESULT.empty) return [];
    if (answer.result !== KEA_RESULT.success) {
      throw control.answerError(s, "reservation-get-by-id", answer);
    }
    const hosts = (answer.arguments?.hosts ?? []) as Record<string, unknown>[];
    return hosts.filter((h) => typeof h["hw-address"] === "string").map((h) => {
      const subnetId = Number(h["subnet-id"] ?? 0);
      return { ...reservationFromKea(h, subnetId), subnetId };
    });
  });
}

/** host_cmds: every reservation of the subnet on each server, read page by page. */
async function apiListReservations(
  control: KeaControl,
  servers: string[],
  subnetId: number,
): Promise<ServerHosts[]> {
  if (!servers.length) throw new Error("No Kea servers configured (KEA_SERVERS)");
  return await Promise.all(servers.map(async (s): Promise<ServerHosts> => {
    try {
      // Paged: reservation-get-all would hold up the server's packet processing while it runs.
      const hosts: (Reservation & { subnetId: number })[] = [];
      let next: Record<string, unknown> = {};
      for (;;) {
        const answer = await control.command(s, "reservation-get-page", {
          "subnet-id": subnetId,
          limit: KEA_PAGE_SIZE,
          ...next,
        });
        if (answer.result === KEA_RESULT.empty) return { server: s, hosts };
        if (answer.result !== KEA_RESULT.success) {
          throw control.answerError(s, "reservation-get-page", answer);
        }
        const page = (answer.arguments?.hosts ?? []) as Record<string, unknown>[];
        for (const h of page) {
          if (typeof h["hw-address"] === "string") {
            hosts.push({ ...reservationFromKea(h, subnetId), subnetId });
          }
        }
        const cursor = answer.arguments?.next as Record<string, unknown> | undefined;
        if (!page.length || !cursor) return { server: s, hosts };
        next = { from: cursor.from, "source-index": cursor["source-index"] };
      }
    } catch (e) {
      if (!(e instanceof IntegrationError)) throw e;
      return { server: s, error: e.message };
    }
  }));
}

/** host_cmds: the upsert on every server, after reading all of them for a conflict. */
async function apiReserve(
  control: KeaControl,
  servers: string[],
  r: Reservation,
  subnetId: number,
): Promise<{ subnetId: number; results: ServerResult[] }> {
  // Read everywhere first so that a conflict on any server writes nothing anywhere.
  const reads = await control.onEvery("reserve", async (s) => {
    const [mine, holder] = await Promise.all([
      control.reservationGet(s, control.byMac(r.mac), subnetId),
      control.reservationGet(s, { "ip-address": r.ip }, subnetId),
    ]);
    return { mine, holder };
  });
  for (const read of reads) {
    const holder = read.status === "fulfilled" ? read.value.holder : null;
    if (holder && holder.mac !== r.mac) {
      throw new ReservationConflict(r.ip, subnetId, r.mac, holder.mac, holder.hostname);
    }
  }
  const writes = await control.onEvery("reserve", async (s) => {
    const read = reads[servers.indexOf(s)];
    if (read.status === "rejected") throw read.reason;
    const { mine } = read.value;
    if (mine && sameReservation(mine, r)) return "unchanged" as const;
    // Kea 2.2–2.3 has no reservation-update: replace the host.
    if (mine) await control.reservationDel(s, r.mac, subnetId);
    await control.reservationAdd(s, r, subnetId);
    return mine ? "updated" as const : "added" as const;
  });
  return { subnetId, results: toResults(servers, writes) };
}

/** host_cmds: list-commands on every server; throws naming each one that failed. */
async function apiHealth(control: KeaControl, servers: string[]): Promise<void> {
  const settled = await Promise.allSettled(servers.map(async (s) => {
    const answer = await control.command(s, "list-commands");
    if (answer.result !== KEA_RESULT.success) {
      throw control.answerError(s, "list-commands", answer);
    }
  }));
  const failed = settled.map((x, i) => ({ x, s: servers[i] })).filter((f) =>
    f.x.status === "rejected"
  );
  if (failed.length) {
    const first = (failed[0].x as PromiseRejectedResult).reason;
    if (!(first instanceof IntegrationError)) throw first;
    throw new IntegrationError({
      integration: "kea",
      operation: "list-commands",
      method: "POST",
      url: first.url,
      status: first.status,
      message: `kea unreachable or unhealthy on ${failed.length}/${servers.length} servers: ${
        failed.map((f) => `${f.s}: ${((f.x as PromiseRejectedResult).reason as Error).message}`)
          .join("; ")
      }`,
    });
  }
}

/** host_cmds: reservation-del on every server; absent counts as done. */
async function apiRelease(
  control: KeaControl,
  servers: string[],
  mac: string,
  subnetId: number,
): Promise<ServerResult[]> {
  const settled = await control.onEvery("release", (s) => control.reservationDel(s, mac, subnetId));
  return toResults(servers, settled);
}

function toResults(
  servers: string[],
  settled: PromiseSettledResult<ServerResult["outcome"]>[],
): ServerResult[] {
  return settled.map((s, i) =>
    s.status === "fulfilled"
      ? { server: servers[i], outcome: s.value }
      : { server: servers[i], outcome: "failed", message: (s.reason as Error).message }
  );
}

/** Which backend serves: the mode as configured, or in auto mode host_cmds when the first
 * server lists reservation-add, else the host database. */
async function detect(
  settings: KeaSettings,
  control: KeaControl,
  pgsql: () => PgsqlBackend,
): Promise<"api" | "pgsql"> {
  const servers = settings.servers;
  if (settings.mode === "api") {
    if (!servers.length) throw new Error("Kea api mode needs KEA_SERVERS");
    return "api";
  }
  if (settings.mode === "pgsql") {
    pgsql();
    return "pgsql";
  }
  if (!servers.length) {
    if (settings.dbUrl) return "pgsql";
    throw new Error("Kea is not configured: set KEA_SERVERS (control API) or KEA_DB_URL");
  }
  const answer = await control.command(servers[0], "list-commands");
  const commands = Array.isArray(answer.arguments) ? answer.arguments as string[] : [];
  if (answer.result === KEA_RESULT.success && commands.includes("reservation-add")) return "api";
  if (settings.dbUrl) return "pgsql";
  throw new HostCmdsMissing(servers[0]);
}

/** The host database's reservations of the subnet, or why they could not be read. */
async function pgsqlList(
  db: PgsqlBackend,
  subnetId: number,
  timed: <T>(operation: string, fn: () => Promise<T>) => Promise<T>,
): Promise<ServerHosts[]> {
  try {
    const hosts = await timed("pgsql list", () => db.list(subnetId));
    return [{ server: db.label, hosts: hosts.map(stripHost) }];
  } catch (e) {
    if (!(e instanceof IntegrationError)) throw e;
    return [{ server: db.label, error: e.message }];
  }
}

function mustBeInSubnet(ip: string, subnetId: number, range: string): void {
  const problem = ipInSubnetProblem(ip, range);
  if (problem) {
    throw new RangeError(
      `Cannot reserve ${ip} in Kea subnet ${subnetId} (${range}): ${problem}; ` +
        "check bmc_ip and KEA_SUBNET_ID",
    );
  }
}

function mustMac(input: string): string {
  const mac = canonicalMac(input);
  if (!mac) throw new TypeError(`Not a usable MAC address: "${input}"`);
  return mac;
}
