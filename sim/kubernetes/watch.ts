/** Reads: paginated lists with continue tokens and watches with bounded history (410 Gone). */
// deno-lint-ignore-file no-explicit-any -- request bodies are arbitrary JSON documents
import {
  type Cluster,
  deliver,
  fieldMatches,
  json,
  matches,
  parseSelector,
  render,
  type Stored,
  type Watcher,
} from "./state.ts";
import { badRequest, type ResourceType, SECRETS, StatusError } from "./status.ts";

/** What a list or watch selects: the type, the namespace (null = all) and the label and field
 * selectors of its URL. */
function selection(t: ResourceType, ns: string | null, url: URL) {
  const labels = parseSelector(url.searchParams.get("labelSelector"));
  const fields = url.searchParams.get("fieldSelector");
  const selects = (s: Stored) =>
    s.type === t && (!ns || s.object.metadata.namespace === ns) &&
    matches(labels, s.object.metadata.labels) && fieldMatches(fields, s.object);
  return { labels, fields, selects };
}

export function listResponse(
  cluster: Cluster,
  t: ResourceType,
  ns: string | null,
  url: URL,
): Response {
  const { selects } = selection(t, ns, url);
  const limit = Number(url.searchParams.get("limit") ?? 0);
  let after = "";
  let listRv = cluster.rv;
  const cont = url.searchParams.get("continue");
  if (cont) {
    try {
      const c = JSON.parse(atob(cont));
      after = c.after;
      listRv = c.rv;
    } catch {
      throw badRequest("continue key is not valid");
    }
    if (listRv < cluster.compactedRv) {
      throw new StatusError(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. " +
          "You can start a new list without the continue parameter.",
      );
    }
  }
  const all = [...cluster.objects.values()]
    .filter(selects)
    .sort((a, b) =>
      `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
        `${b.object.metadata.namespace}/${b.object.metadata.name}`,
      )
    )
    .filter((s) => `${s.object.metadata.namespace}/${s.object.metadata.name}` > after);
  const page = limit > 0 ? all.slice(0, limit) : all;
  const metadata: any = { resourceVersion: String(listRv) };
  if (limit > 0 && all.length > limit) {
    const last = page[page.length - 1].object.metadata;
    metadata.continue = btoa(
      JSON.stringify({ rv: listRv, after: `${last.namespace}/${last.name}` }),
    );
    metadata.remainingItemCount = all.length - limit;
  }
  const items = page.map((s) => {
    const o = render(s);
    // Core lists omit kind/apiVersion per item; custom resource lists keep them.
    if (t === SECRETS) {
      delete o.kind;
      delete o.apiVersion;
    }
    return o;
  });
  return json({ kind: `${t.kind}List`, apiVersion: t.apiVersion, metadata, items });
}

export function watchResponse(
  cluster: Cluster,
  t: ResourceType,
  ns: string | null,
  url: URL,
): Response {
  const { labels, fields, selects } = selection(t, ns, url);
  const fromParam = url.searchParams.get("resourceVersion") ?? "";
  const timeoutSeconds = Number(url.searchParams.get("timeoutSeconds") ?? 1800);
  const bookmarks = url.searchParams.get("allowWatchBookmarks") === "true";
  const from = fromParam === "" || fromParam === "0" ? null : Number(fromParam);
  if (from !== null && !Number.isFinite(from)) {
    throw badRequest(`invalid resource version: ${fromParam}`);
  }
  const gone = from !== null && from < cluster.compactedRv;
  const goneStatus = new StatusError(
    410,
    "Expired",
    `too old resource version: ${from} (${cluster.compactedRv + 1})`,
  );
  if (gone && cluster.options.goneAs === "http") throw goneStatus;

  const enc = new TextEncoder();
  let watcher: Watcher | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        if (watcher) cluster.watchers.delete(watcher);
        if (timer !== undefined) clearTimeout(timer);
        try {
          controller.close();
        } catch { /* already cluster.closed by the reader */ }
      };
      const send = (r: { type: string; object: any }) => {
        if (ended) return;
        try {
          controller.enqueue(enc.encode(JSON.stringify(r) + "\n"));
        } catch {
          end();
        }
      };
      if (gone) {
        send({ type: "ERROR", object: goneStatus.toJSON() });
        end();
        return;
      }
      watcher = { type: t, namespace: ns, labels, fields, send, end };
      if (from === null) {
        // No resourceVersion: synthetic ADDED for the current state, then changes.
        for (const s of cluster.objects.values()) {
          if (selects(s)) send({ type: "ADDED", object: render(s) });
        }
      } else {
        for (const r of cluster.history) if (r.rv > from) deliver(watcher, r);
      }
      cluster.watchers.add(watcher);
      timer = setTimeout(() => {
        if (bookmarks) {
          send({
            type: "BOOKMARK",
            object: {
              kind: t.kind,
              apiVersion: t.apiVersion,
              metadata: { resourceVersion: String(cluster.rv) },
            },
          });
        }
        end();
      }, timeoutSeconds * 1000);
    },
    cancel() {
      watcher?.end();
    },
  });
  return new Response(stream, {
    status: 200,
    headers: { "content-type": "application/json", "transfer-encoding": "chunked" },
  });
}
