/** Kubernetes API client for the Metal3 step: server-side apply of Secrets and BareMetalHosts,
 * reads, deletes and a resumable BareMetalHost watch, over the shared HTTP layer. */
import { BMH, createKubeCore, resourcePath, SECRET } from "./kubernetes/core.ts";
import { listHosts, watchHosts } from "./kubernetes/watch.ts";
import { decodeBase64, encodeBase64, type KubernetesSettings } from "./kubernetes/config.ts";
import type { KubeObject, KubernetesClient } from "./kubernetes/types.ts";
import { type BareMetalHostObject, FIELD_MANAGER, type SecretObject } from "../domain/metal3.ts";

export { type KubernetesSettings, kubernetesSettingsFromEnv } from "./kubernetes/config.ts";
export type * from "./kubernetes/types.ts";
export { kubernetesReason } from "./kubernetes/core.ts";

/** Builds the client. Every call goes through `createHttpClient` (timeout, retry, typed errors). */
export function createKubernetesClient(settings: KubernetesSettings): KubernetesClient {
  const core = createKubeCore(settings);
  const { call, objectPath, getObject, deleteObject } = core;
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
    listBareMetalHosts: (ns, options = {}) => listHosts(core, ns, options.labelSelector),
    getSecret: (ns, name) => getObject<SecretObject>(SECRET, "Secret", ns, name),
    deleteBareMetalHost: (ns, name) => deleteObject(BMH, "BareMetalHost", ns, name),
    deleteSecret: (ns, name) => deleteObject(SECRET, "Secret", ns, name),
    watchBareMetalHosts: (ns, options) => watchHosts(core, ns, options),
    async health() {
      await call("health", "GET", "/readyz", {
        headers: { accept: "text/plain, application/json" },
      });
    },
    close: core.close,
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
