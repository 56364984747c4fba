/**
 * Browser side of the islands: each island's bundle (`scripts/build.ts` writes one entry per
 * island) calls `boot` with its component, which hydrates the page's markers of that island at
 * once and registers the service worker. One bundle per island: the page runs one module and the
 * few chunks it imports, not a loader that fetches the island afterwards.
 */
import { type ComponentType, h, hydrate } from "preact";

/** Hydrates the page's markers of island `name`; a failing marker is reported, not fatal. */
function hydrateIsland(name: string, component: ComponentType<Record<string, unknown>>): void {
  for (const marker of document.querySelectorAll<HTMLElement>(`[data-island="${name}"]`)) {
    const target = marker.querySelector<HTMLElement>(":scope > [data-island-root]");
    if (!target) continue;
    try {
      const propsEl = marker.querySelector(":scope > script[data-island-props]");
      const props = propsEl?.textContent ? JSON.parse(propsEl.textContent) : {};
      hydrate(h(component, props), target);
      marker.dataset.hydrated = "true";
    } catch (e) {
      console.error(`island ${name} failed to hydrate`, e);
    }
  }
}

/**
 * On a page with a camera, asks the service worker to cache the decoder (1 MB of WASM) once the
 * user starts working there, when the browser is idle: not during the first load on a slow link,
 * yet before the camera is needed (and so still there offline).
 */
function cacheDecoderWhenUsed(): void {
  const props = [...document.querySelectorAll("script[data-island-props]")];
  if (!props.some((p) => p.textContent?.includes('"wasmUrl":"/'))) return;
  const done = new AbortController();
  const ask = () => {
    done.abort();
    const idle = globalThis.requestIdleCallback ?? ((f: () => void) => setTimeout(f, 1000));
    idle(() => {
      navigator.serviceWorker.ready.then((r) => r.active?.postMessage("cache-decoder"));
    });
  };
  for (const type of ["pointerdown", "keydown"]) {
    addEventListener(type, ask, { capture: true, passive: true, signal: done.signal });
  }
}

/** The entry of an island's bundle: hydrate it, then register the service worker. */
export function boot(name: string, component: ComponentType<Record<string, unknown>>): void {
  hydrateIsland(name, component);
  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((e) =>
      console.warn("service worker registration failed", e)
    );
    cacheDecoderWhenUsed();
  }
}
