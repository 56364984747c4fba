/** The `/api/v1` surface: parse, call lib/, respond; the routes per resource are in api/. */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { HTTPException } from "hono/http-exception";
import { RateLimiter } from "./middleware/rate_limit.ts";
import type { AppDeps, AppEnv } from "../app_types.ts";
import { driftRoutes } from "./api/drift.ts";
import { importRoutes } from "./api/import.ts";
import { referenceRoutes } from "./api/reference.ts";
import { registerRoute, serverRoutes } from "./api/servers.ts";

export function apiRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { events } = deps;
  const limiter = new RateLimiter(deps.config.WRITE_RATE_LIMIT);

  // Writes are rate limited per client (user when logged in, else address); the import socket
  // starts an import, so opening it is a write too.
  app.use(async (c, next) => {
    const write = !/^(GET|HEAD)$/.test(c.req.method) || c.req.path.endsWith("/servers/import/ws");
    if (write) {
      const wait = limiter.take(c.get("user")?.sub ?? c.get("clientAddress"));
      if (wait > 0) {
        c.header("Retry-After", String(wait));
        throw new HTTPException(429, { message: `Too many writes: try again in ${wait} s` });
      }
    }
    await next();
  });

  registerRoute(app, deps);
  importRoutes(app, deps);
  serverRoutes(app, deps);
  driftRoutes(app, deps);

  app.get(
    "/events",
    upgradeWebSocket(() => {
      let unsubscribe = () => {};
      return {
        onOpen: (_e, ws) => {
          deps.sockets.add(ws);
          unsubscribe = events.subscribe((event) => {
            if (ws.readyState === 1) ws.send(JSON.stringify(event));
          });
        },
        onClose: (_e, ws) => {
          deps.sockets.delete(ws);
          unsubscribe();
        },
        onError: () => unsubscribe(),
      };
    }),
  );

  referenceRoutes(app, deps);

  app.get("/config/public", (c) =>
    c.json({
      device_name_template: deps.config.DEVICE_NAME_TEMPLATE,
      demo: Boolean(deps.demo),
      auth_enabled: deps.authEnabled,
      bmc_driver: deps.config.BMC_DRIVER,
      outbox_public_key: deps.outboxKey.publicJwk,
    }));

  return app;
}
