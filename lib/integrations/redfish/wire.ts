/** Talking to one BMC: its context, GETs on its own origin, and reading Redfish bodies. */
import { type HttpClient, IntegrationError } from "../http.ts";
import type { BmcCheck, LoginOutcome } from "./types.ts";

export type Json = Record<string, unknown>;

export type Auth = Record<string, string>;

/** Collections larger than this are not walked (systems, NICs, boot options, accounts). */
export const MAX_MEMBERS = 32;

/** Members read side by side: BMCs serve few requests at once. */
export const AT_ONCE = 8;

/** Where DSP0266 puts the ComputerSystem collection; the ServiceRoot's link is authoritative. */
export const SYSTEMS_PATH = "/redfish/v1/Systems";

/** What one check needs to talk to its BMC. */
export interface Ctx {
  http: HttpClient;
  origin: string;
  auth: Auth;
  where: string;
  username: string;
}

export type Got =
  | { kind: "ok"; body: Json }
  | { kind: "failed"; status: number; body: unknown; reason: string };

/** GET a Redfish resource on the BMC's own origin (with the check's credentials unless `auth`
 * is null); never follows a link to another host. */
export async function get(ctx: Ctx, path: string, auth: Auth | null = ctx.auth): Promise<Got> {
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
export async function getOnce(ctx: Ctx, path: string): Promise<Got> {
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

export function failure(e: unknown): Got & { kind: "failed" } {
  if (!(e instanceof IntegrationError)) throw e;
  return {
    kind: "failed",
    status: e.status,
    body: e.body,
    reason: e.status === 0 ? e.message.replace(/^redfish [^:]* failed: /, "") : "",
  };
}

/** The URL of `path` when it is on the BMC's origin, else undefined. */
export function sameOrigin(ctx: Ctx, path: string): string | undefined {
  try {
    const url = new URL(path, ctx.origin);
    return url.origin === ctx.origin ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** GETs a collection's members, a few at a time. */
export async function readMembers(ctx: Ctx, collection: Got | null): Promise<Got[]> {
  if (collection?.kind !== "ok") return [];
  const paths = membersOf(collection.body);
  const out: Got[] = [];
  for (let i = 0; i < paths.length; i += AT_ONCE) {
    out.push(...await Promise.all(paths.slice(i, i + AT_ONCE).map((p) => get(ctx, p))));
  }
  return out;
}

/** The BMC's own words from a Redfish error body (the messages, not the value sent). */
export function bmcMessage(body: unknown): string {
  const error = objectOf(objectOf(body).error);
  const infos = arrayOf(error["@Message.ExtendedInfo"]).map((m) => str(objectOf(m).Message));
  return (infos.filter(Boolean).join(" ") || str(error.message)).slice(0, 300);
}

/** Turns a failed request into the outcome a technician can act on. */
export function classify(got: Got & { kind: "failed" }, ctx: Ctx): BmcCheck {
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

/** A failed login as `refused` (the credentials, or a locked account) or `unreachable`. */
export function loginFailure(got: Got & { kind: "failed" }, ctx: Ctx): Exclude<
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

export function membersOf(collection: Json): string[] {
  const members = Array.isArray(collection.Members) ? collection.Members : [];
  return members.slice(0, MAX_MEMBERS).map(odataId).filter((p): p is string => Boolean(p));
}

export function isServiceRoot(body: Json): boolean {
  return typeof body.RedfishVersion === "string" ||
    str(body["@odata.type"]).startsWith("#ServiceRoot.");
}

/** The system's Manufacturer is the reliable vendor string; then ServiceRoot Vendor, then Oem. */
export function vendorOf(root: Json, system: Json): string {
  const oem = root.Oem && typeof root.Oem === "object" ? Object.keys(root.Oem)[0] : undefined;
  return str(system.Manufacturer) || str(root.Vendor) || oem || "";
}

/** Same resource on the BMC: paths (or URLs) compared without a trailing slash. */
export function samePath(a: string, b: string, origin: string): boolean {
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

export function odataId(link: unknown): string | undefined {
  const id = link && typeof link === "object" ? (link as Json)["@odata.id"] : undefined;
  return typeof id === "string" && id !== "" ? id : undefined;
}

export function mentions(body: unknown, messageId: string): boolean {
  return JSON.stringify(body ?? "").includes(messageId);
}

export function objectOf(v: unknown): Json {
  return v && typeof v === "object" && !Array.isArray(v) ? v as Json : {};
}

export function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function lastSegment(path: string): string {
  return path.replace(/\/+$/, "").split("/").pop() ?? "";
}

export function str(v: unknown): string {
  return typeof v === "string" ? v.trim() : "";
}

export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** `scheme://host[:port]`; accepts `host`, `host:port`, an IPv6 address or `[v6]:port`. */
export function originOf(scheme: string, host: string, port?: number): string {
  let h = host.trim();
  let p = port;
  const v4WithPort = /^([^:[\]]+):(\d+)$/.exec(h);
  const v6WithPort = /^\[([^\]]+)\]:(\d+)$/.exec(h);
  if (v4WithPort) [h, p] = [v4WithPort[1], p ?? Number(v4WithPort[2])];
  else if (v6WithPort) [h, p] = [`[${v6WithPort[1]}]`, p ?? Number(v6WithPort[2])];
  else if (h.includes(":") && !h.startsWith("[")) h = `[${h}]`;
  return new URL(`${scheme}://${h}${p ? `:${p}` : ""}`).origin;
}

export function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/** The account URI the Base registry's PasswordChangeRequired message names (its argument). */
export function changeUri(body: unknown): string | undefined {
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
