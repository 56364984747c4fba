/**
 * Headless Chromium for the PWA tests: Debian's `/usr/bin/chromium` driven by playwright-core,
 * the app served on port 0, and a 360×740 phone context.
 */
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import type { Hono } from "hono";
import { type AppEnv, createApp, createServices } from "../app.ts";
import { createSimulatedWorld, makeDemoDrift, type SimWorld } from "../sim/world.ts";
import { loadConfig } from "../lib/domain/config.ts";
import { silentLogger } from "../lib/observability/log.ts";
import { Metrics } from "../lib/observability/metrics.ts";

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
  /** With `world`: the demo's "make some drift" control. */
  makeDrift?: boolean;
}

/** Serves `createApp(...)` with in-memory KV on 127.0.0.1, port 0; with `world`, runs the worker. */
export async function serveApp(options: ServeOptions = {}): Promise<ServedApp> {
  const kv = await Deno.openKv(":memory:");
  const world = options.world ? createSimulatedWorld({ provisioningStepMs: 50 }) : undefined;
  const integrations = world ? world.integrations({ retry: { attempts: 1 } }) : {};
  const deps = await createServices({
    // The simulated BMCs live in the seeded BMC prefix, the only network a BMC IP may be in.
    config: loadConfig({
      ...(options.world ? { ONBOARDING_BMC_NETWORKS: "10.16.28.0/24" } : {}),
      ...options.env,
    }),
    kv,
    log: silentLogger,
    metrics: new Metrics(),
    integrations,
    demo: options.demo,
    makeDrift: world && options.makeDrift
      ? () =>
        makeDemoDrift({
          world,
          integrations,
          description: "simulated",
          realKea: null,
          close: () => Promise.resolve(),
          closeOnExit() {},
        }, "metal3")
      : undefined,
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

/** A barcode to draw on a test label: its text, symbology, and where on the 640×480 frame. */
export interface LabelCode {
  text: string;
  format: "Code128" | "QRCode" | "DataMatrix" | "Code39";
  x: number;
  y: number;
  scale?: number;
}

let writerReady: Promise<unknown> | null = null;

/** PNG of one barcode, rendered by ZXing's writer (the WASM read from the npm cache). */
export async function barcodePng(code: LabelCode): Promise<Uint8Array> {
  const { prepareZXingModule, writeBarcode } = await import("zxing-wasm/writer");
  writerReady ??= (async () => {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdout: "piped",
    })
      .output();
    const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache: string };
    const dir = `${npmCache}/registry.npmjs.org/zxing-wasm`;
    const version = [...Deno.readDirSync(dir)].map((e) => e.name).find((n) => /^\d/.test(n))!;
    const wasm = await Deno.readFile(`${dir}/${version}/dist/writer/zxing_writer.wasm`);
    return prepareZXingModule({ overrides: { wasmBinary: wasm.buffer }, fireImmediately: true });
  })();
  await writerReady;
  const out = await writeBarcode(code.text, { format: code.format, scale: code.scale ?? 3 });
  if (!out.image) throw new Error(`Cannot draw ${code.format} "${code.text}": ${out.error}`);
  return new Uint8Array(await out.image.arrayBuffer());
}

/**
 * Writes a Y4M video (640×480, 4:2:0, two identical frames) of a white label carrying `codes`,
 * for Chromium's `--use-file-for-fake-video-capture`. The pixels are drawn in a browser canvas.
 */
export async function writeLabelY4m(
  browser: Browser,
  codes: LabelCode[],
  path: string,
): Promise<void> {
  const pngs = await Promise.all(codes.map(async (c) => ({
    ...c,
    data: btoa(String.fromCharCode(...await barcodePng(c))),
  })));
  const page = await browser.newPage();
  try {
    const planes = await page.evaluate(async (items) => {
      const W = 640, H = 480;
      const canvas = new OffscreenCanvas(W, H);
      const ctx = canvas.getContext("2d")!;
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, W, H);
      for (const item of items) {
        const bytes = Uint8Array.from(atob(item.data), (ch) => ch.charCodeAt(0));
        const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(bitmap, item.x, item.y);
      }
      const rgba = ctx.getImageData(0, 0, W, H).data;
      const y = new Uint8Array(W * H);
      for (let i = 0; i < W * H; i++) {
        y[i] = Math.round(
          0.257 * rgba[i * 4] + 0.504 * rgba[i * 4 + 1] + 0.098 * rgba[i * 4 + 2] + 16,
        );
      }
      let s = "";
      for (let i = 0; i < y.length; i += 8192) {
        s += String.fromCharCode(...y.subarray(i, i + 8192));
      }
      return btoa(s);
    }, pngs);
    const luma = Uint8Array.from(atob(planes), (ch) => ch.charCodeAt(0));
    const chroma = new Uint8Array((640 / 2) * (480 / 2) * 2).fill(128);
    const header = new TextEncoder().encode("YUV4MPEG2 W640 H480 F30:1 Ip A1:1 C420\n");
    const frame = new TextEncoder().encode("FRAME\n");
    const file = await Deno.open(path, { write: true, create: true, truncate: true });
    try {
      await file.write(header);
      for (let i = 0; i < 2; i++) {
        for (const part of [frame, luma, chroma]) {
          let off = 0;
          while (off < part.length) off += await file.write(part.subarray(off));
        }
      }
    } finally {
      file.close();
    }
  } finally {
    await page.close();
  }
}

/** Chromium flags that replace the camera with `y4mPath`. */
export function fakeCameraArgs(y4mPath: string): string[] {
  return [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-video-capture=${y4mPath}`,
  ];
}

/** The built scanner chunk and decoder WASM (static/build/manifest.json), for tests that decode. */
export async function builtScanner(): Promise<{ scannerUrl: string; wasm: string }> {
  const manifest = JSON.parse(await Deno.readTextFile("static/build/manifest.json")) as {
    files: string[];
    wasm: string;
  };
  const scannerUrl = manifest.files.find((f) => /\/scanner-[^/]+\.js$/.test(f));
  if (!scannerUrl) throw new Error("no scanner chunk in static/build: run deno task build");
  return { scannerUrl, wasm: manifest.wasm };
}
