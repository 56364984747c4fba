/**
 * Static files: `/static/*` (hashed build output cached for a year, the rest briefly), the web app
 * manifest and the service worker at the root scope with its precache list injected.
 */
import { Hono } from "hono";
import type { AssetManifest } from "../components/islands.tsx";

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
  webmanifest: "application/manifest+json",
  wasm: "application/wasm",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
};

/** Unhashed static files the installed app needs offline. */
const STATIC_FILES = ["/static/icon.svg", "/static/icon-192.png", "/static/icon-512.png"];

export const IMMUTABLE = "public, max-age=31536000, immutable";
export const SHORT_CACHE = "public, max-age=300, must-revalidate";

/** Options: where static files live and the asset manifest (null when the build has not run). */
export interface StaticOptions {
  root?: string;
  assets: AssetManifest | null;
}

/** Routes for static files, the manifest and the service worker. */
export function staticRoutes(options: StaticOptions): Hono {
  const root = (options.root ?? "static").replace(/\/$/, "");
  const hashed = new Set(options.assets?.files ?? []);
  const app = new Hono();

  app.get("/static/*", async (c) => {
    let rel: string;
    try {
      rel = decodeURIComponent(c.req.path.slice("/static/".length));
    } catch {
      return c.json({
        error: { code: "invalid_request", message: "The path has a malformed percent-escape" },
      }, 400);
    }
    // Refuse anything that could leave the static folder or reach dotfiles.
    if (!rel || rel.split("/").some((p) => p === "" || p.startsWith("."))) return c.notFound();
    const ext = rel.split(".").pop() ?? "";
    const type = TYPES[ext];
    if (!type) return c.notFound();
    let body: Uint8Array;
    try {
      body = await Deno.readFile(`${root}/${rel}`);
    } catch {
      return c.notFound();
    }
    return c.body(body as Uint8Array<ArrayBuffer>, 200, {
      "content-type": type,
      "cache-control": hashed.has(c.req.path) ? IMMUTABLE : SHORT_CACHE,
    });
  });

  app.get("/manifest.webmanifest", async (c) => {
    const text = await Deno.readTextFile(`${root}/manifest.webmanifest`);
    return c.body(text, 200, {
      "content-type": TYPES.webmanifest,
      "cache-control": SHORT_CACHE,
    });
  });

  app.get("/sw.js", async (c) => {
    const assets = options.assets;
    if (!assets) return c.notFound();
    let code: string;
    try {
      code = await Deno.readTextFile(`${root}/build/sw.js`);
    } catch {
      return c.notFound();
    }
    const config = {
      version: assets.version,
      precache: [
        "/",
        "/servers",
        "/import",
        "/manifest.webmanifest",
        ...STATIC_FILES,
        // The decoder (1 MB) is cached when a page will need it, not at install.
        ...assets.files.filter((f) => f !== assets.wasm),
      ],
      wasm: assets.wasm,
    };
    // The worker's bytes change with the assets, so browsers pick up a new version on deploy.
    return c.body(`self.__SW_CONFIG = ${JSON.stringify(config)};\n${code}`, 200, {
      "content-type": TYPES.js,
      "cache-control": "no-cache",
      "service-worker-allowed": "/",
    });
  });
  return app;
}
