/** Redfish BMC check: is the BMC speaking Redfish, does it accept the scanned password, and what
 * system (vendor, model, serial, system path) sits behind it, and which host NIC boots.
 *
 * TLS: Deno's fetch verifies the BMC's certificate; an untrusted one is reported as such ("the
 * BMC's certificate is not trusted: …"). README "BMC certificates" says what `DENO_CERT` can trust
 * and the ways around it. This module does not weaken verification by itself. */
import { createHttpClient, type HttpClient, IntegrationError, redactText } from "./http.ts";
import { canonicalMac } from "../domain/mac.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { BmcSystem, HostNic } from "../domain/model.ts";

export type { BmcSystem, HostNic };

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
    /** Host NICs that could boot, in the BMC's order. */
    nics: HostNic[];
    /** The boot NIC's MAC when the BMC's answer is unambiguous, else "". */
    bootMac: string;
    /** Why `bootMac` was chosen, or why none was. */
    bootReason: string;
  }
  /** The BMC manages several systems (blade chassis) and none, or an unknown one, was picked. */
  | { outcome: "pick-system"; systems: BmcSystem[]; message: string }
  | { outcome: "unreachable" | "wrong-password" | "not-redfish"; message: string };

export interface BmcCheckInput {
  host: string;
  username: string;
  password: string;
  /** The BMC's own MAC: never a boot NIC. */
  bmcMac?: string;
  /** Which system of a multi-system BMC: its `Id` or path. */
  system?: string;
}

export interface BmcLogin {
  host: string;
  username: string;
  password: string;
}

/** One login attempt: `refused` is the BMC saying no to these credentials (or a locked account),
 * `unreachable` says nothing about them. */
export type LoginOutcome =
  | { outcome: "ok"; passwordChangeRequired: boolean }
  | { outcome: "refused" | "unreachable"; message: string };

/** What `Password` a BMC accepts, from its AccountService (absent when it does not say). */
export interface PasswordLimits {
  min?: number;
  max?: number;
}

/** Outcome of a password PATCH: `refused` and `denied` were certainly not applied; `unknown` may
 * have been (no answer, a server error): only a login can tell. */
export type SetPasswordOutcome =
  | { outcome: "ok" }
  | { outcome: "refused" | "denied" | "unknown"; message: string };

/** A logged-in handle on our ManagerAccount, for one password change. */
export interface BmcAccount {
  limits: PasswordLimits;
  passwordChangeRequired: boolean;
  setPassword(password: string): Promise<SetPasswordOutcome>;
  /** Logs out (best effort). */
  close(): Promise<void>;
}

export interface RedfishClient {
  checkBmc(input: BmcCheckInput): Promise<BmcCheck>;
  /** Exactly one login with these credentials (a session when the BMC offers them, else Basic),
   * never retried: failed logins count towards the account's lock-out. */
  tryLogin(input: BmcLogin): Promise<LoginOutcome>;
  /** Logs in (once), finds the account by `UserName` (or by the PasswordChangeRequired message's
   * URI) and its ETag, ready to PATCH `Password`. */
  openAccount(input: BmcLogin): Promise<BmcAccount | Exclude<LoginOutcome, { outcome: "ok" }>>;
}

type Json = Record<string, unknown>;
type Auth = Record<string, string>;

/** Collections larger than this are not walked (systems, NICs, boot options, accounts). */
const MAX_MEMBERS = 32;
/** Members read side by side: BMCs serve few requests at once. */
const AT_ONCE = 8;
/** Where DSP0266 puts the ComputerSystem collection; the ServiceRoot's link is authoritative. */
const SYSTEMS_PATH = "/redfish/v1/Systems";

/** What one check needs to talk to its BMC. */
interface Ctx {
  http: HttpClient;
  origin: string;
  auth: Auth;
  where: string;
  username: string;
}

/** Creates a Redfish client; one instance serves any number of BMCs. */
export function createRedfishClient(settings: RedfishSettings = {}): RedfishClient {
  const scheme = settings.scheme ?? "https";
  const timeoutMs = settings.timeoutMs ?? 5000;

  /** A context for account work: no retries of anything that carries a password. */
  function accountCtx(host: string, username: string, secrets: string[]): Ctx {
    return {
      http: createHttpClient({
        integration: "redfish",
        fetch: settings.fetch,
        timeoutMs,
        retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000 },
        redirect: "manual",
        metrics: settings.metrics,
        secrets: () => secrets,
      }),
      origin: originOf(scheme, host, settings.port),
      auth: {},
      where: `the BMC at ${host}`,
      username,
    };
  }

  /** One login: a session when the ServiceRoot links them, else Basic on the AccountService. */
  async function login(ctx: Ctx, password: string, secrets: string[]): Promise<
    | { kind: "ok"; changeRequired: boolean; accountPath?: string; session?: string; root: Json }
    | { kind: "failed"; outcome: Exclude<LoginOutcome, { outcome: "ok" }> }
  > {
    const root = await get(ctx, "/redfish/v1/", null);
    if (root.kind === "failed" && root.status !== 401 && root.status !== 403) {
      return { kind: "failed", outcome: loginFailure(root, ctx) };
    }
    const rootBody = root.kind === "ok" ? root.body : {};
    const sessionsPath = odataId(objectOf(rootBody.Links).Sessions);
    if (sessionsPath) {
      const s = await openSession(ctx, sessionsPath, password);
      // A BMC that does not offer sessions after all (404, 405, 501) falls through to Basic.
      if (s.kind === "ok" || ![404, 405, 501].includes(s.status)) {
        if (s.kind === "failed") return { kind: "failed", outcome: loginFailure(s, ctx) };
        secrets.push(s.token);
        ctx.auth = { "x-auth-token": s.token };
        return {
          kind: "ok",
          changeRequired: s.changeRequired !== undefined,
          accountPath: s.changeRequired || undefined,
          session: s.location,
          root: rootBody,
        };
      }
    }
    const basic = "Basic " + base64(`${ctx.username}:${password}`);
    secrets.push(basic, basic.slice(6));
    ctx.auth = { authorization: basic };
    const servicePath = odataId(rootBody.AccountService) ?? "/redfish/v1/AccountService";
    const got = await getOnce(ctx, servicePath);
    if (got.kind === "ok") return { kind: "ok", changeRequired: false, root: rootBody };
    if (got.status === 403 && mentions(got.body, "PasswordChangeRequired")) {
      return {
        kind: "ok",
        changeRequired: true,
        accountPath: changeUri(got.body),
        root: rootBody,
      };
    }
    return { kind: "failed", outcome: loginFailure(got, ctx) };
  }

  return {
    async tryLogin({ host, username, password }) {
      const secrets = [password];
      const ctx = accountCtx(host, username, secrets);
      const got = await login(ctx, password, secrets);
      if (got.kind === "failed") return got.outcome;
      if (got.session) await closeSession(ctx, got.session);
      return { outcome: "ok", passwordChangeRequired: got.changeRequired };
    },

    async openAccount({ host, username, password }) {
      const secrets = [password];
      const ctx = accountCtx(host, username, secrets);
      const got = await login(ctx, password, secrets);
      if (got.kind === "failed") return got.outcome;
      const close = () => got.session ? closeSession(ctx, got.session) : Promise.resolve();
      let limits: PasswordLimits = {};
      let accountPath = got.accountPath;
      if (!accountPath) {
        const found = await findAccount(ctx, got.root);
        limits = found.limits;
        accountPath = found.path;
      }
      if (!accountPath) {
        await close();
        return {
          outcome: "unreachable",
          message: `${cap(ctx.where)} lists no account named ${username} under its ` +
            "AccountService: the password cannot be changed over Redfish",
        };
      }
      const path = accountPath;
      const etagOf = async () => {
        const res = await ctx.http.request<Json>("read account", "GET", sameOrigin(ctx, path)!, {
          headers: ctx.auth,
        }).catch(() => null);
        return res?.headers.get("etag") ?? str(res?.body?.["@odata.etag"]);
      };
      return {
        limits,
        passwordChangeRequired: got.changeRequired,
        close,
        async setPassword(next) {
          secrets.push(next);
          const url = sameOrigin(ctx, path);
          if (!url) return { outcome: "refused", message: "The account's URI is on another host" };
          for (let attempt = 1;; attempt++) {
            const etag = await etagOf();
            try {
              await ctx.http.request("change password", "PATCH", url, {
                body: { Password: next },
                headers: { ...ctx.auth, ...(etag ? { "if-match": etag } : {}) },
                retry: false,
              });
              return { outcome: "ok" };
            } catch (e) {
              if (!(e instanceof IntegrationError)) throw e;
              // Someone changed the account in between: read its ETag again, once.
              if (e.status === 412 && attempt === 1) continue;
              const said = redactText(bmcMessage(e.body), secrets);
              if (e.status === 400) {
                return {
                  outcome: "refused",
                  message: `The BMC refused the new password (policy): ${said || "HTTP 400"}`,
                };
              }
              if (e.status === 401 || e.status === 403 || e.status === 412 || e.status === 428) {
                return {
                  outcome: "denied",
                  message: `The BMC did not let us change the password (HTTP ${e.status}` +
                    `${said ? `: ${said}` : ""}): the account may be locked or lack privileges`,
                };
              }
              return {
                outcome: "unknown",
                message: e.status === 0
                  ? `${cap(ctx.where)} did not answer the password change`
                  : `${cap(ctx.where)} answered the password change with HTTP ${e.status}`,
              };
            }
          }
        },
      };
    },

    async checkBmc({ host, username, password, bmcMac, system }) {
      const origin = originOf(scheme, host, settings.port);
      const basic = "Basic " + base64(`${username}:${password}`);
      let token = "";
      // A BMC that is not there should not hold a registration up for long: two attempts.
      const http = createHttpClient({
        integration: "redfish",
        fetch: settings.fetch,
        timeoutMs,
        retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000 },
        // A redirect would carry the password (or the probe) to wherever the BMC points.
        redirect: "manual",
        metrics: settings.metrics,
        secrets: () => [password, basic, basic.slice(6), token],
      });
      const ctx: Ctx = {
        http,
        origin,
        auth: { authorization: basic },
        where: `the BMC at ${host}`,
        username,
      };

      // Round 1: the unauthenticated probe and the credential check side by side, the latter at
      // the standard Systems path (the ServiceRoot's link is checked once it is in). Only this
      // one request carries the password until the BMC has accepted it: failed logins count
      // towards a BMC's account lockout, so nothing else is sent alongside it.
      const [root, guessedSystems] = await Promise.all([
        get(ctx, "/redfish/v1/", null),
        get(ctx, SYSTEMS_PATH),
      ]);
      if (root.kind === "failed") {
        // Some older firmware wants credentials even for the ServiceRoot; carry on with them.
        if (root.status !== 401 && root.status !== 403) return classify(root, ctx);
      } else if (!isServiceRoot(root.body)) {
        return {
          outcome: "not-redfish",
          message: `${cap(ctx.where)} answered /redfish/v1/ but not with a Redfish ServiceRoot: ` +
            "check the address, or register the server without the BMC check",
        };
      }
      const rootBody = root.kind === "ok" ? root.body : {};

      const systemsPath = odataId(rootBody.Systems) ?? SYSTEMS_PATH;
      // A rejected password is rejected whatever the path: asking again would count twice.
      const rejected = guessedSystems.kind === "failed" &&
        (guessedSystems.status === 401 || guessedSystems.status === 403);
      let systems = samePath(systemsPath, SYSTEMS_PATH, origin) || rejected
        ? guessedSystems
        : await get(ctx, systemsPath);
      // Basic refused: a BMC that offers sessions gets one session login, as Ironic's sushy does.
      // Only a failed login is a wrong password; each way is tried once (account lock-outs).
      const sessionsPath = odataId(objectOf(rootBody.Links).Sessions);
      let session: string | undefined;
      if (systems.kind === "failed" && systems.status === 401 && sessionsPath) {
        const login = await openSession(ctx, sessionsPath, password);
        if (login.kind === "failed") {
          // No answer or a busy BMC says nothing about the password; a login the BMC does not
          // offer after all (404, 405, 501) leaves the Basic refusal as the answer.
          const transient = login.status === 0 || (login.status >= 500 && login.status !== 501);
          return classify(
            transient || login.status === 401 || login.status === 403 ? login : systems,
            ctx,
          );
        }
        token = login.token;
        session = login.location;
        ctx.auth = { "x-auth-token": token };
        systems = await get(ctx, systemsPath);
      }
      try {
        return await readSystem(ctx, rootBody, systems, systemsPath, { bmcMac, system });
      } finally {
        if (session) await closeSession(ctx, session);
      }
    },
  };
}

/** From the Systems collection on: the system, its NICs and boot order, and the account. */
async function readSystem(
  ctx: Ctx,
  rootBody: Json,
  systems: Got,
  systemsPath: string,
  input: { bmcMac?: string; system?: string },
): Promise<BmcCheck> {
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
        nics: [],
        bootMac: "",
        bootReason: "the BMC asks for a password change before it shows the system",
      };
    }
    return classify(systems, ctx);
  }
  const members = membersOf(systems.body);
  if (!members.length) {
    return {
      outcome: "not-redfish",
      message: `${cap(ctx.where)} lists no computer system under ${systemsPath}`,
    };
  }
  let systemPath = members[0];
  if (input.system) {
    const wanted = input.system;
    const picked = members.find((p) =>
      samePath(p, wanted, ctx.origin) || lastSegment(p) === wanted
    );
    if (!picked) return await pickSystem(ctx, members, `has no system "${wanted}"`);
    systemPath = picked;
  } else if (members.length > 1) {
    return await pickSystem(ctx, members, `manages ${members.length} systems`);
  }

  // Round 2: the system, its NIC and boot option collections at the standard paths and the
  // account check side by side; the system's own links decide whether the guesses are used.
  const base = systemPath.replace(/\/+$/, "");
  const systemGot = get(ctx, systemPath);
  const linked = (guessPath: string, link: (system: Json) => string | undefined) => {
    const guess = get(ctx, guessPath);
    return systemGot.then(async (system): Promise<Got | null> => {
      const path = system.kind === "ok" ? link(system.body) : undefined;
      if (!path) return null;
      return samePath(path, guessPath, ctx.origin) ? await guess : await get(ctx, path);
    });
  };
  const nicCollection = linked(`${base}/EthernetInterfaces`, (s) => odataId(s.EthernetInterfaces));
  const bootCollection = linked(
    `${base}/BootOptions`,
    (s) => odataId(objectOf(s.Boot).BootOptions),
  );
  // Round 3: the members, as soon as their collections are in. Boot options only matter when
  // there is more than one NIC to choose from.
  const nicBodies = nicCollection.then((c) => readMembers(ctx, c));
  const optionBodies = Promise.all([nicCollection, bootCollection]).then(([n, b]) =>
    n?.kind === "ok" && membersOf(n.body).length > 1 ? readMembers(ctx, b) : []
  );
  const [system, nicsRead, options, passwordChangeRequired] = await Promise.all([
    systemGot,
    nicBodies,
    optionBodies,
    accountNeedsNewPassword(ctx, rootBody),
  ]);
  if (system.kind === "failed") return classify(system, ctx);
  const nics = hostNics(nicsRead, input.bmcMac);
  const bootOrder = arrayOf(objectOf(system.body.Boot).BootOrder).map(str).filter(Boolean);
  const choice = chooseFromBootOrder(nics, bootOrder, options, input.bmcMac) ??
    await chooseByFunction(ctx, nics);
  return {
    outcome: "ok",
    vendor: vendorOf(rootBody, system.body),
    model: str(system.body.Model),
    serial: str(system.body.SerialNumber),
    systemId: str(system.body.Id) || lastSegment(systemPath),
    systemPath,
    passwordChangeRequired,
    nics: nics.map(({ id, mac, link }) => ({ id, mac, link })),
    bootMac: choice?.mac ?? "",
    bootReason: choice?.reason ??
      (nics.length
        ? `the BMC lists ${nics.length} host NICs and neither its boot order nor its network ` +
          "device functions say which one boots"
        : "the BMC lists no host NIC (some list them only while the host is powered on)"),
  };
}

/** The systems of a multi-system BMC, for the operator to pick one. */
async function pickSystem(ctx: Ctx, members: string[], what: string): Promise<BmcCheck> {
  const systems: BmcSystem[] = [];
  for (let i = 0; i < members.length; i += AT_ONCE) {
    const batch = members.slice(i, i + AT_ONCE);
    const got = await Promise.all(batch.map((p) => get(ctx, p)));
    got.forEach((g, k) => {
      const body = g.kind === "ok" ? g.body : {};
      systems.push({
        id: str(body.Id) || lastSegment(batch[k]),
        path: batch[k],
        name: str(body.Name),
        serial: str(body.SerialNumber),
      });
    });
  }
  return {
    outcome: "pick-system",
    systems,
    message: `${cap(ctx.where)} ${what} (${systems.map((s) => s.id).join(", ")}): ` +
      "pick the one in this slot (bmc_system) and Retry",
  };
}

/** One session login (DSP0266 13.3.4): the token, and where to log out. Never retried. */
async function openSession(
  ctx: Ctx,
  path: string,
  password: string,
): Promise<
  | { kind: "ok"; token: string; location: string; changeRequired?: string }
  | Got & { kind: "failed" }
> {
  const url = sameOrigin(ctx, path);
  if (!url) return { kind: "failed", status: -1, body: null, reason: "a link to another host" };
  try {
    const res = await ctx.http.request<Json>("log in", "POST", url, {
      body: { UserName: ctx.username, Password: password },
      retry: false,
    });
    const token = res.headers.get("x-auth-token") ?? "";
    if (!token) {
      return { kind: "failed", status: -1, body: null, reason: "a session without a token" };
    }
    const location = res.headers.get("location") ?? odataId(res.body) ?? "";
    // DSP0266 13.3.7.1: a session restricted to changing the password says so in its body.
    const changeRequired = mentions(res.body, "PasswordChangeRequired")
      ? changeUri(res.body) ?? ""
      : undefined;
    return { kind: "ok", token, location, changeRequired };
  } catch (e) {
    return failure(e);
  }
}

/** Logs the session out; a BMC has few session slots. Best effort. */
async function closeSession(ctx: Ctx, location: string): Promise<void> {
  const url = location && sameOrigin(ctx, location);
  if (!url) return;
  await ctx.http.request("log out", "DELETE", url, { headers: ctx.auth, accept: [404] })
    .catch(() => {});
}

type Got =
  | { kind: "ok"; body: Json }
  | { kind: "failed"; status: number; body: unknown; reason: string };

/** GET a Redfish resource on the BMC's own origin (with the check's credentials unless `auth`
 * is null); never follows a link to another host. */
async function get(ctx: Ctx, path: string, auth: Auth | null = ctx.auth): Promise<Got> {
  const url = sameOrigin(ctx, path);
  if (!url) {
    // Credentials go only to the BMC we were asked to check.
    return {
      kind: "failed",
      status: -1,
      body: null,
      reason: `a link to another host or malformed`,
    };
  }
  try {
    const res = await ctx.http.request<unknown>("check BMC", "GET", url, {
      headers: auth ?? {},
    });
    if (!res.body || typeof res.body !== "object" || Array.isArray(res.body)) {
      return { kind: "failed", status: -1, body: res.body, reason: "an answer that is not JSON" };
    }
    return { kind: "ok", body: res.body as Json };
  } catch (e) {
    return failure(e);
  }
}

/** GET with the context's credentials, never repeated (a refused password counts once). */
async function getOnce(ctx: Ctx, path: string): Promise<Got> {
  const url = sameOrigin(ctx, path);
  if (!url) return { kind: "failed", status: -1, body: null, reason: "a link to another host" };
  try {
    const res = await ctx.http.request<Json>("log in", "GET", url, {
      headers: ctx.auth,
      retry: false,
    });
    return { kind: "ok", body: objectOf(res.body) };
  } catch (e) {
    return failure(e);
  }
}

/** A failed login as `refused` (the credentials, or a locked account) or `unreachable`. */
function loginFailure(got: Got & { kind: "failed" }, ctx: Ctx): Exclude<
  LoginOutcome,
  { outcome: "ok" }
> {
  if (got.status === 401 || got.status === 403) {
    return {
      outcome: "refused",
      message: `The BMC refused the password for user ${ctx.username} (HTTP ${got.status}): ` +
        "wrong password, or the account is locked after failed logins",
    };
  }
  const c = classify(got, ctx);
  return { outcome: "unreachable", message: "message" in c ? c.message : "" };
}

/** Our account: the AccountService's Accounts member with our UserName, and the password limits
 * the AccountService states. */
async function findAccount(
  ctx: Ctx,
  root: Json,
): Promise<{ path?: string; limits: PasswordLimits }> {
  const service = await get(ctx, odataId(root.AccountService) ?? "/redfish/v1/AccountService");
  if (service.kind === "failed") return { limits: {} };
  const num = (v: unknown) => typeof v === "number" && v > 0 ? v : undefined;
  const limits = {
    min: num(service.body.MinPasswordLength),
    max: num(service.body.MaxPasswordLength),
  };
  const accountsPath = odataId(service.body.Accounts);
  const accounts = accountsPath ? await get(ctx, accountsPath) : null;
  if (accounts?.kind !== "ok") return { limits };
  const paths = membersOf(accounts.body);
  for (let i = 0; i < paths.length; i += AT_ONCE) {
    const batch = paths.slice(i, i + AT_ONCE);
    const got = await Promise.all(batch.map((p) => get(ctx, p)));
    const k = got.findIndex((a) => a.kind === "ok" && a.body.UserName === ctx.username);
    if (k >= 0) return { path: batch[k], limits };
  }
  return { limits };
}

/** The account URI the Base registry's PasswordChangeRequired message names (its argument). */
function changeUri(body: unknown): string | undefined {
  const found: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    const o = v as Json;
    if (str(o.MessageId).endsWith(".PasswordChangeRequired")) {
      const arg = arrayOf(o.MessageArgs).map(str).find((a) => a.startsWith("/"));
      const quoted = /'(\/redfish\/[^']+)'/.exec(str(o.Message))?.[1];
      if (arg ?? quoted) found.push((arg ?? quoted)!);
    }
    Object.values(o).forEach(walk);
  };
  walk(body);
  return found[0];
}

/** The BMC's own words from a Redfish error body (the messages, not the value sent). */
function bmcMessage(body: unknown): string {
  const error = objectOf(objectOf(body).error);
  const infos = arrayOf(error["@Message.ExtendedInfo"]).map((m) => str(objectOf(m).Message));
  return (infos.filter(Boolean).join(" ") || str(error.message)).slice(0, 300);
}

function failure(e: unknown): Got & { kind: "failed" } {
  if (!(e instanceof IntegrationError)) throw e;
  return {
    kind: "failed",
    status: e.status,
    body: e.body,
    reason: e.status === 0 ? e.message.replace(/^redfish [^:]* failed: /, "") : "",
  };
}

/** The URL of `path` when it is on the BMC's origin, else undefined. */
function sameOrigin(ctx: Ctx, path: string): string | undefined {
  try {
    const url = new URL(path, ctx.origin);
    return url.origin === ctx.origin ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** GETs a collection's members, a few at a time. */
async function readMembers(ctx: Ctx, collection: Got | null): Promise<Got[]> {
  if (collection?.kind !== "ok") return [];
  const paths = membersOf(collection.body);
  const out: Got[] = [];
  for (let i = 0; i < paths.length; i += AT_ONCE) {
    out.push(...await Promise.all(paths.slice(i, i + AT_ONCE).map((p) => get(ctx, p))));
  }
  return out;
}

/** Turns a failed request into the outcome a technician can act on. */
function classify(got: Got & { kind: "failed" }, ctx: Ctx): BmcCheck {
  const where = cap(ctx.where);
  if (got.status === 0) {
    const tls = /invalid peer certificate|certificate|handshake/i.exec(got.reason);
    if (tls) {
      return {
        outcome: "unreachable",
        message:
          `The BMC's certificate is not trusted: ${got.reason.slice(tls.index)} (${
            ctx.where.replace(/^the BMC /, "")
          }): ` +
          "give the BMC a certificate from a CA in DENO_CERT, with its IP in the certificate's " +
          "names (README, BMC certificates)",
      };
    }
    return {
      outcome: "unreachable",
      message: `${where} did not answer (${got.reason}): check that it is cabled and has ` +
        "its address",
    };
  }
  if (got.status === 401) {
    return {
      outcome: "wrong-password",
      message: `The BMC rejected the scanned password for user ${ctx.username}: ` +
        "rescan the password label",
    };
  }
  if (got.status === 403) {
    return {
      outcome: "wrong-password",
      message: `The BMC refused user ${ctx.username} (HTTP 403): the account may be locked or ` +
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
      message: `${where} answered HTTP ${got.status}: it may be busy or restarting; ` +
        "retry in a few minutes",
    };
  }
  return {
    outcome: "not-redfish",
    message: got.status > 0
      ? `${where} answered HTTP ${got.status} where Redfish was expected: it may not ` +
        "support Redfish; register the server without the BMC check"
      : `${where} sent ${got.reason} where Redfish was expected`,
  };
}

interface Candidate extends HostNic {
  /** Links to the NIC's NetworkDeviceFunctions. */
  functions: string[];
}

/** The host NICs that could boot: not the BMC's own MAC, not the host's internal link to the BMC
 * (DMTF `ToManager`, a USB NIC), one entry per MAC. */
function hostNics(read: Got[], bmcMac?: string): Candidate[] {
  const out: Candidate[] = [];
  for (const nic of read) {
    if (nic.kind === "failed") continue;
    const b = nic.body;
    const mac = canonicalMac(str(b.MACAddress)) ?? canonicalMac(str(b.PermanentMACAddress));
    if (!mac || mac === bmcMac || out.some((n) => n.mac === mac)) continue;
    const links = objectOf(b.Links);
    const words = `${str(b.Id)} ${str(b.Name)} ${str(b.Description)}`;
    if (links.HostInterface || /\bToManager\b|\bUSB\b/i.test(words)) continue;
    out.push({
      id: str(b.Id) || lastSegment(odataId(b) ?? ""),
      mac,
      link: str(b.LinkStatus),
      functions: arrayOf(links.NetworkDeviceFunctions).map(odataId).filter((p): p is string =>
        Boolean(p)
      ),
    });
  }
  return out;
}

interface Choice {
  mac: string;
  reason: string;
}

/**
 * The boot NIC when the BMC's answer is unambiguous: the only host NIC, else the first network
 * entry of the boot order (PXE over IPv4, then HTTP) resolved to a host NIC through the boot
 * option's UEFI device path `MAC(…)` (HPE, AMI) or a Dell NIC name (`NIC.Integrated.1-1-1`, or
 * "Integrated NIC 1 Port 1 Partition 1" in the option's name). NIC list order means nothing.
 */
function chooseFromBootOrder(
  nics: Candidate[],
  bootOrder: string[],
  options: Got[],
  bmcMac?: string,
): Choice | null {
  if (nics.length === 1) return { mac: nics[0].mac, reason: `the only host NIC (${nics[0].id})` };
  const bodies = options.flatMap((o) => o.kind === "ok" ? [o.body] : []);
  const entries = bootOrder.map((ref) => bootEntry(ref, bodies, nics, bmcMac));
  for (const [kind, what] of [["pxe4", "PXE (IPv4)"], ["http", "HTTP boot"]] as const) {
    const first = entries.find((e) => e?.kind === kind);
    // The first such entry decides; a later one would be a guess.
    if (first) {
      return first.mac
        ? { mac: first.mac, reason: `the first ${what} entry of the boot order, ${first.label}` }
        : null;
    }
  }
  return null;
}

/** A boot order entry: whether it boots from the network, and from which host NIC. */
function bootEntry(
  ref: string,
  options: Json[],
  nics: Candidate[],
  bmcMac?: string,
): { kind: "pxe4" | "http" | "v6"; label: string; mac?: string } | null {
  const option = options.find((o) => str(o.BootOptionReference) === ref) ??
    options.find((o) => str(o.Id) === ref);
  const byName = (fqdd: string | null) =>
    fqdd ? nics.find((n) => n.id.toLowerCase() === fqdd.toLowerCase())?.mac : undefined;
  if (!option) {
    // Dell in legacy BIOS mode names the NIC itself in the boot order.
    const fqdd = dellNicName(ref);
    return fqdd ? { kind: "pxe4", label: ref, mac: byName(fqdd) } : null;
  }
  if (option.BootOptionEnabled === false) return null;
  const path = str(option.UefiDevicePath);
  const name = str(option.DisplayName);
  const kind = networkKind(path, name);
  if (!kind) return null;
  const label = `${ref} "${name || path}"`;
  const inPath = /\bMAC\(([0-9a-f]{12})/i.exec(path);
  if (inPath) {
    const mac = canonicalMac(inPath[1]);
    const known = mac && mac !== bmcMac && (!nics.length || nics.some((n) => n.mac === mac));
    return { kind, label, mac: known ? mac : undefined };
  }
  return { kind, label, mac: byName(dellNicName(name) ?? dellNicName(ref)) };
}

/** `pxe4`, `http` (UEFI HTTP boot), `v6` (not ours: the provisioning network is IPv4), or null. */
function networkKind(path: string, name: string): "pxe4" | "http" | "v6" | null {
  const http = /\bUri\(/i.test(path) || /\bHTTP/i.test(name);
  const v6 = /\bIPv6\(/i.test(path) || /\b(IPv6|IP6)\b/i.test(name);
  if (!http && !v6 && !/\b(IPv4|MAC)\(/i.test(path) && !/\bPXE\b/i.test(name)) return null;
  return v6 ? "v6" : http ? "http" : "pxe4";
}

/** Dell's NIC name (`NIC.Integrated.1-2-1`) from itself or from "Integrated NIC 1 Port 2
 * Partition 1", "NIC in Slot 3 Port 1 Partition 1"; null otherwise. */
function dellNicName(text: string): string | null {
  const fqdd = /\bNIC\.(Integrated|Embedded|Slot|Mezzanine)\.(\w+)-(\d+)(?:-(\d+))?\b/i.exec(text);
  if (fqdd) return `NIC.${fqdd[1]}.${fqdd[2]}-${fqdd[3]}-${fqdd[4] ?? 1}`;
  const words = /\b(Integrated|Embedded) NIC (\d+) Port (\d+)(?: Partition (\d+))?/i.exec(text) ??
    /\bNIC in (Slot|Mezzanine) (\w+) Port (\d+)(?: Partition (\d+))?/i.exec(text);
  return words ? `NIC.${words[1]}.${words[2]}-${words[3]}-${words[4] ?? 1}` : null;
}

/** Last resort: exactly one host NIC whose network device function boots by PXE. */
async function chooseByFunction(ctx: Ctx, nics: Candidate[]): Promise<Choice | null> {
  if (nics.length < 2 || !nics.some((n) => n.functions.length)) return null;
  const pxe: Candidate[] = [];
  for (const nic of nics) {
    const got = await Promise.all(nic.functions.slice(0, AT_ONCE).map((p) => get(ctx, p)));
    if (got.some((f) => f.kind === "ok" && str(f.body.BootMode).toUpperCase() === "PXE")) {
      pxe.push(nic);
    }
  }
  return pxe.length === 1
    ? {
      mac: pxe[0].mac,
      reason: `the only NIC whose network device function boots by PXE (${pxe[0].id})`,
    }
    : null;
}

async function accountNeedsNewPassword(ctx: Ctx, root: Json): Promise<boolean> {
  // Best effort: AccountService → Accounts → the account with our UserName. The Accounts
  // collection is asked for at its standard path alongside the service; the link decides.
  const servicePath = odataId(root.AccountService) ?? "/redfish/v1/AccountService";
  const guessPath = `${servicePath.replace(/\/+$/, "")}/Accounts`;
  const [service, guess] = await Promise.all([get(ctx, servicePath), get(ctx, guessPath)]);
  if (service.kind === "failed") return false;
  const accountsPath = odataId(service.body.Accounts);
  if (!accountsPath) return false;
  const accounts = samePath(accountsPath, guessPath, ctx.origin)
    ? guess
    : await get(ctx, accountsPath);
  if (accounts.kind === "failed") return false;
  // A few accounts at a time, in order, stopping at ours.
  const paths = membersOf(accounts.body);
  for (let i = 0; i < paths.length; i += AT_ONCE) {
    const batch = await Promise.all(paths.slice(i, i + AT_ONCE).map((p) => get(ctx, p)));
    const mine = batch.find((a) => a.kind === "ok" && a.body.UserName === ctx.username);
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

function objectOf(v: unknown): Json {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Json : {};
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function lastSegment(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? "";
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
