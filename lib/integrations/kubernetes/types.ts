/** The Kubernetes client's public types. */
import { type BareMetalHostObject, type SecretObject } from "../../domain/metal3.ts";

/** One watch notification about a BareMetalHost. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: BareMetalHostObject;
}

export type KubeObject = {
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
