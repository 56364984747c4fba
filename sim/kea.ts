/** A Kea control agent (2.2–3.0 format) with the host_cmds hook, for tests and the demo: list
 * answers, real result codes and messages, reservations kept per subnet with Kea's uniqueness. */
import { Faults } from "./faults.ts";
import { canonicalMac } from "../lib/domain/mac.ts";
import { optionCode, optionName } from "../lib/domain/kea_json.ts";
import { ipInPrefix, ipv4ToInt } from "../lib/domain/ipv4.ts";

export interface FakeKeaOptions {
  /** Whether the host_cmds hook is loaded (default true; Kea 2.2 from Debian has none). */
  hostCmds?: boolean;
  subnets?: { id: number; subnet: string }[];
}

/** A host as Kea returns it from `reservation-get` (all fields present). */
export interface FakeKeaHost {
  "subnet-id": number;
  "hw-address": string;
  "ip-address": string;
  hostname: string;
  "next-server": string;
  "server-hostname": string;
  "boot-file-name": string;
  "client-classes": string[];
  "option-data": Record<string, unknown>[];
  "user-context"?: Record<string, unknown>;
}

const BUILTIN = [
  "build-report",
  "config-get",
  "config-reload",
  "config-set",
  "config-test",
  "config-write",
  "dhcp-disable",
  "dhcp-enable",
  "leases-reclaim",
  "list-commands",
  "server-tag-get",
  "shutdown",
  "status-get",
  "version-get",
];
const HOST_CMDS = [
  "reservation-add",
  "reservation-del",
  "reservation-get",
  "reservation-get-all",
  "reservation-get-by-hostname",
  "reservation-get-by-id",
  "reservation-get-page",
];
const CA_COMMANDS = ["build-report", "config-get", "list-commands", "status-get", "version-get"];

type Answer = { result: number; text?: string; arguments?: unknown };

class CommandError extends Error {}

/** One fake control agent's state, passed to the command functions. */
interface KeaState {
  hostCmds: boolean;
  subnets: { id: number; subnet: string }[];
  /** Reservations by subnet, as Kea would return them. */
  hosts: FakeKeaHost[];
  /** Every command received, in order, for assertions (e.g. "no writes"). */
  commands: { command: string; arguments?: Record<string, unknown> }[];
  faults: Faults;
  /** Kea's host ids, given in the order hosts are stored (what reservation-get-page pages by). */
  hostIds: WeakMap<FakeKeaHost, number>;
  lastHostId: number;
}

function idOf(kea: KeaState, h: FakeKeaHost): number {
  if (!kea.hostIds.has(h)) kea.hostIds.set(h, ++kea.lastHostId);
  return kea.hostIds.get(h)!;
}

function macOf(v: unknown): string {
  const mac = typeof v === "string" ? canonicalMac(v) : null;
  if (!mac) throw new CommandError(`invalid hw-address '${String(v)}'`);
  return mac;
}

function subnetIdArg(args: Record<string, unknown>, required = true): number | undefined {
  const id = args["subnet-id"];
  if (id === undefined) {
    if (required) throw new CommandError("missing parameter 'subnet-id'");
    return undefined;
  }
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
    throw new CommandError("'subnet-id' parameter must be an integer");
  }
  return id;
}

/** The hosts a get/del addresses: by (subnet, ip) or (subnet, identifier). */
function lookup(kea: KeaState, args: Record<string, unknown>): number {
  const subnetId = subnetIdArg(args)!;
  if (typeof args["ip-address"] === "string") {
    return kea.hosts.findIndex((h) =>
      h["subnet-id"] === subnetId && h["ip-address"] === args["ip-address"]
    );
  }
  const type = args["identifier-type"];
  if (type === undefined || args.identifier === undefined) {
    throw new CommandError(
      "missing parameter 'ip-address' or 'identifier-type' and 'identifier'",
    );
  }
  if (type !== "hw-address") return -1; // only MAC reservations are kept
  const mac = macOf(args.identifier);
  return kea.hosts.findIndex((h) => h["subnet-id"] === subnetId && h["hw-address"] === mac);
}

function toHost(kea: KeaState, res: Record<string, unknown>): FakeKeaHost {
  const subnetId = subnetIdArg(res)!;
  const ids = ["hw-address", "client-id", "duid", "circuit-id", "flex-id"].filter((k) =>
    res[k] !== undefined
  );
  if (ids.length !== 1) {
    throw new CommandError(
      "exactly one identifier ('hw-address', 'client-id', 'duid', 'circuit-id' or 'flex-id') must be specified",
    );
  }
  if (ids[0] !== "hw-address") throw new CommandError(`identifier ${ids[0]} not supported here`);
  const mac = macOf(res["hw-address"]);
  const ip = res["ip-address"];
  if (typeof ip !== "string") throw new CommandError("missing parameter 'ip-address'");
  try {
    ipv4ToInt(ip);
  } catch {
    throw new CommandError(`Failed to convert '${ip}' to address`);
  }
  if (subnetId !== 0) {
    const subnet = kea.subnets.find((s) => s.id === subnetId);
    if (!subnet) throw new CommandError(`IPv4 subnet with id '${subnetId}' does not exist`);
    if (!ipInPrefix(ip, subnet.subnet)) {
      throw new CommandError(
        `specified reservation '${ip}' is not matching the IPv4 subnet prefix '${subnet.subnet}'`,
      );
    }
  }
  const str = (k: string) => (typeof res[k] === "string" ? res[k] as string : "");
  const options = Array.isArray(res["option-data"]) ? res["option-data"] : [];
  const host: FakeKeaHost = {
    "subnet-id": subnetId,
    "hw-address": mac,
    "ip-address": ip,
    hostname: str("hostname"),
    "next-server": str("next-server") || "0.0.0.0",
    "server-hostname": str("server-hostname"),
    "boot-file-name": str("boot-file-name"),
    "client-classes": Array.isArray(res["client-classes"])
      ? (res["client-classes"] as unknown[]).map(String)
      : [],
    "option-data": options.map((o: Record<string, unknown>) => {
      const space = typeof o.space === "string" ? o.space : "dhcp4";
      let code: number;
      try {
        code = optionCode({
          name: o.name as string | undefined,
          code: o.code as number | undefined,
          data: "",
          space,
        });
      } catch {
        throw new CommandError(`definition for the option '${space}.${o.name}' does not exist`);
      }
      return {
        "always-send": false,
        code,
        "csv-format": true,
        data: String(o.data ?? ""),
        name: (o.name as string) ?? optionName(code, space) ?? String(code),
        space,
      };
    }),
  };
  if (res["user-context"] && typeof res["user-context"] === "object") {
    host["user-context"] = res["user-context"] as Record<string, unknown>;
  }
  return host;
}

function run(kea: KeaState, name: string, args: Record<string, unknown> | undefined): Answer {
  if (!BUILTIN.includes(name) && !(kea.hostCmds && HOST_CMDS.includes(name))) {
    return { result: 2, text: `'${name}' command not supported.` };
  }
  const a = args ?? {};
  switch (name) {
    case "list-commands":
      return {
        result: 0,
        text: "List of commands returned.",
        arguments: [...BUILTIN, ...(kea.hostCmds ? HOST_CMDS : [])].sort(),
      };
    case "config-get":
      return {
        result: 0,
        text: "Configuration returned.",
        arguments: {
          Dhcp4: {
            "interfaces-config": { interfaces: ["*"] },
            "hooks-libraries": kea.hostCmds
              ? [{ library: "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_host_cmds.so" }]
              : [],
            subnet4: kea.subnets.map((s) => ({ id: s.id, subnet: s.subnet, pools: [] })),
          },
        },
      };
    case "status-get":
      return {
        result: 0,
        text: "",
        arguments: { pid: 1, uptime: 1, "multi-threading-enabled": false },
      };
    case "version-get":
      return { result: 0, text: "2.2.0", arguments: { extended: "2.2.0 (fake)" } };
    case "reservation-add": {
      const res = a.reservation;
      if (!res || typeof res !== "object") {
        throw new CommandError("reservation must be specified");
      }
      const host = toHost(kea, res as Record<string, unknown>);
      if (
        kea.hosts.some((h) =>
          h["subnet-id"] === host["subnet-id"] && h["hw-address"] === host["hw-address"]
        )
      ) {
        return { result: 1, text: "Database duplicate entry error: host already exists" };
      }
      if (
        kea.hosts.some((h) =>
          h["subnet-id"] === host["subnet-id"] && h["ip-address"] === host["ip-address"]
        )
      ) {
        return {
          result: 1,
          text: `failed to add new host using the HW address '${
            host["hw-address"]
          } and DUID '(null)' to the IPv4 subnet id '${host["subnet-id"]}' for the address ${
            host["ip-address"]
          }: There's already a reservation for this address`,
        };
      }
      kea.hosts.push(host);
      return { result: 0, text: "Host added." };
    }
    case "reservation-get": {
      const i = lookup(kea, a);
      return i < 0
        ? { result: 3, text: "Host not found." }
        : { result: 0, text: "Host found.", arguments: structuredClone(kea.hosts[i]) };
    }
    case "reservation-del": {
      const i = lookup(kea, a);
      if (i < 0) return { result: 3, text: "Host not deleted (not found)." };
      kea.hosts.splice(i, 1);
      return { result: 0, text: "Host deleted." };
    }
    case "reservation-get-by-id": {
      if (a["subnet-id"] !== undefined) {
        throw new CommandError("'subnet-id' is forbidden in reservation-get-by-id");
      }
      if (a["identifier-type"] === undefined || a.identifier === undefined) {
        throw new CommandError("missing parameter 'identifier-type' or 'identifier'");
      }
      const mac = a["identifier-type"] === "hw-address" ? macOf(a.identifier) : null;
      const found = kea.hosts.filter((h) => h["hw-address"] === mac);
      return {
        result: found.length ? 0 : 3,
        text: `${found.length} IPv4 host(s) found.`,
        arguments: { hosts: structuredClone(found) },
      };
    }
    case "reservation-get-all": {
      const subnetId = subnetIdArg(a);
      const found = kea.hosts.filter((h) => h["subnet-id"] === subnetId);
      return {
        result: found.length ? 0 : 3,
        text: `${found.length} IPv4 host(s) found.`,
        arguments: { hosts: structuredClone(found) },
      };
    }
    case "reservation-get-page":
      return getPage(kea, a);
    case "reservation-get-by-hostname": {
      const name = String(a.hostname ?? "").toLowerCase();
      const subnetId = subnetIdArg(a, false);
      const found = kea.hosts.filter((h) =>
        h.hostname.toLowerCase() === name &&
        (subnetId === undefined || h["subnet-id"] === subnetId)
      );
      return {
        result: found.length ? 0 : 3,
        text: `${found.length} IPv4 host(s) found.`,
        arguments: { hosts: structuredClone(found) },
      };
    }
    default:
      return { result: 2, text: `'${name}' command not supported.` };
  }
}

/** reservation-get-page: Kea pages by host id within a source (index 0 here: the one host
 * store), then ends with result 3 and an empty page. */
function getPage(kea: KeaState, a: Record<string, unknown>): Answer {
  const limit = a.limit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
    throw new CommandError("missing parameter 'limit'");
  }
  const subnetId = subnetIdArg(a, false);
  const from = typeof a.from === "number" ? a.from : 0;
  for (const h of kea.hosts) idOf(kea, h);
  const page = kea.hosts
    .filter((h) => (subnetId === undefined || h["subnet-id"] === subnetId) && idOf(kea, h) > from)
    .sort((x, y) => idOf(kea, x) - idOf(kea, y))
    .slice(0, limit);
  if (!page.length) {
    return { result: 3, text: "0 IPv4 host(s) found.", arguments: { count: 0, hosts: [] } };
  }
  return {
    result: 0,
    text: `${page.length} IPv4 host(s) found.`,
    arguments: {
      count: page.length,
      hosts: structuredClone(page),
      next: { from: idOf(kea, page.at(-1)!), "source-index": 0 },
    },
  };
}

async function handler(kea: KeaState, req: Request): Promise<Response> {
  const injected = await kea.faults.apply(req);
  if (injected) return injected;
  if (req.method !== "POST" || new URL(req.url).pathname !== "/") {
    return Response.json({ result: 400, text: "Bad Request" }, { status: 400 });
  }
  let body: Record<string, unknown>;
  try {
    body = await req.json();
  } catch {
    return Response.json({ result: 400, text: "Bad Request" }, { status: 400 });
  }
  const name = body.command;
  if (typeof name !== "string") {
    return Response.json([{ result: 1, text: "missing mandatory 'command' parameter" }]);
  }
  const args = body.arguments as Record<string, unknown> | undefined;
  kea.commands.push({ command: name, arguments: args });
  const service = body.service;
  if (!Array.isArray(service) || service.length === 0) {
    // Without a service the control agent answers itself.
    if (name === "list-commands") {
      return Response.json([{
        result: 0,
        text: "List of commands returned.",
        arguments: CA_COMMANDS,
      }]);
    }
    if (!CA_COMMANDS.includes(name)) {
      return Response.json([{ result: 2, text: `'${name}' command not supported.` }]);
    }
    return Response.json([{ result: 0, text: "" }]);
  }
  return Response.json(service.map((s) => {
    if (s !== "dhcp4") {
      return { result: 1, text: `forwarding socket is not configured for the server type ${s}` };
    }
    try {
      return run(kea, name, args);
    } catch (e) {
      if (e instanceof CommandError) return { result: 1, text: e.message };
      throw e;
    }
  }));
}

/** Creates a fake control agent; serve `handler` or pass `asFetch(handler)` to the client. */
export function createFakeKea(options: FakeKeaOptions = {}) {
  const kea: KeaState = {
    hostCmds: options.hostCmds ?? true,
    subnets: options.subnets ?? [{ id: 1, subnet: "10.16.28.0/24" }],
    hosts: [],
    commands: [],
    faults: new Faults(),
    hostIds: new WeakMap(),
    lastHostId: 0,
  };
  return {
    handler: (req: Request) => handler(kea, req),
    faults: kea.faults,
    /** Reservations by subnet, as Kea would return them. */
    hosts: kea.hosts,
    commands: kea.commands,
    subnets: kea.subnets,
    /** Commands received that change reservations. */
    writes: () =>
      kea.commands.filter((c) =>
        c.command === "reservation-add" || c.command === "reservation-del"
      ),
  };
}

export type FakeKea = ReturnType<typeof createFakeKea>;
