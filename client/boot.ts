/** Browser entry: hydrates every island marker on the page and registers the service worker. */
import { type ComponentType, h, hydrate } from "preact";
import { ISLANDS } from "../islands/manifest.ts";

/** Hydrates the islands under `root`; an island whose module fails is reported, not fatal. */
export async function hydrateIslands(root: ParentNode = document): Promise<void> {
  const markers = [...root.querySelectorAll<HTMLElement>("[data-island]")];
  await Promise.all(markers.map(async (marker) => {
    const name = marker.dataset.island as keyof typeof ISLANDS;
    const load = ISLANDS[name];
    const target = marker.querySelector<HTMLElement>(":scope > [data-island-root]");
    if (!load || !target) return;
    try {
      const propsEl = marker.querySelector(":scope > script[data-island-props]");
      const props = propsEl?.textContent ? JSON.parse(propsEl.textContent) : {};
      const mod = await load();
      hydrate(h(mod.default as ComponentType<Record<string, unknown>>, props), target);
      marker.dataset.hydrated = "true";
    } catch (e) {
      console.error(`island ${name} failed to hydrate`, e);
    }
  }));
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

await hydrateIslands();
if ("serviceWorker" in navigator && location.protocol !== "file:") {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((e) =>
    console.warn("service worker registration failed", e)
  );
  cacheDecoderWhenUsed();
}
