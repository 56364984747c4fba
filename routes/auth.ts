/**
 * Login routes (`/auth/login`, `/auth/callback`, `/auth/logout`, `/auth/userinfo`), the
 * middleware that authenticates every other route, and the cross-site request check.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { AccessDenied, AuthenticationFailed, LoginFailed } from "../lib/domain/errors.ts";
import { LOGIN_TTL_MS, safeReturnTo, SESSION_TTL_MS } from "../lib/domain/login.ts";
import { RateLimiter } from "./middleware/rate_limit.ts";
import type { AppDeps, AppEnv, User } from "../app_types.ts";

/** Login attempts (login + callback) per client address per minute. */
export const LOGIN_RATE_PER_MINUTE = 20;

/**
 * Paths served without OIDC credentials: probes and metrics (for the kubelet and Prometheus inside
 * the cluster; `/metrics` and the `/readyz` detail check their own scraper access, see
 * routes/system.ts), the login routes, static assets, the web app manifest and the service worker.
 */
export function isOpenPath(path: string): boolean {
  return path === "/healthz" || path === "/readyz" || path === "/metrics" ||
    path === "/manifest.webmanifest" || path === "/sw.js" ||
    path.startsWith("/auth/") || path.startsWith("/static/");
}

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

const SAFE_METHOD = /^(GET|HEAD|OPTIONS)$/;
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

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

type Auth = NonNullable<AppDeps["auth"]>;

/** Builds the auth layer for the app around its OIDC client (null when auth is disabled). */
export function authLayer(deps: AppDeps, auth: Auth | null): AuthLayer {
  const publicUrl = deps.config.PUBLIC_URL?.replace(/\/+$/, "");
  const secure = Boolean(publicUrl?.startsWith("https:"));
  const names = cookieNames(secure);
  const publicOrigin = publicUrl ? new URL(publicUrl).origin : undefined;
  const limiter = new RateLimiter(LOGIN_RATE_PER_MINUTE);

  /** The user from a bearer token or the session cookie; null when neither is present. */
  async function resolveUser(c: Context<AppEnv>): Promise<User | null> {
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const m = BEARER.exec(header);
      if (!m) throw new AuthenticationFailed("The Authorization header must be: Bearer <token>");
      return await auth!.verifyBearer(m[1]);
    }
    const sid = getCookie(c, names.session);
    return sid ? await auth!.session(sid) : null;
  }

  const originCheck: MiddlewareHandler<AppEnv> = async (c, next) => {
    const upgrade = c.req.header("upgrade")?.toLowerCase() === "websocket";
    // A browser cannot attach an Authorization header cross-site without CORS, which we never allow.
    if ((SAFE_METHOD.test(c.req.method) && !upgrade) || c.req.header("authorization")) {
      return await next();
    }
    const site = c.req.header("sec-fetch-site");
    const origin = c.req.header("origin");
    let allowed: boolean;
    if (site !== undefined) {
      allowed = site === "same-origin";
    } else if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch { /* "null" and junk are refused */ }
      allowed = origin === publicOrigin || host === new URL(c.req.url).host;
    } else {
      // Not a browser (no Fetch Metadata, no Origin): only the session cookie could be abused.
      allowed = !getCookie(c, names.session);
    }
    if (!allowed) {
      deps.log.warn("cross-site request refused", {
        method: c.req.method,
        path: c.req.path,
        origin,
        site,
      });
      throw new HTTPException(403, {
        message: "Cross-site request refused: send it from the app itself or with a bearer token",
      });
    }
    await next();
  };

  const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (!auth || isOpenPath(c.req.path)) return await next();
    let user: User | null;
    try {
      user = await resolveUser(c);
    } catch (e) {
      if (e instanceof AuthenticationFailed) throw new HTTPException(401, { message: e.message });
      if (e instanceof AccessDenied) throw new HTTPException(403, { message: e.message });
      throw e;
    }
    if (!user) {
      const page = !c.req.path.startsWith("/api/") && /^(GET|HEAD)$/.test(c.req.method) &&
        c.req.header("upgrade") === undefined;
      if (page) {
        const url = new URL(c.req.url);
        const back = encodeURIComponent(safeReturnTo(url.pathname + url.search));
        return c.redirect(`/auth/login?return_to=${back}`, 302);
      }
      throw new HTTPException(401, {
        message: "Authentication required: sign in, or send Authorization: Bearer <token>",
      });
    }
    c.set("user", user);
    await next();
  };

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

  routes.get("/callback", limitLogin, async (c) => {
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
  });

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
    let user: User | null;
    try {
      user = await resolveUser(c);
    } catch (e) {
      if (e instanceof AuthenticationFailed) throw new HTTPException(401, { message: e.message });
      if (e instanceof AccessDenied) throw new HTTPException(403, { message: e.message });
      throw e;
    }
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

  return { auth, originCheck, authenticate, routes };
}
