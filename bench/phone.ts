/**
 * The Scan page on an emulated mid-range phone (Chromium DevTools protocol: 4× CPU slowdown,
 * 150 ms RTT, 1.6 Mbit/s down): how long until its first input accepts a keystroke, from a cold
 * cache and from the service worker's cache, and how many bytes cross the wire meanwhile.
 */
import type { Browser, CDPSession, Page } from "playwright-core";
import { loadConfig } from "../lib/domain/config.ts";
import { median, startBenchApp } from "./harness.ts";
import {
  type MainThreadCpu,
  mainThreadCpu,
  TRACE_CATEGORIES,
  type TraceEvent,
} from "./trace_cpu.ts";

/** What the issue calls a mid-range phone (Lighthouse's "slow 4G" with a 4× slower CPU). */
export const PHONE = {
  cpuSlowdown: 4,
  latencyMs: 150,
  downloadBytesPerS: 1.6e6 / 8,
  uploadBytesPerS: 750e3 / 8,
};

/**
 * Runs in the page before its own scripts: when the scan island is hydrated, types one character
 * into its first input in a new task (as a keystroke would queue) and notes when the island's DOM
 * answers (Preact re-rendered the hint). Times are from the navigation start. The times go out
 * through a DevTools binding: nothing of the bench (no Playwright script, no polling) runs on the
 * page's throttled main thread while it loads, only this probe.
 */
const PROBE = `(() => {
  const t = {};
  const seen = new MutationObserver(() => {
    const island = document.querySelector('[data-island="ScanFlow"][data-hydrated="true"]');
    if (!island) return;
    seen.disconnect();
    t.hydrated = performance.now();
    setTimeout(() => {
      const input = island.querySelector("input");
      new MutationObserver((_, o) => {
        o.disconnect();
        t.answered = performance.now();
        performance.mark("answered");
        globalThis.__phoneAnswered(JSON.stringify(t));
      }).observe(island, { subtree: true, childList: true, attributes: true, characterData: true });
      t.keyAt = performance.now();
      input.focus();
      input.value = "3";
      input.dispatchEvent(new InputEvent("input", { bubbles: true, data: "3", inputType: "insertText" }));
    });
  });
  seen.observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
})();`;

interface Probe {
  hydrated: number;
  keyAt: number;
  answered: number;
}

/** One load of `/`: interactive time, the parts of it, and bytes the page received. */
export interface PhoneLoad {
  interactiveMs: number;
  hydratedMs: number;
  htmlMs: number;
  domContentLoadedMs: number;
  /** Bytes on the wire for the page's own requests (CDP `encodedDataLength`), until interactive. */
  pageBytes: number;
  /** Requests the page made (until interactive) and how many the service worker answered. */
  requests: number;
  fromServiceWorker: number;
}

const NETWORK = {
  offline: false,
  latency: PHONE.latencyMs,
  downloadThroughput: PHONE.downloadBytesPerS,
  uploadThroughput: PHONE.uploadBytesPerS,
};

async function emulate(session: CDPSession, cpuSlowdown: number): Promise<void> {
  await session.send("Network.enable");
  await session.send("Network.emulateNetworkConditions", NETWORK);
  await session.send("Emulation.setCPUThrottlingRate", { rate: cpuSlowdown });
}

/**
 * A page's emulation does not reach its service worker (another target): the worker's own fetches
 * (the pages it revalidates, the precache) get the same network. Chromium throttles the CPU of
 * pages only ("not supported for workers"), so the worker runs at the machine's speed.
 */
async function emulateServiceWorkers(browser: Browser): Promise<CDPSession> {
  const session = await browser.newBrowserCDPSession();
  let id = 0;
  session.on("Target.targetCreated", async ({ targetInfo }) => {
    if (targetInfo.type !== "service_worker") return;
    const { sessionId } = await session.send("Target.attachToTarget", {
      targetId: targetInfo.targetId,
      flatten: false,
    });
    for (
      const [method, params] of [["Network.enable", {}], [
        "Network.emulateNetworkConditions",
        NETWORK,
      ]]
    ) {
      await session.send("Target.sendMessageToTarget", {
        sessionId,
        message: JSON.stringify({ id: ++id, method, params }),
      });
    }
  });
  await session.send("Target.setDiscoverTargets", { discover: true });
  return session;
}

async function loadScanPage(page: Page, url: string, cpuSlowdown: number): Promise<PhoneLoad> {
  const session = await page.context().newCDPSession(page);
  await emulate(session, cpuSlowdown);
  let bytes = 0, requests = 0, fromServiceWorker = 0;
  session.on("Network.loadingFinished", (e) => bytes += e.encodedDataLength);
  session.on("Network.responseReceived", (e) => {
    requests++;
    if (e.response.fromServiceWorker) fromServiceWorker++;
  });
  // A binding, not `page.waitForFunction`: that would compile Playwright's injected script in
  // the page and poll it while the page loads, on the same throttled main thread.
  await session.send("Runtime.enable");
  await session.send("Page.enable");
  await session.send("Runtime.addBinding", { name: "__phoneAnswered" });
  const answered = new Promise<Probe>((resolve) =>
    session.on("Runtime.bindingCalled", (e) => {
      if (e.name === "__phoneAnswered") resolve(JSON.parse(e.payload));
    })
  );
  await session.send("Page.addScriptToEvaluateOnNewDocument", { source: PROBE });
  await page.goto(`${url}/`, { waitUntil: "commit" });
  const probe = await withTimeout(answered, 60_000, "the Scan page's first input did not answer");
  const pageBytes = bytes;
  const t = await page.evaluate(() => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    return { html: nav.responseEnd, dcl: nav.domContentLoadedEventStart };
  });
  await session.detach();
  return {
    interactiveMs: probe.answered,
    hydratedMs: probe.hydrated,
    htmlMs: t.html,
    domContentLoadedMs: t.dcl,
    pageBytes,
    requests,
    fromServiceWorker,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Waits until the service worker is active and has precached the shell. */
async function serviceWorkerReady(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    for (let i = 0; i < 200; i++) {
      const names = await caches.keys();
      for (const name of names) {
        if (await (await caches.open(name)).match("/")) return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the service worker did not precache the shell within 10 s");
  });
}

/** Loads `/` cold (fresh profile) and then warm (the service worker installed), `runs` times;
 * `cpuSlowdown` 1 shows what the network and the caches alone cost on this machine. With `trace`,
 * each warm load is traced for its main thread's CPU time until the keystroke is answered. */
export async function phoneScanPage(
  browser: Browser,
  runs: number,
  cpuSlowdown = PHONE.cpuSlowdown,
  { trace = false } = {},
) {
  await using b = await startBenchApp(loadConfig({ ONBOARDING_BMC_PREFIX: "10.16.28.0/24" }), {
    latencyMs: 0,
  });
  // Bytes the server sent (after compression): what a page load and the install cost.
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    const res = await b.app.fetch(r);
    if (!res.body) return res;
    const counted = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          served += chunk.byteLength;
          out.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, res);
  });
  const url = `http://127.0.0.1:${server.addr.port}`;
  const workers = await emulateServiceWorkers(browser);
  const cold: PhoneLoad[] = [];
  const warm: PhoneLoad[] = [];
  const warmCpu: MainThreadCpu[] = [];
  let firstVisitBytes = 0;
  try {
    for (let run = 0; run < runs; run++) {
      const context = await browser.newContext({
        viewport: { width: 360, height: 740 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
      });
      try {
        const first = await context.newPage();
        served = 0;
        cold.push(await loadScanPage(first, url, cpuSlowdown));
        await serviceWorkerReady(first);
        // The page and the install's precache (no camera page was used yet: no decoder).
        await new Promise((r) => setTimeout(r, 500));
        firstVisitBytes = served;
        await first.close();
        const again = await context.newPage();
        // As after the idle minute a phone gives it: the worker is stopped and starts for this
        // navigation (and only a worker started after the emulation was set gets its network).
        const sw = await context.newCDPSession(again);
        await sw.send("ServiceWorker.enable");
        await sw.send("ServiceWorker.stopAllWorkers");
        await sw.detach();
        if (trace) await browser.startTracing(again, { categories: TRACE_CATEGORIES });
        warm.push(await loadScanPage(again, url, cpuSlowdown));
        if (trace) {
          const events = JSON.parse(new TextDecoder().decode(await browser.stopTracing()));
          try {
            warmCpu.push(mainThreadCpu(events.traceEvents as TraceEvent[], `${url}/`, "answered"));
          } catch (e) {
            // Now and then a trace comes back without the page renderer's events: that run is
            // left out of the median rather than failing the section.
            console.error(`  (phone trace, run ${run + 1}: ${(e as Error).message})`);
          }
        }
        await again.close();
      } finally {
        await context.close();
      }
    }
  } finally {
    await workers.detach();
    await server.shutdown();
  }
  const summary = (loads: PhoneLoad[]) => ({
    interactiveMs: median(loads.map((l) => l.interactiveMs)),
    hydratedMs: median(loads.map((l) => l.hydratedMs)),
    htmlMs: median(loads.map((l) => l.htmlMs)),
    domContentLoadedMs: median(loads.map((l) => l.domContentLoadedMs)),
    pageBytes: median(loads.map((l) => l.pageBytes)),
    requests: loads[0].requests,
    fromServiceWorker: loads[0].fromServiceWorker,
    runs: loads.map((l) => Math.round(l.interactiveMs)),
  });
  const cpu = warmCpu.length
    ? {
      totalMs: median(warmCpu.map((c) => c.totalMs)),
      scriptMs: median(warmCpu.map((c) => c.scriptMs)),
      runs: warmCpu.map((c) => Math.round(c.totalMs)),
    }
    : undefined;
  return { phone: PHONE, cold: summary(cold), warm: summary(warm), warmCpu: cpu, firstVisitBytes };
}
