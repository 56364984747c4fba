/**
 * A Kubernetes API server fake for Secrets and Metal3 BareMetalHosts: server-side apply with
 * managed fields, CRD schema validation, Status errors, watch with bounded history, and an optional
 * simulated bare-metal operator. Used by the tests and by the demo. The state lives in one
 * `Cluster` (state.ts); each concern is a module of functions over it.
 */
// deno-lint-ignore-file no-explicit-any -- objects are arbitrary JSON documents
import type {
  BareMetalHostObject,
  BareMetalHostStatus,
  SecretObject,
} from "../../lib/domain/metal3.ts";
import type { Faults } from "../faults.ts";
import { update } from "./apply.ts";
import { createHandler } from "./http.ts";
import { scheduleOperator } from "./operator.ts";
import { loadBareMetalHostValidator } from "./schema.ts";
import { createCluster, emit, objKey, render, type WatchRecord } from "./state.ts";
import { BMHS, type ResourceType, SECRETS } from "./status.ts";

export { statusFault } from "./http.ts";
export {
  bareMetalHostAdmission,
  type BareMetalHostValidation,
  type BareMetalHostValidator,
  BMH_CRD_URL,
  type FieldCause,
  loadBareMetalHostValidator,
} from "./schema.ts";
export type { WatchRecord };

export interface FakeKubernetesOptions {
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  token?: string;
  /**
   * Simulate the bare-metal operator: registering → inspecting → available, one step per stepMs.
   * A deleted host keeps the operator's finalizer (deletionTimestamp set, still readable) for
   * deleteMs (default stepMs) while it is deprovisioned, then is gone.
   */
  provisioning?: { stepMs: number; deleteMs?: number };
  /** Events kept for watches; a watch from an older resourceVersion gets 410 Gone. */
  historyLimit?: number;
  /** How a too-old watch is refused: an ERROR event in a 200 stream (watch cache), or HTTP 410. */
  goneAs?: "event" | "http";
  /** Namespaces that exist; any namespace when absent. */
  namespaces?: string[];
  /** Where the BareMetalHost CRD is read from. */
  crdUrl?: URL;
}

export interface FakeKubernetesState {
  /** Latest resourceVersion handed out (global, as in etcd). */
  readonly resourceVersion: number;
  /** Every request seen (after faults), for assertions. */
  readonly requests: { method: string; path: string; search: string; contentType: string }[];
  /** Warnings sent (e.g. unknown fields pruned). */
  readonly warnings: string[];
  readonly openWatches: number;
  secrets(namespace: string): SecretObject[];
  bareMetalHosts(namespace: string): BareMetalHostObject[];
  secret(namespace: string, name: string): SecretObject | null;
  bareMetalHost(namespace: string, name: string): BareMetalHostObject | null;
}

export interface FakeKubernetes extends Disposable {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  state: FakeKubernetesState;
  /** Changes the accepted bearer token (a rotated service-account token). */
  setToken(token: string | undefined): void;
  /** Drops the event history, as etcd compaction does: older watches get 410. */
  compact(): void;
  /** Ends every open watch stream (an API server restart or a dropped connection). */
  endWatches(): void;
  /** Writes a BareMetalHost's status through the status subresource, as the operator does. */
  setBareMetalHostStatus(
    namespace: string,
    name: string,
    status: BareMetalHostStatus,
  ): BareMetalHostObject;
  /** Changes an object as another controller would (an `Update` by `manager`). */
  update(
    kind: "Secret" | "BareMetalHost",
    namespace: string,
    name: string,
    mutate: (object: any) => void,
    manager?: string,
  ): unknown;
  /** Stops the operator timers and ends the watch streams. */
  close(): void;
}

/** Creates an in-memory Kubernetes API server for Secrets and BareMetalHosts. */
export function createFakeKubernetes(options: FakeKubernetesOptions = {}): FakeKubernetes {
  const cluster = createCluster(options, loadBareMetalHostValidator(options.crdUrl));
  cluster.onHostCreated = (ns, name) => scheduleOperator(cluster, ns, name);
  const get = (t: ResourceType, ns: string, name: string) => {
    const s = cluster.objects.get(objKey(t, ns, name));
    return s ? render(s) : null;
  };
  const listOf = (t: ResourceType, ns: string) =>
    [...cluster.objects.values()].filter((s) => s.type === t && s.object.metadata.namespace === ns)
      .map(render);
  const endWatches = () => {
    for (const w of [...cluster.watchers]) w.end();
  };
  const close = () => {
    cluster.closed = true;
    for (const id of cluster.timers) clearTimeout(id);
    cluster.timers.clear();
    endWatches();
  };

  return {
    handler: createHandler(cluster),
    faults: cluster.faults,
    state: {
      get resourceVersion() {
        return cluster.rv;
      },
      requests: cluster.requests,
      warnings: cluster.warnings,
      get openWatches() {
        return cluster.watchers.size;
      },
      secrets: (ns) => listOf(SECRETS, ns),
      bareMetalHosts: (ns) => listOf(BMHS, ns),
      secret: (ns, name) => get(SECRETS, ns, name),
      bareMetalHost: (ns, name) => get(BMHS, ns, name),
    },
    setToken(t) {
      cluster.token = t;
    },
    compact() {
      const { history } = cluster;
      if (history.length) cluster.compactedRv = history[history.length - 1].rv;
      cluster.compactedRv = Math.max(cluster.compactedRv, cluster.rv);
      history.length = 0;
    },
    endWatches,
    setBareMetalHostStatus(ns, name, status) {
      const s = cluster.objects.get(objKey(BMHS, ns, name));
      if (!s) throw new Error(`No BareMetalHost ${ns}/${name}`);
      // Synchronous for callers: validation of a status we write ourselves is skipped.
      const next = structuredClone(s.object);
      next.status = status;
      const previous = render(s);
      cluster.rv++;
      next.metadata.resourceVersion = String(cluster.rv);
      s.object = next;
      emit(cluster, "MODIFIED", s, previous);
      return render(s);
    },
    update: (kind, ns, name, mutate, manager = "kubectl-edit") =>
      update(cluster, kind, ns, name, mutate, manager),
    close,
    [Symbol.dispose]: close,
  };
}
