/** The app wired to the simulated world in-process, with captured logs, for API-level tests. */
import { type Config, loadConfig } from "../lib/domain/config.ts";
import type { Integrations } from "../lib/integrations/mod.ts";
import { createLogger } from "../lib/observability/log.ts";
import { Metrics } from "../lib/observability/metrics.ts";
import { startSimulatedApp } from "../sim/app.ts";
import { createSimulatedWorld, type SimWorld } from "../sim/world.ts";
import type { AppDeps, createApp } from "../app.ts";
import type { Coordination, StateKv } from "../lib/state/store.ts";

// deno-lint-ignore no-explicit-any -- tests read arbitrary response JSON
type Json = any;

export interface TestApp extends AsyncDisposable {
  app: ReturnType<typeof createApp>;
  deps: AppDeps;
  world: SimWorld;
  config: Config;
  /** Every log line written so far. */
  logs: string[];
  /** Sends a JSON request through the app; returns status and parsed body. */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: Json; text: string }>;
  close(): Promise<void>;
}

/** The README's first import example: every Netbox field given. */
export const FULL_ITEM = {
  device_name: "dcoa-rb06u31",
  bmc_mac: "3C:EC:EF:A1:9C:E8",
  bmc_password: "S3cr3t!pass-31",
  site: "dcoa",
  location: "hall-a",
  rack: "RB06",
  position: 31,
  device_type: "sys-1029u",
  device_role: "server",
  bmc_prefix: "10.16.28.0/24",
};

/** The README's second import example: MAC, password and IP only. */
export const MINIMAL_ITEM = {
  device_name: "dcoa-rb07u12",
  bmc_mac: "3cec.efa1.9cf0",
  bmc_password: "An0ther-pass-12",
  bmc_ip: "10.16.28.40",
};

export async function startTestApp(options: {
  env?: Record<string, string>;
  world?: Parameters<typeof createSimulatedWorld>[0];
  /** Replace or remove (undefined) individual clients. */
  integrations?: (world: SimWorld, base: Integrations) => Integrations;
  /** The state store (default a new in-memory Deno KV) and, for PostgreSQL, its coordination. */
  kv?: StateKv;
  coordination?: Coordination;
  worker?: boolean;
} = {}): Promise<TestApp> {
  const config = loadConfig({
    ONBOARDING_BMC_PREFIX: "10.16.28.0/24",
    ...Object.fromEntries(
      Object.entries(options.env ?? {}).map(([k, v]) => [`ONBOARDING_${k}`, v]),
    ),
  });
  const world = createSimulatedWorld({ autoBmcs: true, ...options.world });
  const metrics = new Metrics();
  const base = world.integrations({
    metrics,
    timeoutMs: 1000,
    retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
  });
  const integrations = options.integrations ? options.integrations(world, base) : base;
  const logs: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => logs.push(l) });
  const { app, deps, close } = await startSimulatedApp({
    config,
    world,
    integrations,
    kv: options.kv,
    coordination: options.coordination,
    log,
    metrics,
    worker: options.worker,
  });
  return {
    app,
    deps,
    world,
    config,
    logs,
    async call(method, path, body, headers = {}) {
      const res = await app.request(path, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body: body === undefined
          ? undefined
          : typeof body === "string"
          ? body
          : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch { /* not JSON */ }
      return { status: res.status, body: parsed, text };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Every key and value in a KV store, as text, to search for leaked secrets. */
export async function dumpKv(kv: StateKv): Promise<string> {
  const parts: string[] = [];
  for await (const e of kv.list({ prefix: [] })) {
    parts.push(JSON.stringify(e.key), JSON.stringify(e.value));
  }
  return parts.join("\n");
}
