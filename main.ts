/** Composition root: config → KV → clients → app → Deno.serve and the job worker. */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { bmcNetworks, type Config, loadConfig } from "./lib/domain/config.ts";
import { clientAddress } from "./lib/domain/client_address.ts";
import { EventBus } from "./lib/state/events.ts";
import { createIntegrations, type Integrations } from "./lib/integrations/mod.ts";
import { MAX_BODY_BYTES } from "./lib/registration/import.ts";
import { createLogger, type Logger, prettyLine, silentLogger } from "./lib/observability/log.ts";
import { Metrics } from "./lib/observability/metrics.ts";
import { OutboxKey } from "./lib/state/outbox_key.ts";
import { ReferenceData } from "./lib/registration/reference.ts";
import { RegistrationStore } from "./lib/state/store.ts";
import { Engine } from "./lib/registration/engine.ts";
import type { Auth } from "./lib/integrations/oidc.ts";
import { apiRoutes } from "./routes/api.ts";
import { authLayer } from "./routes/auth.ts";
import { errorHandler } from "./routes/errors.ts";
import { pageRoutes } from "./routes/pages.tsx";
import { systemRoutes } from "./routes/system.ts";

export type { Integrations };

/** The signed-in user, set by the auth middleware. */
export interface User {
  sub: string;
  name?: string;
  groups: string[];
  admin: boolean;
}

/** `clientAddress`: the socket peer, or the client a trusted proxy names; "local" in-process. */
export type AppEnv = { Variables: { requestId: string; clientAddress: string; user?: User } };

export interface AppDeps {
  config: Config;
  kv: Deno.Kv;
  log: Logger;
  metrics: Metrics;
  integrations: Integrations;
  store: RegistrationStore;
  events: EventBus;
  engine: Engine;
  reference?: ReferenceData;
  outboxKey: OutboxKey;
  authEnabled: boolean;
  /** A prepared OIDC client (tests); built from the config when absent and auth is enabled. */
  auth?: Auth;
  /** Open WebSockets, closed with a close frame on shutdown. */
  sockets: Set<{ close(code?: number, reason?: string): void }>;
  /** Demo mode: simulators behind the clients; a banner says so (a string says which, e.g.
   * "simulated Netbox, OpenBao and Metal3, real Kea 2.2"). */
  demo?: boolean | string;
}

/** Wires store, events, engine and reference data around the given clients. */
export async function createServices(options: {
  config: Config;
  kv: Deno.Kv;
  integrations: Integrations;
  log?: Logger;
  metrics?: Metrics;
  demo?: boolean | string;
}): Promise<AppDeps> {
  const { config, kv, integrations } = options;
  const log = options.log ?? silentLogger;
  const metrics = options.metrics ?? new Metrics();
  const store = new RegistrationStore(kv);
  // Records stored by an older version get their search index entries once, before any list.
  const indexed = await store.ensureIndex();
  if (indexed) log.info("search index written", { records: indexed });
  const events = new EventBus();
  const engine = new Engine({ config, store, events, log, metrics, ...integrations });
  return {
    config,
    kv,
    log,
    metrics,
    integrations,
    store,
    events,
    engine,
    reference: integrations.netbox
      ? new ReferenceData(
        integrations.netbox,
        store,
        config.REFERENCE_TTL,
        config.BMC_PREFIX_ROLES,
      )
      : undefined,
    outboxKey: await OutboxKey.load(kv),
    sockets: new Set(),
    authEnabled: Boolean(config.OIDC_ISSUER),
    demo: options.demo,
  };
}

/** Thrown into a request body stream when the client has not sent it all in time. */
class BodyTimeout extends Error {
  override name = "BodyTimeout";
}

/** The body as a stream that fails after `ms`; `timedOut()` tells the middleware to answer 408. */
function withBodyDeadline(req: Request, ms: number): { req: Request; timedOut: () => boolean } {
  const source = req.body!.getReader();
  let expired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setTimeout(() => {
        expired = true;
        controller.error(new BodyTimeout("The request body did not arrive in time"));
        source.cancel().catch(() => {});
      }, ms);
    },
    async pull(controller) {
      try {
        const { done, value } = await source.read();
        if (expired) return;
        if (done) {
          clearTimeout(timer);
          controller.close();
        } else controller.enqueue(value);
      } catch (e) {
        clearTimeout(timer);
        if (!expired) controller.error(e);
      }
    },
    cancel(reason) {
      clearTimeout(timer);
      return source.cancel(reason);
    },
  });
  return {
    req: new Request(req, { body, duplex: "half" } as RequestInit),
    timedOut: () => expired,
  };
}

/** Builds the HTTP application; no I/O happens until a request arrives. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(deps.log));

  app.use(async (c, next) => {
    const requestId = c.req.header("x-request-id")?.slice(0, 64) || crypto.randomUUID();
    c.set("requestId", requestId);
    c.header("x-request-id", requestId);
    const peer = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
    c.set(
      "clientAddress",
      clientAddress(peer?.hostname, c.req.header("x-forwarded-for"), deps.config.TRUSTED_PROXIES),
    );
    const started = performance.now();
    // Deno.serve has no body (or header) timeout: a body that does not arrive in time ends the
    // request with 408, so its handler and buffers are released. The socket itself stays open
    // while Deno waits for the rest; the proxy in front closes it (see README, Security).
    let timedOut = () => false;
    if (c.req.raw.body) {
      const limited = withBodyDeadline(c.req.raw, deps.config.REQUEST_TIMEOUT * 1000);
      c.req.raw = limited.req;
      timedOut = limited.timedOut;
    }
    await next();
    if (timedOut()) {
      c.res = c.json({
        error: { code: "request_timeout", message: "The request body did not arrive in time" },
      }, 408);
    }
    // The route pattern, not the path: labels stay a closed set whatever clients send.
    deps.metrics.httpRequest(c.req.method, c.req.routePath, c.res.status);
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
      manifestSrc: ["'self'"],
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

  // Cross-site check first, then login routes, then authentication for everything not open.
  const auth = authLayer(deps);
  app.use(auth.originCheck);
  app.route("/auth", auth.routes);
  app.use(auth.authenticate);

  app.route("/", systemRoutes(deps));
  app.route("/api/v1", apiRoutes(deps));
  app.route("/", pageRoutes(deps));
  app.notFound((c) =>
    c.json(
      { error: { code: "not_found", message: `No route for ${c.req.method} ${c.req.path}` } },
      404,
    )
  );
  return app;
}

/** Refuses a port another process holds, before anything (the demo's Kea) is started. */
function checkPortFree(hostname: string, port: number): void {
  try {
    Deno.listen({ hostname, port }).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) return; // Deno.serve reports anything else
    throw new Error(
      `Port ${port} on ${hostname} is already in use: stop what holds it, or set ONBOARDING_PORT ` +
        `to a free port (e.g. ONBOARDING_PORT=8081 deno task ${
          Deno.args.includes("--demo") ? "demo" : "start"
        })`,
    );
  }
}

/** Opens KV, builds every client, serves, and runs the worker and the Metal3 watch. */
async function start(env: Record<string, string | undefined>, demo: boolean) {
  let config = loadConfig(env);
  if (config.PORT !== 0) checkPortFree(config.HOSTNAME, config.PORT);
  // A person watches the demo's console; production (and a demo piped to a file) gets JSON lines.
  const pretty = demo && Deno.stdout.isTerminal();
  const log = createLogger({
    level: config.LOG_LEVEL,
    ...(pretty ? { write: (line: string) => console.log(prettyLine(line)) } : {}),
  });
  const metrics = new Metrics();
  let integrations: Integrations;
  let demoBanner: boolean | string = demo;
  let closeDemo = () => Promise.resolve();
  let keaDbUrl: string | undefined;
  if (demo) {
    const { demoIntegrations } = await import("./sim/world.ts");
    // Kea is real when installed: it must be stopped with the demo, however the process ends.
    const sim = await demoIntegrations(metrics, { env, log });
    sim.closeOnExit();
    closeDemo = sim.close;
    integrations = sim.integrations;
    demoBanner = sim.description;
    keaDbUrl = sim.realKea?.dbUrl;
    // The simulated Netbox is seeded with this BMC prefix.
    config = { ...config, BMC_PREFIX: config.BMC_PREFIX ?? "10.16.28.0/24" };
  } else {
    integrations = await createIntegrations(config, env, metrics);
  }
  for (const name of ["netbox", "openbao", "kea", "kubernetes"] as const) {
    if (!integrations[name]) {
      log.warn(`${name} is not configured: its step will be skipped`, { integration: name });
    }
  }
  if (!bmcNetworks(config).length) {
    log.warn(
      "No BMC network is configured (ONBOARDING_BMC_NETWORKS or ONBOARDING_BMC_PREFIX): servers with a BMC IP are refused",
    );
  }
  if (!config.OIDC_ISSUER) {
    log.warn("Authentication is disabled: ONBOARDING_OIDC_ISSUER is empty");
  }
  const kvPath = demo && !env.ONBOARDING_KV_PATH ? ":memory:" : config.KV_PATH;
  if (kvPath !== ":memory:" && !kvPath.includes("://") && kvPath.includes("/")) {
    // Only a missing directory is created: the start task may allow writes to the KV file alone.
    const dir = kvPath.replace(/\/[^/]*$/, "") || "/";
    if (!await Deno.stat(dir).then(() => true, () => false)) {
      await Deno.mkdir(dir, { recursive: true });
    }
  }
  const kv = await Deno.openKv(kvPath);
  const deps = await createServices({ config, kv, integrations, log, metrics, demo: demoBanner });
  const app = createApp(deps);
  await deps.engine.startWorker();
  const stop = new AbortController();
  deps.engine.watchProvisioning(stop.signal).catch((e) =>
    log.error("BareMetalHost watch stopped", { error: e })
  );
  const server = Deno.serve({
    port: config.PORT,
    hostname: config.HOSTNAME,
    onListen: ({ hostname, port }) => {
      log.info(demo ? "demo listening" : "listening", { url: `http://${hostname}:${port}` });
      if (!demo) return;
      console.log(`\n  Demo running: open http://localhost:${port}/\n`);
      if (keaDbUrl) {
        // Kept out of the log (which scrubs passwords): the demo database is throwaway.
        console.log(
          `  Kea's host database: ${keaDbUrl}\n  Try: deno task migrate-kea --db '${keaDbUrl}' ` +
            `--dry-run tests/testdata/kea/bmc-reservations.json\n`,
        );
      }
    },
  }, app.fetch);

  let stopping = false;
  const shutdown = async (signal: Deno.Signal) => {
    if (stopping) return;
    stopping = true;
    const timeoutMs = config.SHUTDOWN_TIMEOUT * 1000;
    log.info("shutting down: no new work; running steps may finish", {
      signal,
      running: deps.engine.runningCount,
      timeoutSeconds: config.SHUTDOWN_TIMEOUT,
    });
    // 1001 "going away": the PWA reconnects to the next pod.
    for (const ws of deps.sockets) ws.close(1001, "server shutting down");
    const started = Date.now();
    const drained = await deps.engine.close(timeoutMs);
    const left = Math.max(0, timeoutMs - (Date.now() - started));
    // In-flight requests (an import waiting for its items) get what is left of the bound.
    await Promise.race([server.shutdown(), new Promise((r) => setTimeout(r, left))]);
    if (!drained) {
      log.warn("shutdown bound reached: unfinished registrations resume on the next start", {
        running: deps.engine.runningCount,
      });
    }
    stop.abort();
    await integrations.kea?.close().catch(() => {});
    integrations.kubernetes?.close();
    kv.close();
    await closeDemo();
    log.info("stopped", { signal });
    Deno.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void shutdown(signal));
  }
}

if (import.meta.main) {
  try {
    await start(Deno.env.toObject(), Deno.args.includes("--demo"));
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
