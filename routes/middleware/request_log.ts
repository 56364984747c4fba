/** Request id (Hono's `requestId`, echoed in `x-request-id`) and one access-log line per request. */
import type { MiddlewareHandler } from "hono";
import { requestId } from "hono/request-id";
import type { AppEnv } from "../../app_types.ts";
import type { Logger } from "../../lib/observability/log.ts";
import type { Metrics } from "../../lib/observability/metrics.ts";

/** A caller's id is kept when it is at most 64 word characters; otherwise a new UUID is used. */
export const requestIdentity: MiddlewareHandler<AppEnv> = requestId({ limitLength: 64 });

/** Counts every request and logs it, except the probes and the scrape. */
export function accessLog(log: Logger, metrics: Metrics): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    // The route pattern, not the path: labels stay a closed set whatever clients send.
    metrics.httpRequest(c.req.method, c.req.routePath, c.res.status);
    if (c.req.path !== "/healthz" && c.req.path !== "/metrics") {
      log.info("request", {
        requestId: c.var.requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      });
    }
  };
}
