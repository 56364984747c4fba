/**
 * Login routes (`/auth/login`, `/auth/callback`, `/auth/logout`, `/auth/userinfo`), mounted with
 * the middleware that authenticates every other route (middleware/authenticate.ts) and the
 * cross-site request check (middleware/origin_check.ts).
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { AccessDenied, LoginFailed } from "../lib/domain/errors.ts";
import { LOGIN_TTL_MS, safeReturnTo, SESSION_TTL_MS } from "../lib/domain/login.ts";
import { type Auth, authenticate, resolveUser } from "./middleware/authenticate.ts";
import { originCheck } from "./middleware/origin_check.ts";
import { RateLimiter } from "./middleware/rate_limit.ts";
import type { AppDeps, AppEnv } from "../app_types.ts";

/** Login attempts (login + callback) per client address per minute. */
export const LOGIN_RATE_PER_MINUTE = 20;

export { isOpenPath } from "./middleware/authenticate.ts";

/** Cookie names; `__Host-` (Secure, Path=/, no Domain) when served over https. */
export function cookieNames(secure: boolean): { session: string; login: string } {
  return secure
    ? { session: "__Host-onboarding_session", login: "__Host-onboarding_login" }
    : { session: "onboarding_session", login: "onboarding_login" };
}

/** The pieces `createApp` mounts. */
export interface AuthLayer {
  /** The OIDC client, or null when auth is disabled. */
  auth: Auth | null;
  /** Refuses cross-site writes and WebSocket handshakes; runs with auth on or off. */
  originCheck: MiddlewareHandler<AppEnv>;
  /** Sets `user`; 401/403 for the API and WebSockets, a redirect to login for pages. */
  authenticate: MiddlewareHandler<AppEnv>;
  /** Mount at `/auth`. */
  routes: Hono<AppEnv>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** A plain page for login failures (no script, so the CSP stays strict). */
function loginProblem(c: Context, status: 400 | 403, message: string): Response {
  return c.html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign-in failed</title>` +
      `<meta name="viewport" content="width=device-width,initial-scale=1"></head><body>` +
      `<h1>Sign-in failed</h1><p>${escapeHtml(message)}</p>` +
      `<p><a href="/auth/login">Sign in again</a></p></body></html>`,
    status,
    { "cache-control": "no-store" },
  );
}

/** What the login routes share. */
interface LoginContext {
  deps: AppDeps;
  auth: Auth | null;
  names: { session: string; login: string };
  secure: boolean;
  publicUrl?: string;
}

/** Builds the auth layer for the app around its OIDC client (null when auth is disabled). */
export function authLayer(deps: AppDeps, auth: Auth | null): AuthLayer {
  const publicUrl = deps.config.PUBLIC_URL?.replace(/\/+$/, "");
  const secure = Boolean(publicUrl?.startsWith("https:"));
  const names = cookieNames(secure);
  return {
    auth,
    originCheck: originCheck({
      publicOrigin: publicUrl ? new URL(publicUrl).origin : undefined,
      sessionCookie: names.session,
      log: deps.log,
    }),
    authenticate: authenticate(auth, names.session),
    routes: loginRoutes({ deps, auth, names, secure, publicUrl }),
  };
}

/** `/auth/login`, `/auth/callback`, `/auth/logout` and `/auth/userinfo`. */
function loginRoutes(ctx: LoginContext): Hono<AppEnv> {
  const { auth, names, secure, publicUrl } = ctx;
  const limiter = new RateLimiter(LOGIN_RATE_PER_MINUTE);
  const routes = new Hono<AppEnv>();
  routes.use(async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });

  const limitLogin: MiddlewareHandler<AppEnv> = async (c, next) => {
    const wait = limiter.take(c.get("clientAddress"));
    if (wait > 0) {
      c.header("Retry-After", String(wait));
      throw new HTTPException(429, {
        message: `Too many sign-in attempts: try again in ${wait} s`,
      });
    }
    await next();
  };

  routes.get("/login", limitLogin, async (c) => {
    const returnTo = safeReturnTo(c.req.query("return_to"));
    if (!auth) return c.redirect(returnTo, 302);
    if (!auth.browserLogin) {
      throw new HTTPException(503, {
        message: "Browser login is not configured: ONBOARDING_OIDC_CLIENT_ID is empty",
      });
    }
    const base = publicUrl ?? new URL(c.req.url).origin;
    const login = await auth.beginLogin({ returnTo, redirectUri: `${base}/auth/callback` });
    setCookie(c, names.login, login.binding, {
      httpOnly: true,
      secure,
      sameSite: "Lax",
      path: "/",
      maxAge: LOGIN_TTL_MS / 1000,
    });
    return c.redirect(login.url, 302);
  });

  routes.get("/callback", limitLogin, (c) => loginCallback(c, ctx));

  routes.post("/logout", async (c) => {
    const sid = getCookie(c, names.session);
    if (auth && sid) await auth.logout(sid);
    deleteCookie(c, names.session, { path: "/", secure });
    const next = (await auth?.logoutUrl(`${publicUrl ?? new URL(c.req.url).origin}/`)) ?? "/";
    if (c.req.header("accept")?.includes("application/json")) {
      return c.json({ logged_out: true, logout_url: next });
    }
    return c.redirect(next, 303);
  });

  routes.get("/userinfo", async (c) => {
    if (!auth) return c.json({ authenticated: false, auth_enabled: false });
    const user = await resolveUser(c, auth, names.session);
    if (!user) {
      return c.json({ authenticated: false, auth_enabled: true, login_url: "/auth/login" });
    }
    return c.json({
      authenticated: true,
      auth_enabled: true,
      sub: user.sub,
      name: user.name ?? null,
      groups: user.groups,
      admin: user.admin,
    });
  });

  return routes;
}

/** The identity provider's answer: a session cookie and back to where the user was. */
async function loginCallback(c: Context<AppEnv>, ctx: LoginContext): Promise<Response> {
  const { deps, auth, names, secure } = ctx;
  if (!auth) return c.redirect("/", 302);
  const q = c.req.query();
  const binding = getCookie(c, names.login);
  deleteCookie(c, names.login, { path: "/", secure });
  if (q.error) {
    deps.log.info("sign-in refused by the identity provider", { error: q.error.slice(0, 64) });
    return loginProblem(
      c,
      q.error === "access_denied" ? 403 : 400,
      `The identity provider answered: ${q.error_description || q.error}`,
    );
  }
  // RFC 9207: an `iss` parameter must name our issuer (mix-up defence).
  if (q.iss !== undefined && q.iss !== auth.settings.issuer) {
    return loginProblem(c, 400, "The answer came from another identity provider");
  }
  try {
    const result = await auth.completeLogin({
      code: q.code,
      state: q.state,
      iss: q.iss,
      binding,
    });
    setCookie(c, names.session, result.sessionId, {
      httpOnly: true,
      secure,
      sameSite: "Lax",
      path: "/",
      maxAge: SESSION_TTL_MS / 1000,
    });
    deps.log.info("signed in", { sub: result.user.sub, admin: result.user.admin });
    return c.redirect(result.returnTo, 302);
  } catch (e) {
    if (e instanceof LoginFailed) return loginProblem(c, 400, e.message);
    if (e instanceof AccessDenied) return loginProblem(c, 403, e.message);
    throw e;
  }
}
