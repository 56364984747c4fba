/**
 * The service worker in headless Chromium: the shell pages come from its cache at once and are
 * refreshed behind, a page from a newer deploy is not cached by the old worker, and the decoder is
 * cached once a camera page is used, not at install.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { Page } from "playwright-core";
import { chromiumAvailable, launchChromium, phoneContext, serveApp } from "./browser_harness.ts";

/** What the worker's caches hold: each cached URL's path and, for pages, their `x-served`. */
function cached(page: Page) {
  return page.evaluate(async () => {
    const out: Record<string, string> = {};
    for (const name of await caches.keys()) {
      const cache = await caches.open(name);
      for (const request of await cache.keys()) {
        const response = await cache.match(request);
        out[new URL(request.url).pathname] = response?.headers.get("x-served") ?? "";
      }
    }
    return out;
  });
}

Deno.test({
  name: "service worker: shell stale-while-revalidate, deploys kept apart, decoder cached on use",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await using served = await serveApp();
  // Each page answer is numbered (`x-served`); `deploy` makes the pages point at a new boot chunk.
  let count = 0;
  let deploy = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    // Uncompressed, so that the pages can be rewritten here.
    const headers = new Headers(r.headers);
    headers.delete("accept-encoding");
    const res = await served.app.fetch(new Request(r, { headers }));
    if (!res.headers.get("content-type")?.startsWith("text/html")) return res;
    let html = await res.text();
    if (deploy) {
      html = html.replace(/\/static\/build\/boot-[0-9A-F]+\.js/g, "/static/build/boot-0NEW0.js");
    }
    const answer = new Headers(res.headers);
    answer.delete("content-length");
    answer.set("x-served", String(++count));
    return new Response(html, { status: res.status, headers: answer });
  });
  const browser = await launchChromium();
  try {
    const context = await phoneContext(browser, `http://127.0.0.1:${server.addr.port}`);
    const page = await context.newPage();
    await page.goto("/");
    await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
    await page.evaluate(() => navigator.serviceWorker.ready);
    await page.waitForFunction(() => caches.match("/").then(Boolean));

    await t.step("install precaches the shell and bundles but not the decoder", async () => {
      const paths = Object.keys(await cached(page));
      assert(paths.includes("/") && paths.includes("/servers"), paths.join(" "));
      assert(paths.some((p) => /\/boot-[0-9A-F]+\.js$/.test(p)), paths.join(" "));
      assert(!paths.some((p) => p.endsWith(".wasm")), "the decoder was precached at install");
    });

    await t.step(
      "the shell comes from the cache at once, then the fresh copy next time",
      async () => {
        const stored = (await cached(page))["/"];
        const again = await context.newPage();
        const first = await again.goto("/");
        // The cached copy, though the server has answered newer ones since.
        assertEquals(first?.headers()["x-served"], stored);
        await again.waitForFunction(
          (old) => caches.match("/").then((r) => Boolean(r) && r!.headers.get("x-served") !== old),
          stored,
        );
        const refreshed = (await cached(again))["/"];
        assert(Number(refreshed) > Number(stored), `${refreshed} after ${stored}`);
        const second = await again.goto("/");
        assertEquals(second?.headers()["x-served"], refreshed);
        await again.close();
      },
    );

    await t.step("a page from a newer deploy is not cached by the old worker", async () => {
      deploy = true;
      const before = (await cached(page))["/"];
      const seen = count;
      const tab = await context.newPage();
      const shown = await tab.goto("/");
      assertEquals(shown?.headers()["x-served"], before);
      await tab.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
      // The revalidation reached the server and got the new deploy's page; the cache kept the old.
      for (let i = 0; i < 100 && count <= seen; i++) await new Promise((r) => setTimeout(r, 100));
      assert(count > seen, "no revalidation reached the server");
      await new Promise((r) => setTimeout(r, 500)); // the worker's decision to cache it or not
      const html = await tab.evaluate(() => caches.match("/").then((r) => r!.text()));
      assert(!html.includes("boot-0NEW0"), "the old worker cached a page of the new deploy");
      assertEquals((await cached(tab))["/"], before);
      deploy = false;
      await tab.close();
    });

    await t.step("the decoder is cached once the scan page is used", async () => {
      await page.getByLabel("BMC MAC", { exact: true }).press("3");
      await page.waitForFunction(
        () =>
          caches.keys().then(async (names) => {
            for (const n of names) {
              for (const r of await (await caches.open(n)).keys()) {
                if (r.url.endsWith(".wasm")) return true;
              }
            }
            return false;
          }),
        null,
        { timeout: 20_000 },
      );
    });
    await context.close();
  } finally {
    await browser.close();
    await server.shutdown();
  }
});
