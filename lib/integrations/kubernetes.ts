/** Kubernetes API client for the Metal3 step: server-side apply of Secrets and BareMetalHosts,
 * reads, deletes and a resumable BareMetalHost watch, over the shared HTTP layer. */
import { parse as parseYaml } from "yaml";
import {
  backoffMs,
  createHttpClient,
  DETAIL_MAX,
  type HttpClient,
  IntegrationError,
  redactText,
  redactValue,
  type RequestOptions,
  type RetryPolicy,
  sleep,
  summarizeBody,
  truncateSafely,
} from "./http.ts";
import type { Metrics } from "../observability/metrics.ts";
import { type BareMetalHostObject, FIELD_MANAGER, type SecretObject } from "../domain/metal3.ts";

export interface KubernetesSettings {
  /** API server base URL, e.g. `https://10.96.0.1:443`. */
  server: string;
  /** Bearer token source; called for every request so rotated projected tokens are picked up. */
  token?: () => Promise<string>;
  /** PEM client certificate and key (client-certificate users). */
  clientCert?: string;
  clientKey?: string;
  /** PEM CA bundle for the API server's certificate. */
  caCert?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: Metrics;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Settings from the environment: the in-cluster service account (KUBERNETES_SERVICE_HOST; token
 * file re-read on every call), else the KUBECONFIG file's current context (token, tokenFile or
 * client-certificate users; http or https). Null when neither is present.
 */
export async function kubernetesSettingsFromEnv(
  env: Record<string, string | undefined>,
  readFile: (path: string) => Promise<string> = (p) => Deno.readTextFile(p),
): Promise<KubernetesSettings | null> {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (host) {
    const port = env.KUBERNETES_SERVICE_PORT || "443";
    const hostPart = host.includes(":") ? `[${host}]` : host;
    let caCert: string | undefined;
    try {
      caCert = await readFile(`${SA_DIR}/ca.crt`);
    } catch {
      caCert = undefined; // a publicly trusted API server certificate needs no CA file
    }
    const tokenPath = `${SA_DIR}/token`;
    // Fail at start-up, not on the first call, when the token is not mounted.
    await readFile(tokenPath);
    return {
      server: `https://${hostPart}:${port}`,
      token: async () => (await readFile(tokenPath)).trim(),
      caCert,
    };
  }
  const kubeconfig = env.KUBECONFIG;
  if (!kubeconfig) return null;
  return await settingsFromKubeconfig(kubeconfig.split(":").filter(Boolean), readFile);
}

interface KubeconfigFile {
  dir: string;
  // deno-lint-ignore no-explicit-any -- kubeconfig documents are free-form YAML
  doc: any;
}

/** Reads the current context of the (merged) kubeconfig files; the first file to set a name wins. */
async function settingsFromKubeconfig(
  paths: string[],
  readFile: (path: string) => Promise<string>,
): Promise<KubernetesSettings> {
  const files: KubeconfigFile[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path);
    } catch (e) {
      if (paths.length > 1) continue; // kubectl skips missing files in a list
      throw new Error(`Cannot read KUBECONFIG ${path}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new Error(`KUBECONFIG ${path} is not valid YAML: ${(e as Error).message}`);
    }
    files.push({ dir: path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".", doc });
  }
  const find = (list: "clusters" | "users" | "contexts", name: string) => {
    for (const f of files) {
      const hit = (f.doc?.[list] ?? []).find((e: { name?: string }) => e?.name === name);
      if (hit) return { entry: hit, dir: f.dir };
    }
    return null;
  };
  const current = files.map((f) => f.doc?.["current-context"]).find(Boolean);
  if (!current) throw new Error("KUBECONFIG has no current-context");
  const context = find("contexts", current)?.entry?.context;
  if (!context) throw new Error(`KUBECONFIG context "${current}" not found`);
  const clusterHit = find("clusters", context.cluster);
  const cluster = clusterHit?.entry?.cluster;
  if (!cluster?.server) throw new Error(`KUBECONFIG cluster "${context.cluster}" has no server`);
  const userHit = context.user ? find("users", context.user) : null;
  const user = userHit?.entry?.user ?? {};

  const resolve = (dir: string, p: string) => (p.startsWith("/") ? p : `${dir}/${p}`);
  const fileOrData = async (
    dir: string,
    obj: Record<string, string>,
    field: string,
  ): Promise<string | undefined> => {
    if (obj[`${field}-data`]) return decodeBase64(obj[`${field}-data`]);
    if (obj[field]) return await readFile(resolve(dir, obj[field]));
    return undefined;
  };

  if (
    cluster["insecure-skip-tls-verify"] && !cluster["certificate-authority-data"] &&
    !cluster["certificate-authority"]
  ) {
    throw new Error(
      `KUBECONFIG cluster "${context.cluster}" skips TLS verification, which is not supported: ` +
        "set certificate-authority or certificate-authority-data",
    );
  }
  if (user.exec || user["auth-provider"]) {
    throw new Error(
      `KUBECONFIG user "${context.user}" uses exec or auth-provider credentials, which are not ` +
        "supported: use a token, tokenFile or client certificate",
    );
  }
  const settings: KubernetesSettings = {
    server: String(cluster.server).replace(/\/+$/, ""),
    caCert: await fileOrData(clusterHit!.dir, cluster, "certificate-authority"),
    clientCert: await fileOrData(userHit?.dir ?? ".", user, "client-certificate"),
    clientKey: await fileOrData(userHit?.dir ?? ".", user, "client-key"),
  };
  if (user.token) {
    const token = String(user.token);
    settings.token = () => Promise.resolve(token);
  } else if (user.tokenFile) {
    const path = resolve(userHit!.dir, String(user.tokenFile));
    settings.token = async () => (await readFile(path)).trim();
  }
  if (Boolean(settings.clientCert) !== Boolean(settings.clientKey)) {
    throw new Error(`KUBECONFIG user "${context.user}" needs both a client certificate and a key`);
  }
  return settings;
}

function encodeBase64(text: string): string {
  return btoa(Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join(""));
}

function decodeBase64(b64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(b64.trim()), (c) => c.charCodeAt(0)));
}

/** One watch notification about a BareMetalHost. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: BareMetalHostObject;
}

type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
};

export interface KubernetesClient {
  /**
   * Server-side apply with our field manager, creating the object if missing. `force` takes
   * conflicting fields over from other managers: only for an object already known to be ours.
   */
  apply<T extends KubeObject>(object: T, options?: { force?: boolean }): Promise<T>;
  getBareMetalHost(namespace: string, name: string): Promise<BareMetalHostObject | null>;
  listBareMetalHosts(
    namespace: string,
    options?: { labelSelector?: string },
  ): Promise<{ items: BareMetalHostObject[]; resourceVersion: string }>;
  getSecret(namespace: string, name: string): Promise<SecretObject | null>;
  /** 404 counts as gone. */
  deleteBareMetalHost(namespace: string, name: string): Promise<void>;
  deleteSecret(namespace: string, name: string): Promise<void>;
  /**
   * List then watch, resuming from the last resourceVersion, following bookmarks and re-listing on
   * 410 Gone; a re-list reports ADDED/MODIFIED for current hosts and DELETED for vanished ones.
   * Runs until the signal aborts, reconnecting with backoff after errors.
   */
  watchBareMetalHosts(
    namespace: string,
    options: {
      labelSelector?: string;
      signal: AbortSignal;
      onEvent: (e: WatchEvent) => void;
      onError?: (e: unknown) => void;
    },
  ): Promise<void>;
  /** Checks the API server answers `/readyz`. */
  health(): Promise<void>;
  /** Releases the TLS client (when certificates were configured). */
  close(): void;
}

/** Kubernetes `Status` body (reference D.8). */
interface Status {
  kind: "Status";
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

function isStatus(body: unknown): body is Status {
  return !!body && typeof body === "object" && (body as { kind?: unknown }).kind === "Status";
}

/** `Invalid: spec.bootMACAddress: Invalid value: …` from a Status body. */
function statusDetail(status: Status): string {
  const causes = status.details?.causes?.filter((c) => c.message) ?? [];
  const text = causes.length
    ? causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message)).join("; ")
    : status.message ?? "";
  return [status.reason, text].filter(Boolean).join(": ");
}

/** The Kubernetes reason of an error from this client (`NotFound`, `Conflict`, …), if any. */
export function kubernetesReason(e: unknown): string | undefined {
  if (e instanceof IntegrationError && isStatus(e.body)) return e.body.reason;
  return undefined;
}

interface ResourcePath {
  base: string;
  plural: string;
}

const PLURALS: Record<string, string> = { BareMetalHost: "baremetalhosts", Secret: "secrets" };

function resourcePath(apiVersion: string, kind: string): ResourcePath {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return { base, plural: PLURALS[kind] ?? `${kind.toLowerCase()}s` };
}

const BMH = resourcePath("metal3.io/v1alpha1", "BareMetalHost");
const SECRET = resourcePath("v1", "Secret");

/** Builds the client. Every call goes through `createHttpClient` (timeout, retry, typed errors). */
export function createKubernetesClient(settings: KubernetesSettings): KubernetesClient {
  const server = settings.server.replace(/\/+$/, "");
  let lastToken = "";
  let tlsClient: Deno.HttpClient | undefined;

  /** The transport: injected, or global fetch with our CA and client certificate when given. */
  function transport(): typeof fetch {
    if (settings.fetch) return settings.fetch;
    if (!settings.caCert && !settings.clientCert) return fetch;
    return (input, init) => {
      tlsClient ??= Deno.createHttpClient({
        ...(settings.caCert ? { caCerts: [settings.caCert] } : {}),
        ...(settings.clientCert && settings.clientKey
          ? { cert: settings.clientCert, key: settings.clientKey }
          : {}),
      });
      return fetch(input, { ...init, client: tlsClient });
    };
  }

  const http: HttpClient = createHttpClient({
    integration: "kubernetes",
    fetch: transport(),
    timeoutMs: settings.timeoutMs,
    retry: settings.retry,
    metrics: settings.metrics,
    secrets: () => (lastToken ? [lastToken] : []),
  });

  async function headers(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    const h: Record<string, string> = { ...extra };
    if (settings.token) {
      lastToken = await settings.token();
      if (lastToken) h.authorization = `Bearer ${lastToken}`;
    }
    return h;
  }

  /** Re-throws an HTTP failure with the Status reason and causes, every secret scrubbed first. */
  function rethrow(e: unknown, secrets: readonly string[] = []): never {
    if (!(e instanceof IntegrationError) || e.status === 0) throw e;
    const all = [...secrets, lastToken].filter(Boolean);
    // Redacted before anything is formatted: a message built from the raw body would carry the
    // value in forms (JSON-escaped, cut short) that a later scrub no longer recognises.
    const body = redactValue(e.body, all);
    const where = `(${e.method} ${e.url})`;
    const message = isStatus(body)
      ? `HTTP ${e.status} ${
        truncateSafely(redactText(statusDetail(body), all), DETAIL_MAX, all)
      } ${where}`
      : `HTTP ${e.status} ${where}${summarizeBody(body, all)}`;
    throw new IntegrationError({
      integration: e.integration,
      operation: e.operation,
      method: e.method,
      url: e.url,
      status: e.status,
      body,
      message: `${e.integration} ${e.operation} failed: ${message}`,
    });
  }

  async function call<T>(
    operation: string,
    method: string,
    path: string,
    opts: RequestOptions = {},
    secrets: readonly string[] = [],
  ): Promise<{ status: number; body: T }> {
    try {
      const res = await http.request<T>(operation, method, `${server}${path}`, {
        ...opts,
        headers: await headers(opts.headers),
      });
      return res;
    } catch (e) {
      rethrow(e, secrets);
    }
  }

  const objectPath = (r: ResourcePath, ns: string, name: string) =>
    `${r.base}/namespaces/${encodeURIComponent(ns)}/${r.plural}/${encodeURIComponent(name)}`;
  const collectionPath = (r: ResourcePath, ns: string) =>
    `${r.base}/namespaces/${encodeURIComponent(ns)}/${r.plural}`;

  async function getObject<T>(r: ResourcePath, kind: string, ns: string, name: string) {
    const res = await call<T>(`get ${kind}`, "GET", objectPath(r, ns, name), { accept: [404] });
    return res.status === 404 ? null : res.body;
  }

  async function deleteObject(r: ResourcePath, kind: string, ns: string, name: string) {
    await call(`delete ${kind}`, "DELETE", objectPath(r, ns, name), {
      accept: [404],
      body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
    });
  }

  async function listHosts(
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
        const res = await call<
          { items: BareMetalHostObject[]; metadata: { resourceVersion: string; continue?: string } }
        >("list BareMetalHosts", "GET", collectionPath(BMH, namespace), {
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

  async function watchHosts(
    namespace: string,
    options: Parameters<KubernetesClient["watchBareMetalHosts"]>[1],
  ): Promise<void> {
    const { signal, onEvent, onError, labelSelector } = options;
    const known = new Map<string, BareMetalHostObject>();
    let rv = "";
    let failures = 0;
    const base = settings.retry?.baseDelayMs ?? 500;
    const max = Math.max(base, settings.retry?.maxDelayMs ?? 30_000);

    const relist = async () => {
      const list = await listHosts(namespace, labelSelector, signal);
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
  async function watchOnce(
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
      res = await http.requestStream(
        operation,
        "GET",
        `${server}${collectionPath(BMH, namespace)}`,
        {
          query: {
            watch: 1,
            resourceVersion: rv,
            allowWatchBookmarks: true,
            timeoutSeconds,
            labelSelector,
          },
          headers: await headers(),
          signal,
          accept: [410],
          // The whole stream lives under this timeout: the server's, plus a margin.
          timeoutMs: (timeoutSeconds + 30) * 1000,
        },
      );
    } catch (e) {
      rethrow(e);
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
              url: `${server}${collectionPath(BMH, namespace)}`,
              status: status?.code ?? 500,
              body: status,
              message: `kubernetes ${operation} failed: ${
                redactText(statusDetail(status) || "watch error", [lastToken])
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

  return {
    async apply<T extends KubeObject>(object: T, options: { force?: boolean } = {}): Promise<T> {
      const ns = object.metadata.namespace;
      if (!ns) {
        throw new TypeError(`Cannot apply ${object.kind} ${object.metadata.name}: no namespace`);
      }
      const r = resourcePath(object.apiVersion, object.kind);
      // The API refuses managedFields in an apply; the rest of the object is our intent.
      const { managedFields: _drop, ...metadata } = object.metadata as T["metadata"] & {
        managedFields?: unknown;
      };
      const body = { ...object, metadata };
      const res = await call<T>(
        `apply ${object.kind}`,
        "PATCH",
        objectPath(r, ns, object.metadata.name),
        {
          // Forcing takes fields over from other managers: only for objects known to be ours.
          query: { fieldManager: FIELD_MANAGER, force: options.force ? true : undefined },
          headers: { "content-type": "application/apply-patch+yaml" },
          body: JSON.stringify(body),
        },
        secretValues(object),
      );
      return res.body;
    },
    getBareMetalHost: (ns, name) => getObject<BareMetalHostObject>(BMH, "BareMetalHost", ns, name),
    listBareMetalHosts: (ns, options = {}) => listHosts(ns, options.labelSelector),
    getSecret: (ns, name) => getObject<SecretObject>(SECRET, "Secret", ns, name),
    deleteBareMetalHost: (ns, name) => deleteObject(BMH, "BareMetalHost", ns, name),
    deleteSecret: (ns, name) => deleteObject(SECRET, "Secret", ns, name),
    watchBareMetalHosts: watchHosts,
    async health() {
      await call("health", "GET", "/readyz", {
        headers: { accept: "text/plain, application/json" },
      });
    },
    close() {
      tlsClient?.close();
      tlsClient = undefined;
    },
  };
}

/** Values of a Secret's data (plain and decoded) that must never appear in an error. */
function secretValues(object: unknown): string[] {
  const o = object as { kind?: string; stringData?: unknown; data?: unknown };
  if (o.kind !== "Secret") return [];
  const out: string[] = [];
  for (const v of Object.values((o.stringData ?? {}) as Record<string, string>)) {
    out.push(String(v), encodeBase64(String(v)));
  }
  for (const v of Object.values((o.data ?? {}) as Record<string, string>)) {
    out.push(String(v));
    try {
      out.push(decodeBase64(String(v)));
    } catch { /* not base64: the plain value is already listed */ }
  }
  return out;
}
