/** Session login and logout (DSP0266 13.3), and the login that falls back to Basic. */
import {
  base64,
  changeUri,
  type Ctx,
  failure,
  get,
  getOnce,
  type Got,
  type Json,
  loginFailure,
  mentions,
  objectOf,
  odataId,
  sameOrigin,
} from "./wire.ts";
import type { LoginOutcome } from "./types.ts";

/** One session login (DSP0266 13.3.4): the token, and where to log out. Never retried. */
export async function openSession(
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
export async function closeSession(ctx: Ctx, location: string): Promise<void> {
  const url = location && sameOrigin(ctx, location);
  if (!url) return;
  await ctx.http.request("log out", "DELETE", url, { headers: ctx.auth, accept: [404] })
    .catch(() => {});
}

/** One login: a session when the ServiceRoot links them, else Basic on the AccountService. */
export async function login(ctx: Ctx, password: string, secrets: string[]): Promise<
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
