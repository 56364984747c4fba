/** The cross-site request check: refuses cross-site writes and WebSocket handshakes. */
import type { MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../../lib/observability/log.ts";
import type { AppEnv } from "../../app_types.ts";

const SAFE_METHOD = /^(GET|HEAD|OPTIONS)$/;

/** Runs with auth on or off; `publicOrigin` is PUBLIC_URL's origin, when set. */
export function originCheck(options: {
  publicOrigin?: string;
  sessionCookie: string;
  log: Logger;
}): MiddlewareHandler<AppEnv> {
  const { publicOrigin, sessionCookie, log } = options;
  return async (c, next) => {
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
      allowed = !getCookie(c, sessionCookie);
    }
    if (!allowed) {
      log.warn("cross-site request refused", {
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
}
