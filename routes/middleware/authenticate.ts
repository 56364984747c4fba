/** The login check: who is asking (bearer token or session cookie), for every route not open. */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import { AccessDenied, AuthenticationFailed } from "../../lib/domain/errors.ts";
import { safeReturnTo } from "../../lib/domain/login.ts";
import type { AppDeps, AppEnv, User } from "../../app_types.ts";

export type Auth = NonNullable<AppDeps["auth"]>;

const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

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

/**
 * The user from a bearer token or the session cookie; null when neither is present. A bad
 * credential is a 401, a user without access a 403.
 */
export async function resolveUser(
  c: Context<AppEnv>,
  auth: Auth,
  sessionCookie: string,
): Promise<User | null> {
  try {
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const m = BEARER.exec(header);
      if (!m) throw new AuthenticationFailed("The Authorization header must be: Bearer <token>");
      return await auth.verifyBearer(m[1]);
    }
    const sid = getCookie(c, sessionCookie);
    return sid ? await auth.session(sid) : null;
  } catch (e) {
    if (e instanceof AuthenticationFailed) throw new HTTPException(401, { message: e.message });
    if (e instanceof AccessDenied) throw new HTTPException(403, { message: e.message });
    throw e;
  }
}

/** Sets `user`; 401 for the API and WebSockets, a redirect to login for pages. */
export function authenticate(auth: Auth | null, sessionCookie: string): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!auth || isOpenPath(c.req.path)) return await next();
    const user = await resolveUser(c, auth, sessionCookie);
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
}
