/** The BareMetalHost watch: Metal3's provisioning status on the registrations (SPEC §6.5). */
import { ANNOTATION_REGISTRATION_ID, MANAGED_SELECTOR, statusView } from "../domain/metal3.ts";
import type { WatchEvent } from "../integrations/kubernetes.ts";
import { releaseIfHostGone } from "./decommission.ts";
import { type EngineDeps, publish } from "./step.ts";

/**
 * Feeds Metal3 provisioning changes into the records and the live events: a host being deleted
 * shows as such, a decommissioned record's host that is gone releases its claims, and the host
 * of an `ok` registration deleted behind our back turns the registration `failed`.
 */
export async function watchProvisioning(
  d: EngineDeps,
  decommissioning: ReadonlySet<string>,
  signal: AbortSignal,
): Promise<void> {
  const { kubernetes, config, store } = d;
  if (!kubernetes) return;
  const ns = config.METAL3_NAMESPACE;
  // Hosts that went away while no watch ran.
  for (const id of await store.hostDeletions()) {
    await releaseIfHostGone(d, id).catch((e) =>
      d.log.warn("BareMetalHost deletion check failed", { id, error: e })
    );
  }
  let inOrder = Promise.resolve();
  await kubernetes.watchBareMetalHosts(ns, {
    labelSelector: MANAGED_SELECTOR,
    signal,
    // The watch does not await onEvent: events are chained so they are recorded in order (a
    // host's last MODIFIED must not land after its DELETED), and a failure (KV closed at
    // shutdown) is logged here.
    onEvent: (e) => {
      inOrder = inOrder.then(() => onHostEvent(d, decommissioning, ns, e)).catch((err) => {
        if (!signal.aborted) d.log.warn("BareMetalHost event not recorded", { error: err });
      });
    },
    onError: (err) => d.log.warn("BareMetalHost watch interrupted", { error: err }),
  });
}

/** Records a BareMetalHost watch event on the registration that owns the host. */
async function onHostEvent(
  d: EngineDeps,
  decommissioning: ReadonlySet<string>,
  ns: string,
  e: WatchEvent,
): Promise<void> {
  const { store } = d;
  const { name, annotations, deletionTimestamp } = e.object.metadata;
  const id = await store.idByName(name);
  if (!id || decommissioning.has(id)) return;
  const before = await store.mustGet(id);
  const owner = annotations?.[ANNOTATION_REGISTRATION_ID];
  if (owner && owner !== id) return; // another registration's host of that name
  if (before.status === "decommissioned") {
    if (e.type === "DELETED" && before.host_deletion) await releaseIfHostGone(d, id);
    return;
  }
  const view = statusView(e.object);
  const now = new Date().toISOString();
  const lost = e.type === "DELETED" && before.status === "ok";
  const message =
    `BareMetalHost ${ns}/${name} was deleted outside this service: press Retry to create it again, or decommission the server`;
  const updated = await store.update(id, (r) => {
    if (r.status === "decommissioned") return;
    r.provisioning = {
      ...view,
      state: e.type === "DELETED" ? "deleted" : deletionTimestamp ? "deleting" : view.state,
      updatedAt: now,
    };
    if (lost && r.status === "ok") {
      r.status = "failed";
      r.steps.metal3 = { ...r.steps.metal3, status: "failed", message, endedAt: now };
      r.error = `metal3: ${message}`;
    }
  });
  if (lost && updated.status === "failed") {
    d.log.warn("BareMetalHost deleted outside the service", { id, device: name });
    d.events.publish({
      type: "step",
      id,
      device_name: name,
      step: "metal3",
      status: "failed",
      message,
    });
  }
  publish(d, updated);
}
