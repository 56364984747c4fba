/** Server side of the islands mechanism and the static routes, without a browser. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Hono } from "hono";
import { h } from "preact";
import { type AppEnv, createApp, createServices } from "../app.ts";
import { loadConfig } from "../lib/domain/config.ts";
import { createLogger } from "../lib/observability/log.ts";
import { pageRoutes, renderPage } from "../routes/pages.tsx";
import { readAssetManifest, serializeProps } from "../components/islands.tsx";

async function withApp(
  staticRoot: string | undefined,
  fn: (app: Hono<AppEnv>, logs: string[]) => Promise<void>,
) {
  const kv = await Deno.openKv(":memory:");
  const logs: string[] = [];
  const log = createLogger({ write: (l) => logs.push(l) });
  try {
    const deps = await createServices({ config: loadConfig({}), kv, log, integrations: {} });
    if (!staticRoot) return await fn(createApp(deps), logs);
    // The page routes alone, against another static folder (e.g. one without a build).
    const custom = new Hono<AppEnv>();
    custom.route("/", pageRoutes(deps, { staticRoot }));
    await fn(custom, logs);
  } finally {
    kv.close();
  }
}

Deno.test("serializeProps() escapes markup so props cannot close the script element", () => {
  const json = serializeProps({
    note: "</script><script>alert(1)</script>",
    amp: "a&b",
    ls: "\u2028",
  });
  assert(!json.includes("<"), json);
  assert(!json.includes(">"), json);
  assert(!json.includes("&"), json);
  assertEquals(JSON.parse(json), {
    note: "</script><script>alert(1)</script>",
    amp: "a&b",
    ls: "\u2028",
  });
});

Deno.test("pageRoutes() renders islands with their props and boot script", async (t) => {
  await withApp(undefined, async (app, logs) => {
    await t.step("the scan page has an island marker, props and a hashed boot module", async () => {
      const res = await app.request("/");
      assertEquals(res.status, 200);
      const html = await res.text();
      assert(html.startsWith("<!doctype html>"));
      assert(html.includes('data-island="ScanFlow"'));
      assert(
        /<script type="application\/json" data-island-props="true">\{.*wasmUrl/.test(html),
        html,
      );
      assert(/<script\s+type="module" src="\/static\/build\/boot-[0-9A-F]+\.js">/.test(html), html);
    });
    await t.step("the scan page runs one module and preloads at most one chunk", async () => {
      // On a phone every module is a request through the service worker and a compile on the main
      // thread before the first keystroke: one bundle per island, not a loader and its chunks.
      const html = await (await app.request("/")).text();
      assertEquals(html.match(/<script\s+type="module"/g)?.length, 1, html);
      assert((html.match(/rel="modulepreload"/g)?.length ?? 0) <= 1, html);
    });
    await t.step("the page icon is a raster image", async () => {
      // An SVG icon is drawn as a document of its own on the page's main thread as it loads.
      const html = await (await app.request("/")).text();
      const icon = /<link rel="icon" href="([^"]+)"/.exec(html)?.[1];
      assert(icon?.endsWith(".png"), icon);
      const res = await app.request(icon!);
      assertEquals(res.headers.get("content-type"), "image/png");
      await res.body?.cancel();
    });
    await t.step("hashed assets are cached for a year, others briefly", async () => {
      const html = await (await app.request("/")).text();
      const boot = /src="(\/static\/build\/boot-[^"]+)"/.exec(html)![1];
      const res = await app.request(boot);
      assertEquals(res.status, 200);
      assertEquals(res.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert(res.headers.get("content-type")!.startsWith("text/javascript"));
      await res.body?.cancel();
      const icon = await app.request("/static/icon.svg");
      assertEquals(icon.headers.get("cache-control"), "public, max-age=300, must-revalidate");
      await icon.body?.cancel();
    });
    await t.step(
      "pages, bundles and the decoder are sent gzip to browsers that take it",
      async () => {
        const html = await (await app.request("/")).text();
        const boot = /src="(\/static\/build\/boot-[^"]+)"/.exec(html)![1];
        const assets = readAssetManifest()!;
        for (const path of ["/", assets.css, boot, assets.wasm, "/sw.js"]) {
          const res = await app.request(path, { headers: { "accept-encoding": "gzip, br" } });
          assertEquals(res.status, 200, path);
          assertEquals(res.headers.get("content-encoding"), "gzip", path);
          assert(/accept-encoding/i.test(res.headers.get("vary") ?? ""), path);
          const plain = await app.request(path);
          const body = new Uint8Array(await plain.arrayBuffer());
          const gunzipped = new Uint8Array(
            await new Response(res.body!.pipeThrough(new DecompressionStream("gzip")))
              .arrayBuffer(),
          );
          assertEquals(plain.headers.get("content-encoding"), null, path);
          assertEquals(gunzipped, body, path);
        }
      },
    );
    await t.step(
      "the service worker precaches the shell and bundles, not the decoder",
      async () => {
        const res = await app.request("/sw.js");
        assertEquals(res.status, 200);
        assertEquals(res.headers.get("cache-control"), "no-cache");
        const code = await res.text();
        const config = JSON.parse(/self\.__SW_CONFIG = (.*);\n/.exec(code)![1]);
        const assets = readAssetManifest()!;
        assertEquals(config.version, assets.version);
        for (const url of ["/", "/servers", "/import", ...assets.islands.ScanFlow, assets.css]) {
          assert(config.precache.includes(url), url);
        }
        // The 1 MB decoder is cached when a page with a camera is used (boot.ts asks the worker).
        assert(!config.precache.includes(assets.wasm));
        assertEquals(config.wasm, assets.wasm);
      },
    );
    await t.step("the web app manifest is served with icons", async () => {
      const res = await app.request("/manifest.webmanifest");
      assertEquals(res.headers.get("content-type"), "application/manifest+json");
      const manifest = await res.json();
      assertEquals(manifest.display, "standalone");
      for (const icon of manifest.icons) {
        const r = await app.request(icon.src);
        assertEquals(r.status, 200, icon.src);
        await r.body?.cancel();
      }
    });
    await t.step("an unknown page is an HTML 404 for browsers, JSON for API clients", async () => {
      const page = await app.request("/nope", { headers: { accept: "text/html" } });
      assertEquals(page.status, 404);
      const html = await page.text();
      assert(html.startsWith("<!doctype html>") && html.includes("There is no page at"), html);
      const api = await app.request("/api/v1/nope", { headers: { accept: "text/html" } });
      assertEquals([api.status, (await api.json()).error.code], [404, "not_found"]);
      const plain = await app.request("/nope");
      assertEquals([plain.status, (await plain.json()).error.code], [404, "not_found"]);
    });
    await t.step("paths that leave the static folder are refused", async () => {
      for (
        const path of [
          "/static/../deno.json",
          "/static/%2e%2e/deno.json",
          "/static/build/.tmp/x.js",
        ]
      ) {
        const res = await app.request(path);
        assertEquals(res.status, 404, path);
        await res.body?.cancel();
      }
    });
    await t.step("a malformed percent-escape is a 400 and logs no error", async () => {
      for (const path of ["/static/%E0%A4%A.js", "/static/%", "/static/build/%zz.js"]) {
        const res = await app.request(path);
        assertEquals(res.status, 400, path);
        assertEquals((await res.json()).error.code, "invalid_request");
      }
      assert(!logs.some((l) => l.includes('"level":"error"')), logs.join("\n"));
    });
  });
});

Deno.test("pageRoutes() without a build renders pages without JavaScript and warns", async () => {
  const empty = await Deno.makeTempDir();
  try {
    await withApp(empty, async (app, logs) => {
      const html = await (await app.request("/")).text();
      assert(html.includes('data-island="ScanFlow"'), "the island is still server-rendered");
      assert(!html.includes('<script type="module"'), "no boot script without a build");
      assert(logs.some((l) => l.includes('"level":"warn"') && l.includes("deno task build")));
    });
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

Deno.test("renderPage() ships no JavaScript for a page without islands", () => {
  const assets = readAssetManifest();
  assert(assets, "run `deno task build` first");
  const html = renderPage(assets, {
    title: "Plain",
    banners: [],
    body: h("p", null, "No islands here"),
  });
  assert(html.includes("No islands here"));
  assert(!html.includes("<script"), html);
  assert(!html.includes("modulepreload"), html);
});
