/**
 * Service worker: precaches the app shell, the bundles and the ZXing `.wasm` (cache named by the
 * asset version), serves static files cache-first, pages network-first with the cached shell as
 * the offline fallback, and reference GETs network-first. Other API calls are never cached.
 */
/// <reference lib="webworker" />
declare const self: ServiceWorkerGlobalScope & {
  __SW_CONFIG: { version: string; precache: string[]; wasm: string };
};

const CONFIG = self.__SW_CONFIG;
const CACHE = `onboarding-${CONFIG.version}`;
const REFERENCE = "onboarding-reference";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(CONFIG.precache);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name !== CACHE && name !== REFERENCE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request: Request, cacheName: string, fallback?: string) {
  const cache = await caches.open(cacheName);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const hit = await cache.match(request, { ignoreSearch: false }) ??
      (fallback ? await caches.match(fallback) : undefined);
    if (hit) return hit;
    throw e;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit ?? fetch(request)),
    );
  } else if (url.pathname.startsWith("/api/v1/reference/")) {
    event.respondWith(networkFirst(request, REFERENCE));
  } else if (request.mode === "navigate") {
    const shell = url.pathname.startsWith("/servers/") ? "/servers" : "/";
    event.respondWith(networkFirst(request, CACHE, shell));
  }
});
