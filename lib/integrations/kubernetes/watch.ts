/** Listing BareMetalHosts page by page and a resumable watch over them (re-list on 410). */
import { backoffMs, IntegrationError, redactText, sleep } from "../http.ts";
import { type BareMetalHostObject } from "../../domain/metal3.ts";
import { BMH, type KubeCore, type Status, statusDetail } from "./core.ts";
import type { KubernetesClient, WatchEvent } from "./types.ts";
export async function listHosts(
  core: KubeCore,
  namespace: string,
  labelSelector?: string,
  signal?: AbortSignal,
): Promise<{ items: BareMetalHostObject[]; resourceVersion: string }> {
  for (let restarts = 0;; restarts++) {
    const items: BareMetalHostObject[] = [];
    let cont: string | undefined;
    let resourceVersion = "";
    let expired = false;
    do {
      const res = await core.call<
        { items: BareMetalHostObject[]; metadata: { resourceVersion: string; continue?: string } }
      >("list BareMetalHosts", "GET", core.collectionPath(BMH, namespace), {
        query: { labelSelector, limit: 500, continue: cont },
        signal,
        accept: cont ? [410] : [],
      });
      if (res.status === 410) {
        expired = true; // the continue token outlived the server's history: list again
        break;
      }
      items.push(...(res.body.items ?? []));
      resourceVersion = res.body.metadata.resourceVersion;
      cont = res.body.metadata.continue || undefined;
    } while (cont);
    if (!expired || restarts >= 3) return { items, resourceVersion };
  }
}

export async function watchHosts(
  core: KubeCore,
  namespace: string,
  options: Parameters<KubernetesClient["watchBareMetalHosts"]>[1],
): Promise<void> {
  const { signal, onEvent, onError, labelSelector } = options;
  const known = new Map<string, BareMetalHostObject>();
  let rv = "";
  let failures = 0;
  const base = core.settings.retry?.baseDelayMs ?? 500;
  const max = Math.max(base, core.settings.retry?.maxDelayMs ?? 30_000);

  const relist = async () => {
    const list = await listHosts(core, namespace, labelSelector, signal);
    const seen = new Set<string>();
    for (const item of list.items) {
      const name = item.metadata.name;
      seen.add(name);
      const before = known.get(name);
      known.set(name, item);
      if (!before) onEvent({ type: "ADDED", object: item });
      else if (before.metadata.resourceVersion !== item.metadata.resourceVersion) {
        onEvent({ type: "MODIFIED", object: item });
      }
    }
    for (const [name, obj] of known) {
      if (!seen.has(name)) {
        known.delete(name);
        onEvent({ type: "DELETED", object: obj });
      }
    }
    rv = list.resourceVersion;
  };

  while (!signal.aborted) {
    try {
      if (!rv) await relist();
      const timeoutSeconds = 240 + Math.floor(Math.random() * 120);
      const started = Date.now();
      const result = await watchOnce(
        core,
        namespace,
        rv,
        labelSelector,
        timeoutSeconds,
        signal,
        (e) => {
          if (e.type === "DELETED") known.delete(e.object.metadata.name);
          else known.set(e.object.metadata.name, e.object);
          onEvent(e);
        },
      );
      if (result.gone) rv = "";
      else rv = result.rv || rv;
      failures = 0;
      // A server closing watches at once must not turn this loop into a busy one.
      if (!result.events && Date.now() - started < 1000) await sleep(base, signal);
    } catch (e) {
      if (signal.aborted) break;
      failures++;
      onError?.(e);
      const wait = backoffMs({ baseDelayMs: base, maxDelayMs: max }, failures + 1);
      try {
        await sleep(Math.max(wait, 50), signal);
      } catch {
        break;
      }
    }
  }
}

/** One watch request; returns the last resourceVersion seen, or gone when it must re-list. */
export async function watchOnce(
  core: KubeCore,
  namespace: string,
  rv: string,
  labelSelector: string | undefined,
  timeoutSeconds: number,
  signal: AbortSignal,
  emit: (e: WatchEvent) => void,
): Promise<{ rv: string; gone: boolean; events: number }> {
  const operation = "watch BareMetalHosts";
  let res: Response;
  try {
    res = await core.http.requestStream(
      operation,
      "GET",
      `${core.server}${core.collectionPath(BMH, namespace)}`,
      {
        query: {
          watch: 1,
          resourceVersion: rv,
          allowWatchBookmarks: true,
          timeoutSeconds,
          labelSelector,
        },
        headers: await core.headers(),
        signal,
        accept: [410],
        // The whole stream lives under this timeout: the server's, plus a margin.
        timeoutMs: (timeoutSeconds + 30) * 1000,
      },
    );
  } catch (e) {
    return core.rethrow(e);
  }
  if (res.status === 410) {
    await res.body?.cancel().catch(() => {});
    return { rv, gone: true, events: 0 };
  }
  let last = rv;
  let events = 0;
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  // Not every transport ends the body on abort; cancelling the reader ends the read here.
  const onAbort = () => void reader.cancel().catch(() => {});
  signal.addEventListener("abort", onAbort, { once: true });
  let buffer = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const event = JSON.parse(line) as { type: string; object: unknown };
        if (event.type === "ERROR") {
          const status = event.object as Status;
          if (status?.code === 410) return { rv: last, gone: true, events };
          throw new IntegrationError({
            integration: "kubernetes",
            operation,
            method: "GET",
            url: `${core.server}${core.collectionPath(BMH, namespace)}`,
            status: status?.code ?? 500,
            body: status,
            message: `kubernetes ${operation} failed: ${
              redactText(statusDetail(status) || "watch error", [core.token()])
            }`,
          });
        }
        const object = event.object as BareMetalHostObject;
        const objRv = object?.metadata?.resourceVersion;
        if (objRv) last = objRv;
        if (event.type === "BOOKMARK") continue;
        if (event.type === "ADDED" || event.type === "MODIFIED" || event.type === "DELETED") {
          events++;
          emit({ type: event.type, object });
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    await reader.cancel().catch(() => {});
  }
  return { rv: last, gone: false, events };
}
