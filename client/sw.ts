/**
 * Service worker. Install precaches the app shell pages and the bundles (cache named by the asset
 * version), not the 1 MB ZXing `.wasm`: that is cached when a page asks for it (the camera opens,
 * or boot.ts asks once the user starts working on a page with a camera). Static files are served
 * cache-first; the shell pages stale-while-revalidate (from the cache at once, a fresh copy fetched
 * behind); other pages network-first with the cached shell as the offline fallback; reference
 * GETs network-first. Other API calls are never cached.
 */
/// <reference lib="webworker" />
declare const self: ServiceWorkerGlobalScope & {
  __SW_CONFIG: { version: string; precache: string[]; wasm: string };
};

const CONFIG = self.__SW_CONFIG;
const CACHE = `onboarding-${CONFIG.version}`;
const REFERENCE = "onboarding-reference";
const PRECACHED = new Set(CONFIG.precache);
/** Every build file of this version: the precached ones and the decoder. */
const BUILD_FILES = new Set([...CONFIG.precache, CONFIG.wasm]);
/** The message boot.ts sends when the decoder will soon be needed. */
const CACHE_DECODER = "cache-decoder";

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(CONFIG.precache);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    // Keep the previous version's cache too: a page loaded before this deploy may still import
    // its (now deleted on the server) lazy chunks. Cache names come back in creation order.
    const versions = (await caches.keys()).filter((n) => n !== REFERENCE);
    const keep = new Set([CACHE, versions.filter((n) => n !== CACHE).at(-1)]);
    for (const name of versions) if (!keep.has(name)) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data === CACHE_DECODER) event.waitUntil(cacheFirst(new Request(CONFIG.wasm), event));
});

/** A hashed build file never changes: the cache, else the network, kept for next time while the
 * page already reads it (the decoder compiles as it streams in). */
async function cacheFirst(request: Request, event: ExtendableEvent): Promise<Response> {
  const hit = await caches.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).pathname.startsWith("/static/build/")) {
    const copy = response.clone();
    event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
  }
  return response;
}

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

/**
 * True when every build file `html` refers to belongs to this worker's version. A page from a
 * newer deploy is not cached here (its chunks are not in this cache, and offline it would point
 * at files this version cannot serve); the newer worker precaches it.
 */
function sameVersion(html: string, files: Set<string>): boolean {
  const refs = html.match(/\/static\/build\/[^"'\s>]+/g) ?? [];
  return refs.length > 0 && refs.every((r) => files.has(r));
}

/** The shell from this version's cache at once, and a fresh copy fetched for the next visit. */
async function staleWhileRevalidate(event: FetchEvent): Promise<Response> {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(event.request);
  const revalidate = (async () => {
    const response = await fetch(event.request);
    if (response.type === "opaqueredirect" && hit) {
      // Signed out (the server sends pages to the login): drop the shell and load the page again.
      await cache.delete(event.request);
      const client = await self.clients.get(event.resultingClientId);
      await (client as WindowClient | undefined)?.navigate(event.request.url);
    } else if (response.ok && sameVersion(await response.clone().text(), BUILD_FILES)) {
      await cache.put(event.request, response.clone());
    } else if (response.ok) {
      // A new deploy: fetch its worker now rather than at the next navigation.
      await self.registration.update();
    }
    return response;
  })();
  if (!hit) return revalidate;
  event.waitUntil(revalidate.catch(() => {}));
  return hit;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(cacheFirst(request, event));
  } else if (url.pathname.startsWith("/api/v1/reference/")) {
    event.respondWith(networkFirst(request, REFERENCE));
  } else if (request.mode === "navigate") {
    if (PRECACHED.has(url.pathname) && !url.search) {
      event.respondWith(staleWhileRevalidate(event));
    } else {
      const shell = url.pathname.startsWith("/servers/") ? "/servers" : "/";
      event.respondWith(networkFirst(request, CACHE, shell));
    }
  }
});
