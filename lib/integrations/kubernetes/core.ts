/** The API server over the shared HTTP layer: paths of our two kinds, Status errors. */
import {
  createHttpClient,
  DETAIL_MAX,
  type HttpClient,
  IntegrationError,
  redactText,
  redactValue,
  type RequestOptions,
  summarizeBody,
  truncateSafely,
} from "../http.ts";
import type { KubernetesSettings } from "./config.ts";

/** Kubernetes `Status` body (reference D.8). */
export interface Status {
  kind: "Status";
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

export function isStatus(body: unknown): body is Status {
  return !!body && typeof body === "object" && (body as { kind?: unknown }).kind === "Status";
}

/** `Invalid: spec.bootMACAddress: Invalid value: …` from a Status body. */
export function statusDetail(status: Status): string {
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

export interface ResourcePath {
  base: string;
  plural: string;
}

export const PLURALS: Record<string, string> = {
  BareMetalHost: "baremetalhosts",
  Secret: "secrets",
};

export function resourcePath(apiVersion: string, kind: string): ResourcePath {
  const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return { base, plural: PLURALS[kind] ?? `${kind.toLowerCase()}s` };
}

export const BMH = resourcePath("metal3.io/v1alpha1", "BareMetalHost");

export const SECRET = resourcePath("v1", "Secret");

/** The API server over the shared HTTP layer: bearer token, TLS, Status errors with secrets scrubbed. */
export function createKubeCore(settings: KubernetesSettings) {
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
  return {
    settings,
    server,
    /** The bearer token last sent, to scrub from what a watch reports. */
    token: () => lastToken,
    http,
    headers,
    rethrow,
    call,
    objectPath,
    collectionPath,
    getObject,
    deleteObject,
    close() {
      tlsClient?.close();
      tlsClient = undefined;
    },
  };
}

export type KubeCore = ReturnType<typeof createKubeCore>;
