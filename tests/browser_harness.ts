/**
 * Headless Chromium for the PWA tests: Debian's `/usr/bin/chromium` driven by playwright-core,
 * the app served on port 0, and a 360×740 phone context.
 */
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import type { Hono } from "hono";
import { type AppEnv, createApp, createServices } from "../main.ts";
import { createSimWorld, type SimWorld } from "../lib/sim/world.ts";
import { loadConfig } from "../lib/config.ts";
import { silentLogger } from "../lib/log.ts";
import { Metrics } from "../lib/metrics.ts";

export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

const BASE_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * True when Chromium is installed. Otherwise: a failure under `CI=true`, else a loud SKIP that
 * names the Debian package to install.
 */
export function chromiumAvailable(): boolean {
  try {
    Deno.statSync(CHROMIUM_PATH);
    return true;
  } catch {
    const message = `${CHROMIUM_PATH} not found: install the Debian package "chromium"`;
    if (Deno.env.get("CI") === "true") throw new Error(message);
    console.warn(`\n*** SKIP browser test: ${message} (apt-get install chromium) ***\n`);
    return false;
  }
}

/** Launches headless Chromium; `extraArgs` add e.g. the fake-camera flags. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...BASE_ARGS, ...extraArgs],
  });
}

/** A 360×740 touch phone context with camera permission; `baseURL` is the served app. */
export function phoneContext(browser: Browser, baseURL: string): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: { width: 360, height: 740 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    colorScheme: "dark",
    permissions: ["camera"],
  });
}

/** A served app: its URL, the simulated datacenter, and an async disposer. */
export interface ServedApp extends AsyncDisposable {
  url: string;
  kv: Deno.Kv;
  app: Hono<AppEnv>;
  world?: SimWorld;
}

/** Options: a simulated datacenter behind the API (Netbox, OpenBao, Kea, Metal3), demo banner, env. */
export interface ServeOptions {
  world?: boolean;
  env?: Record<string, string>;
  demo?: boolean;
}

/** Serves `createApp(...)` with in-memory KV on 127.0.0.1, port 0; with `world`, runs the worker. */
export async function serveApp(options: ServeOptions = {}): Promise<ServedApp> {
  const kv = await Deno.openKv(":memory:");
  const world = options.world ? createSimWorld({ provisioningStepMs: 50 }) : undefined;
  const deps = await createServices({
    config: loadConfig(options.env ?? {}),
    kv,
    log: silentLogger,
    metrics: new Metrics(),
    integrations: world ? world.integrations({ retry: { attempts: 1 } }) : {},
    demo: options.demo,
  });
  const app = createApp(deps);
  const stop = new AbortController();
  if (world) {
    await deps.engine.startWorker();
    deps.engine.watchProvisioning(stop.signal).catch(() => {});
  }
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    kv,
    app,
    world,
    async [Symbol.asyncDispose]() {
      stop.abort();
      await server.shutdown();
      world?.close();
      kv.close();
    },
  };
}
