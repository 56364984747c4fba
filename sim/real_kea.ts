/** Runs a private PostgreSQL and a real kea-dhcp4 + kea-ctrl-agent on loopback, for the demo and
 * the integration tests (Debian packages postgresql, kea-dhcp4-server, kea-ctrl-agent, kea-admin). */
import postgres from "postgres";

const KEA_DHCP4 = "/usr/sbin/kea-dhcp4";
const KEA_CTRL_AGENT = "/usr/sbin/kea-ctrl-agent";
const KEA_ADMIN = "/usr/sbin/kea-admin";
const HOOKS_DIR = "/usr/lib/x86_64-linux-gnu/kea/hooks";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The directory with initdb/pg_ctl of the newest installed PostgreSQL, or null. */
function pgBinDir(): string | null {
  try {
    const versions = [...Deno.readDirSync("/usr/lib/postgresql")]
      .map((e) => e.name).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const dir = `/usr/lib/postgresql/${v}/bin`;
      if (exists(`${dir}/initdb`) && exists(`${dir}/pg_ctl`)) return dir;
    }
  } catch { /* not installed */ }
  return null;
}

/**
 * Names the Debian package to install when a binary a local Kea needs is missing, else null.
 * With `externalPostgres` (a server is given by URL) PostgreSQL itself is not needed.
 */
export function missingKeaDependency(options: { externalPostgres?: boolean } = {}): string | null {
  if (!options.externalPostgres && !pgBinDir()) return "postgresql";
  if (!exists(KEA_DHCP4)) return "kea-dhcp4-server";
  if (!exists(KEA_CTRL_AGENT)) return "kea-ctrl-agent";
  if (!exists(KEA_ADMIN) || !exists("/usr/bin/psql")) return "kea-admin";
  return null;
}

/** The installed kea-dhcp4's version, e.g. `2.2.0`. */
export async function keaVersion(): Promise<string> {
  return (await run(KEA_DHCP4, ["-v"])).trim().split(/\s+/)[0];
}

/** A free TCP port on 127.0.0.1. */
export function freeTcpPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A free UDP port on 127.0.0.1 (the kernel's choice for a TCP socket is free for UDP in practice). */
export function freeUdpPort(): number {
  for (;;) {
    const port = freeTcpPort();
    // Stay out of the DHCP/BOOTP ports a relay-style client binds.
    if (port !== 67 && port !== 68) return port;
  }
}

async function run(cmd: string, args: string[], options: { env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}):\n${text}`);
  return text;
}

async function postgresUid(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run("id", ["-u", "postgres"])).trim());
  const gid = Number((await run("id", ["-g", "postgres"])).trim());
  return { uid, gid };
}

/** Handle of a running local PostgreSQL. */
export interface LocalPostgres {
  /** Superuser URL (database `postgres`). */
  url: string;
  stop(): Promise<void>;
  /** Stops it without waiting on the event loop (for an `unload` handler). */
  stopSync(): void;
}

/**
 * A private PostgreSQL in a temp dir on a free port on 127.0.0.1 (run as the `postgres` user when
 * we are root, since initdb refuses root; its unix socket lives in the temp dir), or the server at
 * `url` when given (then `stop` does nothing).
 */
export async function startPostgres(options: { url?: string } = {}): Promise<LocalPostgres> {
  if (options.url) return { url: options.url, stop: () => Promise.resolve(), stopSync() {} };
  const bin = pgBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  const root = Deno.uid() === 0;
  const dir = await Deno.makeTempDir({ prefix: "kea-pg-" });
  const port = freeTcpPort();
  const password = `pw-${crypto.randomUUID()}`;
  const asPg = (cmd: string, args: string[]): [string, string[]] =>
    root ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const stopArgs = ["-D", `${dir}/data`, "-m", "immediate", "-w", "stop"];
  try {
    await Deno.writeTextFile(`${dir}/pwfile`, password);
    if (root) {
      const { uid, gid } = await postgresUid();
      await Deno.chown(dir, uid, gid);
      await Deno.chown(`${dir}/pwfile`, uid, gid);
    }
    await run(
      ...asPg(`${bin}/initdb`, [
        "-D",
        `${dir}/data`,
        "-U",
        "postgres",
        "--auth=scram-sha-256",
        `--pwfile=${dir}/pwfile`,
        "-E",
        "UTF8",
        "--no-sync",
      ]),
    );
    await run(
      ...asPg(`${bin}/pg_ctl`, [
        "-D",
        `${dir}/data`,
        "-l",
        `${dir}/postgres.log`,
        "-w",
        "-o",
        `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`,
        "start",
      ]),
    );
  } catch (e) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
  let stopped = false;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run(...asPg(`${bin}/pg_ctl`, stopArgs)).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    stopSync() {
      if (stopped) return;
      stopped = true;
      const [cmd, args] = asPg(`${bin}/pg_ctl`, stopArgs);
      try {
        new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "null" })
          .outputSync();
        Deno.removeSync(dir, { recursive: true });
      } catch { /* best effort on the way out */ }
    },
  };
}

/** Creates database `name` (dropping an old one) and returns its URL. */
export async function createDatabase(pgUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new TypeError(`Bad database name: ${name}`);
  const sql = postgres(pgUrl, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await sql.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const u = new URL(pgUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Connection parts of a postgres URL, as Kea's and kea-admin's settings want them. */
export function dbParts(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port || "5432",
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    name: decodeURIComponent(u.pathname.slice(1)),
  };
}

/** Creates Kea's schema (`kea-admin db-init pgsql`) in an empty database. */
export async function keaDbInit(url: string): Promise<void> {
  const db = dbParts(url);
  await run(KEA_ADMIN, [
    "db-init",
    "pgsql",
    "-h",
    db.host,
    "-P",
    db.port,
    "-u",
    db.user,
    "-p",
    db.password,
    "-n",
    db.name,
  ], { env: { PGPASSWORD: db.password } });
}

/** A subnet for `startKea`. */
export interface KeaSubnet {
  id: number;
  subnet: string;
  /** Pools like `"192.0.2.100 - 192.0.2.150"`. */
  pools?: string[];
  /** The relay (giaddr) that selects this subnet; default `relayPrefix` + position (1, 2, …). */
  relay?: string;
  optionData?: { name?: string; code?: number; data: string }[];
  nextServer?: string;
  reservations?: Record<string, unknown>[];
}

/** Handle of a running local Kea. */
export interface LocalKea {
  /** UDP port kea-dhcp4 listens on (127.0.0.1). */
  dhcpPort: number;
  /** Control agent URL (`http://127.0.0.1:PORT/`). */
  ctrlUrl: string;
  /** Relay address (giaddr) that selects each subnet id. */
  relays: Record<number, string>;
  /** The Dhcp4 configuration actually run. */
  config: Record<string, unknown>;
  /** kea-dhcp4's log so far (for failure messages). */
  log(): Promise<string>;
  stop(): Promise<void>;
  /** Signals both daemons and removes the temp dir without waiting (for an `unload` handler). */
  stopSync(): void;
}

/** Options of `startKea` and `startKeaWithConfig`. */
export interface KeaRunOptions {
  /** Host database (PostgreSQL URL); none when absent. */
  dbUrl?: string;
  debug?: boolean;
  /** Prefix of the relay addresses given to subnets without one; default `127.0.0.`. */
  relayPrefix?: string;
  /** UDP port for kea-dhcp4; a free one when absent. */
  dhcpPort?: number;
}

/** Starts kea-dhcp4 with simple subnets (and the pgsql host database when dbUrl is given). */
export function startKea(
  options: {
    subnets: KeaSubnet[];
    reservations?: Record<string, unknown>[];
    clientClasses?: Record<string, unknown>[];
    extra?: Record<string, unknown>;
  } & Omit<KeaRunOptions, "debug">,
): Promise<LocalKea> {
  const dhcp4: Record<string, unknown> = {
    "valid-lifetime": 600,
    "subnet4": options.subnets.map((s) => {
      const out: Record<string, unknown> = { id: s.id, subnet: s.subnet };
      if (s.pools) out.pools = s.pools.map((pool) => ({ pool }));
      if (s.relay) out.relay = { "ip-addresses": [s.relay] };
      if (s.optionData) out["option-data"] = s.optionData;
      if (s.nextServer) out["next-server"] = s.nextServer;
      if (s.reservations) out.reservations = s.reservations;
      return out;
    }),
    ...options.extra,
  };
  if (options.reservations) dhcp4.reservations = options.reservations;
  if (options.clientClasses) dhcp4["client-classes"] = options.clientClasses;
  return startKeaWithConfig(dhcp4, {
    dbUrl: options.dbUrl,
    relayPrefix: options.relayPrefix,
    dhcpPort: options.dhcpPort,
  });
}

function subnetsOf(dhcp4: Record<string, unknown>): Record<string, unknown>[] {
  const list = [...(dhcp4.subnet4 as Record<string, unknown>[] ?? [])];
  for (const net of (dhcp4["shared-networks"] ?? []) as Record<string, unknown>[]) {
    list.push(...(net.subnet4 as Record<string, unknown>[] ?? []));
  }
  return list;
}

/**
 * Runs a full Dhcp4 configuration (`{"Dhcp4": …}` or its body) on loopback. Replaced here:
 * interfaces (lo, udp sockets), control socket, lease database (memfile in a temp dir), host
 * database (pgsql `dbUrl`, or none), loggers; hooks whose library is not installed are dropped
 * (e.g. host_cmds on 2.2). Each subnet without a relay gets `${relayPrefix}N` (N = its position,
 * default prefix `127.0.0.`) so a relayed DISCOVER with that giaddr selects it; see `relays`.
 * Processes that may run side by side should each use their own `relayPrefix` (e.g. `127.0.3.`)
 * because a relay-style DHCP client binds giaddr:67.
 */
export async function startKeaWithConfig(
  config: Record<string, unknown>,
  options: KeaRunOptions = {},
): Promise<LocalKea> {
  const dir = await Deno.makeTempDir({ prefix: "kea-" });
  const children: Deno.ChildProcess[] = [];
  let stopped = false;
  const kill = (c: Deno.ChildProcess, signal: Deno.Signal) => {
    try {
      c.kill(signal);
    } catch { /* already gone */ }
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const c of children.reverse()) {
      kill(c, "SIGTERM");
      const timer = setTimeout(() => kill(c, "SIGKILL"), 3000);
      await c.status;
      clearTimeout(timer);
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    for (const c of children.reverse()) kill(c, "SIGTERM");
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch { /* best effort on the way out */ }
  };
  try {
    const dhcp4: Record<string, unknown> = structuredClone(
      (config.Dhcp4 ?? config) as Record<string, unknown>,
    );
    const dhcpPort = options.dhcpPort ?? freeUdpPort();
    const ctrlPort = freeTcpPort();
    const socket = `${dir}/kea4.sock`;
    dhcp4["interfaces-config"] = { interfaces: ["lo"], "dhcp-socket-type": "udp" };
    delete dhcp4["control-sockets"];
    dhcp4["control-socket"] = { "socket-type": "unix", "socket-name": socket };
    dhcp4["lease-database"] = {
      type: "memfile",
      persist: true,
      name: `${dir}/leases4.csv`,
      "lfc-interval": 0,
    };
    delete dhcp4["hosts-database"];
    delete dhcp4["hosts-databases"];
    if (options.dbUrl) {
      const db = dbParts(options.dbUrl);
      dhcp4["hosts-database"] = {
        type: "postgresql",
        name: db.name,
        host: db.host,
        port: Number(db.port),
        user: db.user,
        password: db.password,
      };
    }
    delete dhcp4["dhcp-ddns"];
    if (Array.isArray(dhcp4["hooks-libraries"])) {
      dhcp4["hooks-libraries"] = (dhcp4["hooks-libraries"] as { library: string }[])
        .map((h) => ({ ...h, library: `${HOOKS_DIR}/${h.library.split("/").pop()}` }))
        .filter((h) => exists(h.library));
    }
    const relays: Record<number, string> = {};
    const relayPrefix = options.relayPrefix ?? "127.0.0.";
    subnetsOf(dhcp4).forEach((s, i) => {
      const relay = s.relay as { "ip-addresses"?: string[] } | undefined;
      if (!relay?.["ip-addresses"]?.length) {
        s.relay = { "ip-addresses": [`${relayPrefix}${i + 1}`] };
      }
      relays[s.id as number] = (s.relay as { "ip-addresses": string[] })["ip-addresses"][0];
    });
    dhcp4.loggers = [{
      name: "kea-dhcp4",
      "output_options": [{ output: `${dir}/kea-dhcp4.log` }],
      severity: options.debug ? "DEBUG" : "INFO",
      debuglevel: options.debug ? 55 : 0,
    }];
    const full = { Dhcp4: dhcp4 };
    await Deno.writeTextFile(`${dir}/kea-dhcp4.conf`, JSON.stringify(full, null, 2));
    const env = { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
    const log = () => Deno.readTextFile(`${dir}/kea-dhcp4.log`).catch(() => "");
    await run(KEA_DHCP4, ["-t", `${dir}/kea-dhcp4.conf`], { env }).catch((e) => {
      throw new Error(`kea-dhcp4 rejected the configuration: ${(e as Error).message}`);
    });
    const dhcp = new Deno.Command(KEA_DHCP4, {
      args: ["-c", `${dir}/kea-dhcp4.conf`, "-p", String(dhcpPort)],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.push(dhcp);
    await Deno.writeTextFile(
      `${dir}/kea-ctrl-agent.conf`,
      JSON.stringify({
        "Control-agent": {
          "http-host": "127.0.0.1",
          "http-port": ctrlPort,
          "control-sockets": { dhcp4: { "socket-type": "unix", "socket-name": socket } },
          loggers: [{
            name: "kea-ctrl-agent",
            "output_options": [{ output: `${dir}/kea-ctrl-agent.log` }],
            severity: "INFO",
          }],
        },
      }),
    );
    const ca = new Deno.Command(KEA_CTRL_AGENT, {
      args: ["-c", `${dir}/kea-ctrl-agent.conf`],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    children.push(ca);
    const ctrlUrl = `http://127.0.0.1:${ctrlPort}/`;
    const deadline = Date.now() + 15_000;
    for (;;) {
      const answer = await fetch(ctrlUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ command: "list-commands", service: ["dhcp4"] }),
      }).then((r) => r.json()).catch(() => null);
      if (Array.isArray(answer) && answer[0]?.result === 0) break;
      if (Date.now() > deadline) {
        throw new Error(`Kea did not become ready within 15 s:\n${(await log()).slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { dhcpPort, ctrlUrl, relays, config: full, log, stop, stopSync };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A local Kea with its own PostgreSQL host database. */
export interface LocalKeaWithDatabase {
  kea: LocalKea;
  postgres: LocalPostgres;
  /** URL of Kea's host database (for `createKeaClient({ dbUrl })`). */
  dbUrl: string;
  stop(): Promise<void>;
  stopSync(): void;
}

/**
 * Starts a private PostgreSQL, creates database `database` with Kea's schema and runs Kea on
 * loopback with it as the host database; everything started is stopped again when a step fails.
 */
export async function startKeaWithDatabase(
  options: { subnets: KeaSubnet[]; database?: string } & Omit<KeaRunOptions, "dbUrl">,
): Promise<LocalKeaWithDatabase> {
  const pg = await startPostgres();
  try {
    const dbUrl = await createDatabase(pg.url, options.database ?? "kea");
    await keaDbInit(dbUrl);
    const kea = await startKea({
      subnets: options.subnets,
      dbUrl,
      relayPrefix: options.relayPrefix,
      dhcpPort: options.dhcpPort,
    });
    return {
      kea,
      postgres: pg,
      dbUrl,
      async stop() {
        await kea.stop();
        await pg.stop();
      },
      stopSync() {
        kea.stopSync();
        pg.stopSync();
      },
    };
  } catch (e) {
    await pg.stop();
    throw e;
  }
}
