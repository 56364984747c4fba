/** Redfish BMC check: is the BMC speaking Redfish, does it accept the scanned password, and what
 * system (vendor, model, serial, system path, host NIC MACs) sits behind it.
 *
 * TLS: BMCs ship self-signed certificates and Deno's fetch verifies them, so an unverified BMC
 * is reported `unreachable`. The operator either adds the BMC CA (or the self-signed
 * certificates) to a PEM bundle named by `DENO_CERT`, or starts the service with
 * `--unsafely-ignore-certificate-errors=<bmc ip>,…` for the BMC subnet's addresses; `scheme: "http"`
 * is for BMCs that serve plain HTTP. This module does not weaken verification by itself. */
import { createHttpClient, type HttpClient, IntegrationError } from "./http.ts";
import { canonicalMac } from "./mac.ts";
import type { Metrics } from "./metrics.ts";

export interface RedfishSettings {
  fetch?: typeof fetch;
  /** Per request; default 5000. */
  timeoutMs?: number;
  /** Default https. */
  scheme?: "https" | "http";
  port?: number;
  metrics?: Metrics;
}

/** Result of checking a BMC; failures are outcomes, not exceptions, so the caller can show them. */
export type BmcCheck =
  | {
    outcome: "ok";
    vendor: string;
    model: string;
    serial: string;
    /** `Id` of the ComputerSystem; "" when the BMC withheld it (password change required). */
    systemId: string;
    /** Path for `redfish://host<systemPath>`; "" when unknown. */
    systemPath: string;
    passwordChangeRequired: boolean;
    /** Host NIC MACs, canonical lower-case colon form. */
    nicMacs: string[];
  }
  | { outcome: "unreachable" | "wrong-password" | "not-redfish"; message: string };

export interface RedfishClient {
  checkBmc(input: { host: string; username: string; password: string }): Promise<BmcCheck>;
}

type Json = Record<string, unknown>;

/** Collections larger than this are not walked (NICs, accounts). */
const MAX_MEMBERS = 32;
/** Account members read side by side when looking for ours. */
const ACCOUNTS_AT_ONCE = 8;
/** Where DSP0266 puts the ComputerSystem collection; the ServiceRoot's link is authoritative. */
const SYSTEMS_PATH = "/redfish/v1/Systems";

/** Creates a Redfish client; one instance serves any number of BMCs. */
export function createRedfishClient(settings: RedfishSettings = {}): RedfishClient {
  const scheme = settings.scheme ?? "https";
  const timeoutMs = settings.timeoutMs ?? 5000;

  return {
    async checkBmc({ host, username, password }) {
      const origin = originOf(scheme, host, settings.port);
      const basic = "Basic " + base64(`${username}:${password}`);
      // A BMC that is not there should not hold a registration up for long: two attempts.
      const http = createHttpClient({
        integration: "redfish",
        fetch: settings.fetch,
        timeoutMs,
        retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000 },
        // A redirect would carry the password (or the probe) to wherever the BMC points.
        redirect: "manual",
        metrics: settings.metrics,
        secrets: () => [password, basic, basic.slice(6)],
      });
      const where = `the BMC at ${host}`;

      // Round 1: the unauthenticated probe and the credential check side by side, the latter at
      // the standard Systems path (the ServiceRoot's link is checked once it is in). Only this
      // one request carries the password until the BMC has accepted it: failed logins count
      // towards a BMC's account lockout, so nothing else is sent alongside it.
      const [root, guessedSystems] = await Promise.all([
        get(http, origin, "/redfish/v1/", null),
        get(http, origin, SYSTEMS_PATH, basic),
      ]);
      if (root.kind === "failed") {
        // Some older firmware wants credentials even for the ServiceRoot; carry on with them.
        if (root.status !== 401 && root.status !== 403) return classify(root, where, username);
      } else if (!isServiceRoot(root.body)) {
        return {
          outcome: "not-redfish",
          message: `${cap(where)} answered /redfish/v1/ but not with a Redfish ServiceRoot: ` +
            "check the address, or register the server without the BMC check",
        };
      }
      const rootBody = root.kind === "ok" ? root.body : {};

      const systemsPath = odataId(rootBody.Systems) ?? SYSTEMS_PATH;
      // A rejected password is rejected whatever the path: asking again would count twice.
      const rejected = guessedSystems.kind === "failed" &&
        (guessedSystems.status === 401 || guessedSystems.status === 403);
      const systems = samePath(systemsPath, SYSTEMS_PATH, origin) || rejected
        ? guessedSystems
        : await get(http, origin, systemsPath, basic);
      if (systems.kind === "failed") {
        if (systems.status === 403 && mentions(systems.body, "PasswordChangeRequired")) {
          // DSP0266: the password is right but must be changed; nothing else is readable.
          return {
            outcome: "ok",
            vendor: vendorOf(rootBody, {}),
            model: str(rootBody.Product),
            serial: "",
            systemId: "",
            systemPath: "",
            passwordChangeRequired: true,
            nicMacs: [],
          };
        }
        return classify(systems, where, username);
      }
      const members = Array.isArray(systems.body.Members) ? systems.body.Members : [];
      const systemPath = odataId(members[0]);
      if (!systemPath) {
        return {
          outcome: "not-redfish",
          message: `${cap(where)} lists no computer system under ${systemsPath}`,
        };
      }
      // Round 2: the system, its NIC collection at the standard path and the account check side
      // by side; the system's own link to its NICs decides whether the guess is used.
      const nicGuessPath = `${systemPath.replace(/\/+$/, "")}/EthernetInterfaces`;
      const systemGot = get(http, origin, systemPath, basic);
      const nicGuess = get(http, origin, nicGuessPath, basic);
      // The NIC members follow as soon as the system and the collection are in.
      const nicsGot = Promise.all([systemGot, nicGuess]).then(([system, guess]) => {
        if (system.kind === "failed") return [];
        const nicPath = odataId(system.body.EthernetInterfaces);
        const fetched = nicPath && samePath(nicPath, nicGuessPath, origin) ? guess : undefined;
        return hostNicMacs(http, origin, basic, nicPath, fetched);
      });
      const [system, nicMacs, passwordChangeRequired] = await Promise.all([
        systemGot,
        nicsGot,
        accountNeedsNewPassword(http, origin, basic, rootBody, username),
      ]);
      if (system.kind === "failed") return classify(system, where, username);
      return {
        outcome: "ok",
        vendor: vendorOf(rootBody, system.body),
        model: str(system.body.Model),
        serial: str(system.body.SerialNumber),
        systemId: str(system.body.Id) || systemPath.split("/").pop()!,
        systemPath,
        passwordChangeRequired,
        nicMacs,
      };
    },
  };
}

type Got =
  | { kind: "ok"; body: Json }
  | { kind: "failed"; status: number; body: unknown; reason: string };

/** GET a Redfish resource on the BMC's own origin; never follows a link to another host. */
async function get(
  http: HttpClient,
  origin: string,
  path: string,
  authorization: string | null,
): Promise<Got> {
  let url: URL;
  try {
    url = new URL(path, origin);
  } catch {
    return { kind: "failed", status: -1, body: null, reason: `a malformed link ${path}` };
  }
  if (url.origin !== origin) {
    // Credentials go only to the BMC we were asked to check.
    return { kind: "failed", status: -1, body: null, reason: `a link to another host` };
  }
  try {
    const res = await http.request<unknown>("check BMC", "GET", url.toString(), {
      headers: authorization ? { authorization } : {},
    });
    if (!res.body || typeof res.body !== "object" || Array.isArray(res.body)) {
      return { kind: "failed", status: -1, body: res.body, reason: "an answer that is not JSON" };
    }
    return { kind: "ok", body: res.body as Json };
  } catch (e) {
    if (!(e instanceof IntegrationError)) throw e;
    return {
      kind: "failed",
      status: e.status,
      body: e.body,
      reason: e.status === 0 ? e.message.replace(/^redfish check BMC failed: /, "") : "",
    };
  }
}

/** Turns a failed request into the outcome a technician can act on. */
function classify(got: Got & { kind: "failed" }, where: string, username: string): BmcCheck {
  if (got.status === 0) {
    return {
      outcome: "unreachable",
      message: `${cap(where)} did not answer (${got.reason}): check that it is cabled and has ` +
        "its address, and that its certificate is trusted (see DENO_CERT)",
    };
  }
  if (got.status === 401) {
    return {
      outcome: "wrong-password",
      message: `The BMC rejected the scanned password for user ${username}: ` +
        "rescan the password label",
    };
  }
  if (got.status === 403) {
    return {
      outcome: "wrong-password",
      message: `The BMC refused user ${username} (HTTP 403): the account may be locked or ` +
        "lack privileges; unlock it or use an administrator account",
    };
  }
  if (got.status >= 300 && got.status < 400) {
    return {
      outcome: "not-redfish",
      message: `${cap(where)} answered with a redirect (HTTP ${got.status}), which the BMC check ` +
        "does not follow: the password goes only to the BMC's own address; check bmc_ip",
    };
  }
  if (got.status >= 500) {
    return {
      outcome: "unreachable",
      message: `${cap(where)} answered HTTP ${got.status}: it may be busy or restarting; ` +
        "retry in a few minutes",
    };
  }
  return {
    outcome: "not-redfish",
    message: got.status > 0
      ? `${cap(where)} answered HTTP ${got.status} where Redfish was expected: it may not ` +
        "support Redfish; register the server without the BMC check"
      : `${cap(where)} sent ${got.reason} where Redfish was expected`,
  };
}

async function hostNicMacs(
  http: HttpClient,
  origin: string,
  basic: string,
  collectionPath: string | undefined,
  /** The collection when it was already fetched (at the standard path). */
  fetched?: Got,
): Promise<string[]> {
  // Best effort: some BMCs only list host NICs while the host is powered on.
  if (!collectionPath) return [];
  const collection = fetched ?? await get(http, origin, collectionPath, basic);
  if (collection.kind === "failed") return [];
  const paths = membersOf(collection.body);
  const nics = await Promise.all(paths.map((p) => get(http, origin, p, basic)));
  const macs: string[] = [];
  for (const nic of nics) {
    if (nic.kind === "failed") continue;
    const mac = canonicalMac(str(nic.body.MACAddress)) ??
      canonicalMac(str(nic.body.PermanentMACAddress));
    if (mac && !macs.includes(mac)) macs.push(mac);
  }
  return macs;
}

async function accountNeedsNewPassword(
  http: HttpClient,
  origin: string,
  basic: string,
  root: Json,
  username: string,
): Promise<boolean> {
  // Best effort: AccountService → Accounts → the account with our UserName. The Accounts
  // collection is asked for at its standard path alongside the service; the link decides.
  const servicePath = odataId(root.AccountService) ?? "/redfish/v1/AccountService";
  const guessPath = `${servicePath.replace(/\/+$/, "")}/Accounts`;
  const [service, guess] = await Promise.all([
    get(http, origin, servicePath, basic),
    get(http, origin, guessPath, basic),
  ]);
  if (service.kind === "failed") return false;
  const accountsPath = odataId(service.body.Accounts);
  if (!accountsPath) return false;
  const accounts = samePath(accountsPath, guessPath, origin)
    ? guess
    : await get(http, origin, accountsPath, basic);
  if (accounts.kind === "failed") return false;
  // A few accounts at a time, in order, stopping at ours: BMCs serve few requests at once.
  const paths = membersOf(accounts.body);
  for (let i = 0; i < paths.length; i += ACCOUNTS_AT_ONCE) {
    const batch = await Promise.all(
      paths.slice(i, i + ACCOUNTS_AT_ONCE).map((p) => get(http, origin, p, basic)),
    );
    const mine = batch.find((a) => a.kind === "ok" && a.body.UserName === username);
    if (mine?.kind === "ok") return mine.body.PasswordChangeRequired === true;
  }
  return false;
}

function membersOf(collection: Json): string[] {
  const members = Array.isArray(collection.Members) ? collection.Members : [];
  return members.slice(0, MAX_MEMBERS).map(odataId).filter((p): p is string => Boolean(p));
}

function isServiceRoot(body: Json): boolean {
  return typeof body.RedfishVersion === "string" ||
    str(body["@odata.type"]).startsWith("#ServiceRoot.");
}

/** The system's Manufacturer is the reliable vendor string; then ServiceRoot Vendor, then Oem. */
function vendorOf(root: Json, system: Json): string {
  const oem = root.Oem && typeof root.Oem === "object" ? Object.keys(root.Oem)[0] : undefined;
  return str(system.Manufacturer) || str(root.Vendor) || oem || "";
}

/** Same resource on the BMC: paths (or URLs) compared without a trailing slash. */
function samePath(a: string, b: string, origin: string): boolean {
  const norm = (p: string) => {
    try {
      const u = new URL(p, origin);
      return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
    } catch {
      return p;
    }
  };
  return norm(a) === norm(b);
}

function odataId(link: unknown): string | undefined {
  const id = link && typeof link === "object" ? (link as Json)["@odata.id"] : undefined;
  return typeof id === "string" && id !== "" ? id : undefined;
}

function mentions(body: unknown, messageId: string): boolean {
  return JSON.stringify(body ?? "").includes(messageId);
}

function str(v: unknown): string {
  return typeof v === "string" ? v.trim() : "";
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `scheme://host[:port]`; accepts `host`, `host:port`, an IPv6 address or `[v6]:port`. */
function originOf(scheme: string, host: string, port?: number): string {
  let h = host.trim();
  let p = port;
  const v4WithPort = /^([^:[\]]+):(\d+)$/.exec(h);
  const v6WithPort = /^\[([^\]]+)\]:(\d+)$/.exec(h);
  if (v4WithPort) [h, p] = [v4WithPort[1], p ?? Number(v4WithPort[2])];
  else if (v6WithPort) [h, p] = [`[${v6WithPort[1]}]`, p ?? Number(v6WithPort[2])];
  else if (h.includes(":") && !h.startsWith("[")) h = `[${h}]`;
  return new URL(`${scheme}://${h}${p ? `:${p}` : ""}`).origin;
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}
