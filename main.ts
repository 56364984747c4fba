/** Composition root: config → KV → clients → app → Deno.serve and the job worker. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { type Config, configuredIntegrations, loadConfig } from "./lib/config.ts";
import { createLogger, type Logger } from "./lib/log.ts";
import { Metrics } from "./lib/metrics.ts";
import { errorHandler } from "./routes/errors.ts";
import { pageRoutes } from "./routes/pages.tsx";
import { systemRoutes } from "./routes/system.ts";

/** The integration clients; an absent one is "not configured" and its step is skipped. */
export interface Integrations {
  netbox?: { health(): Promise<unknown> };
  openbao?: { health(): Promise<unknown> };
  kea?: { health(): Promise<unknown> };
  kubernetes?: { health(): Promise<unknown> };
}

export interface AppDeps {
  config: Config;
  kv: Deno.Kv;
  log: Logger;
  metrics: Metrics;
  integrations: Integrations;
  /** Demo mode: simulators behind the clients; a banner says so. */
  demo?: boolean;
}

/** Largest request body: the import limit (10 MB) plus JSON overhead. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Builds the HTTP application; no I/O happens until a request arrives. */
export function createApp(deps: AppDeps): Hono {
  const app = new Hono();
  app.onError(errorHandler(deps.log));

  app.use(async (c, next) => {
    const requestId = c.req.header("x-request-id")?.slice(0, 64) || crypto.randomUUID();
    c.set("requestId" as never, requestId as never);
    c.header("x-request-id", requestId);
    const started = performance.now();
    await next();
    deps.metrics.httpRequest(c.req.method, c.res.status);
    if (c.req.path !== "/healthz" && c.req.path !== "/metrics") {
      deps.log.info("request", {
        requestId,
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      });
    }
  });
  app.use(secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'", "'wasm-unsafe-eval'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:", "blob:"],
      connectSrc: ["'self'"],
      mediaSrc: ["'self'", "blob:"],
      workerSrc: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
    },
    strictTransportSecurity: deps.config.PUBLIC_URL?.startsWith("https:")
      ? "max-age=31536000; includeSubDomains"
      : false,
    permissionsPolicy: { camera: ["self"] },
  }));
  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        c.json({
          error: { code: "payload_too_large", message: "The request body is larger than 10 MB" },
        }, 413),
    }),
  );

  app.route("/", systemRoutes(deps));
  app.route("/", pageRoutes(deps));
  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } },
      404,
    )
  );
  return app;
}

/** Opens KV and builds every client from the configuration. */
async function start(env: Record<string, string | undefined>) {
  const config = loadConfig(env);
  const log = createLogger({ level: config.LOG_LEVEL });
  for (const [name, on] of Object.entries(configuredIntegrations(config, env))) {
    if (!on) log.warn(`${name} is not configured: its step will be skipped`, { integration: name });
  }
  if (!config.OIDC_ISSUER) log.warn("Authentication is disabled: ONBOARDING_OIDC_ISSUER is empty");
  if (config.KV_PATH !== ":memory:" && !config.KV_PATH.includes("://")) {
    await Deno.mkdir(config.KV_PATH.replace(/\/[^/]*$/, "") || ".", { recursive: true });
  }
  const kv = await Deno.openKv(config.KV_PATH);
  const app = createApp({ config, kv, log, metrics: new Metrics(), integrations: {} });
  Deno.serve({
    port: config.PORT,
    hostname: config.HOSTNAME,
    onListen: ({ hostname, port }) => log.info("listening", { url: `http://${hostname}:${port}` }),
  }, app.fetch);
}

if (import.meta.main) {
  try {
    await start(Deno.env.toObject());
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
