/** The HTTP application and the services behind it, for every composition root (`main.ts`,
 * `demo.ts`, the tests and the bench). */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { compress } from "hono/compress";
import { secureHeaders } from "hono/secure-headers";
import type { AppDeps, AppEnv, Integrations } from "./app_types.ts";
import { bmcNetworks, type Config, ConfigError } from "./lib/domain/config.ts";
import { type Auth, createAuth } from "./lib/integrations/oidc.ts";
import { type Logger, silentLogger } from "./lib/observability/log.ts";
import { Metrics } from "./lib/observability/metrics.ts";
import { DriftMonitor } from "./lib/registration/drift.ts";
import { Engine } from "./lib/registration/engine.ts";
import { MAX_BODY_BYTES } from "./lib/registration/import.ts";
import { ReferenceData } from "./lib/registration/reference.ts";
import { EventBus } from "./lib/state/events.ts";
import { openKvState } from "./lib/state/kv_store.ts";
import { shareEvents } from "./lib/state/pg_events.ts";
import { openPgState } from "./lib/state/pg_store.ts";
import { OutboxKey } from "./lib/state/outbox_key.ts";
import { type Coordination, RegistrationStore, type StateKv } from "./lib/state/store.ts";
import { apiRoutes } from "./routes/api.ts";
import { authLayer } from "./routes/auth.ts";
import { errorHandler } from "./routes/errors.ts";
import { bodyDeadline } from "./routes/middleware/body_deadline.ts";
import { clientAddressOf } from "./routes/middleware/client_address.ts";
import { accessLog, requestIdentity } from "./routes/middleware/request_log.ts";
import { pageRoutes } from "./routes/pages.tsx";
import { systemRoutes } from "./routes/system.ts";

export type { AppDeps, AppEnv, Integrations, User } from "./app_types.ts";

/** Wires store, events, engine and reference data around the given clients. */
export async function createServices(options: {
  config: Config;
  kv: StateKv;
  /** Who runs what: in this process (Deno KV, the default) or across replicas (PostgreSQL). */
  coordination?: Coordination;
  integrations: Integrations;
  log?: Logger;
  metrics?: Metrics;
  demo?: boolean | string;
  /** The demo's "make some drift" control. */
  makeDrift?: () => Promise<string[]>;
}): Promise<AppDeps> {
  const { config, kv, integrations } = options;
  const log = options.log ?? silentLogger;
  const metrics = options.metrics ?? new Metrics();
  const store = new RegistrationStore(kv, options.coordination);
  // Records stored by an older version get their search index entries once, before any list.
  const indexed = await store.ensureIndex();
  if (indexed) log.info("search index written", { records: indexed });
  const events = new EventBus();
  const engine = new Engine({ config, store, events, log, metrics, ...integrations });
  const drift = new DriftMonitor({ config, store, engine, log, metrics, events, ...integrations });
  return {
    config,
    kv,
    log,
    metrics,
    integrations,
    store,
    events,
    engine,
    drift,
    makeDrift: options.makeDrift,
    reference: integrations.netbox
      ? new ReferenceData(
        integrations.netbox,
        store,
        config.REFERENCE_TTL,
        config.BMC_PREFIX_ROLES,
        log,
      )
      : undefined,
    outboxKey: await OutboxKey.load(kv),
    sockets: new Set(),
    authEnabled: Boolean(config.OIDC_ISSUER),
    demo: options.demo,
  };
}

/** The OIDC client when auth is enabled: `deps.auth` (tests) or one built from the config. */
function oidcClient(deps: AppDeps): Auth | null {
  if (!deps.authEnabled) return null;
  const auth = deps.auth ??
    createAuth({ config: deps.config, kv: deps.kv, log: deps.log, metrics: deps.metrics });
  // Fail closed: "enabled" without an issuer must never serve unauthenticated.
  if (!auth) throw new ConfigError("Authentication is enabled but ONBOARDING_OIDC_ISSUER is empty");
  return auth;
}

/** Builds the HTTP application; no I/O happens until a request arrives. */
export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.onError(errorHandler(deps.log));
  app.use(compress()); // gzip pages, bundles, the decoder and JSON (Deno.serve does not)

  app.use(requestIdentity);
  app.use(clientAddressOf(deps.config.TRUSTED_PROXIES));
  app.use(accessLog(deps.log, deps.metrics));
  app.use(bodyDeadline(deps.config.REQUEST_TIMEOUT * 1000));
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
  const auth = authLayer(deps, oidcClient(deps));
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
export function checkPortFree(hostname: string, port: number, task: "start" | "demo"): void {
  try {
    Deno.listen({ hostname, port }).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AddrInUse)) return; // Deno.serve reports anything else
    throw new Error(
      `Port ${port} on ${hostname} is already in use: stop what holds it, or set ONBOARDING_PORT ` +
        `to a free port (e.g. ONBOARDING_PORT=8081 deno task ${task})`,
    );
  }
}

/**
 * Runs a composition root's clients: warns about what is missing, opens KV, serves, runs the worker
 * and the Metal3 watch, and shuts down on SIGTERM/SIGINT letting running steps finish.
 */
export async function serve(options: {
  config: Config;
  log: Logger;
  metrics: Metrics;
  integrations: Integrations;
  kvPath: string;
  /** The demo banner (see `AppDeps.demo`). */
  demo?: boolean | string;
  /** Printed on the console once listening (the demo's real Kea database). */
  demoNote?: string;
  /** The demo's "make some drift" control. */
  makeDrift?: () => Promise<string[]>;
  /** Called last on shutdown (the demo stops its Kea). */
  onStopped?: () => Promise<void>;
}): Promise<void> {
  const { config, log, metrics, integrations, kvPath } = options;
  const demo = Boolean(options.demo);
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
  // PostgreSQL when configured (several replicas), else the embedded Deno KV file.
  const pg = config.DATABASE_URL
    ? await openPgState(config.DATABASE_URL, { log, leaseSeconds: config.STATE_LEASE })
    : undefined;
  const state = pg ?? await openKvState(kvPath);
  const deps = await createServices({
    config,
    kv: state.kv,
    coordination: state.coordination,
    integrations,
    log,
    metrics,
    demo: options.demo,
    makeDrift: options.makeDrift,
  });
  const stopSharing = pg ? await shareEvents(pg.sql, deps.events, deps.store, log) : undefined;
  const app = createApp(deps);
  await deps.engine.startWorker();
  const stop = new AbortController();
  // One replica watches the BareMetalHosts and runs the background drift check; another takes
  // over when it dies.
  deps.store.coordination.lead(
    "baremetalhost-watch",
    stop.signal,
    (signal) => deps.engine.watchProvisioning(signal),
  ).catch((e) => log.error("BareMetalHost watch stopped", { error: e }));
  deps.store.coordination.lead("drift-check", stop.signal, (signal) => {
    deps.drift.start();
    return new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));
  }).catch((e) => log.error("drift check stopped", { error: e }));
  const server = Deno.serve({
    port: config.PORT,
    hostname: config.HOSTNAME,
    onListen: ({ hostname, port }) => {
      log.info(demo ? "demo listening" : "listening", { url: `http://${hostname}:${port}` });
      if (!demo) return;
      console.log(`\n  Demo running: open http://localhost:${port}/\n`);
      if (options.demoNote) console.log(options.demoNote);
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
    deps.drift.stop();
    await integrations.kea?.close().catch(() => {});
    integrations.kubernetes?.close();
    await stopSharing?.();
    await state.close();
    await options.onStopped?.();
    log.info("stopped", { signal });
    Deno.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => void shutdown(signal));
  }
}
