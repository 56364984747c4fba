/**
 * Decommission (SPEC §6.5): a registration undone in reverse order, each part idempotent and
 * reported; name, MAC and rack slot stay claimed until the operator has deleted the host.
 */
import { Conflict } from "../domain/errors.ts";
import { foreignOwner, statusView } from "../domain/metal3.ts";
import type { Registration } from "../state/store.ts";
import { type EngineDeps, publish, secretPath } from "./step.ts";
import type { Passwords } from "./steps/openbao.ts";

/** Provisioning states in which removing the host would pull a server out from under a workload. */
const PROVISIONED_STATES = [
  "provisioning",
  "provisioned",
  "externally provisioned",
  "deprovisioning",
];

/** Undoes a registration; the engine marks it as being decommissioned meanwhile. */
export async function decommission(
  d: EngineDeps,
  passwords: Passwords,
  id: string,
  options: { force: boolean },
  actor: string,
): Promise<{ registration: Registration; steps: Record<string, string> }> {
  const { store, kubernetes, kea, openbao, netbox, config } = d;
  const r = await store.mustGet(id);
  const report: Record<string, string> = {};
  const ns = config.METAL3_NAMESPACE;
  if (r.status === "decommissioned") {
    // Again while its host is being deleted: only look whether it is gone now.
    await releaseIfHostGone(d, id);
    return { registration: await store.mustGet(id), steps: report };
  }
  let hostDeletion: Registration["host_deletion"];
  if (kubernetes && r.created.metal3_bmh) {
    const name = r.created.metal3_bmh;
    const bmh = await kubernetes.getBareMetalHost(ns, name);
    const state = bmh ? statusView(bmh).state : "";
    if (PROVISIONED_STATES.includes(state) && !options.force) {
      throw new Conflict(
        `${r.device_name} is ${state} in Metal3: deprovision it first, or decommission with force=true (admins only)`,
      );
    }
    if (bmh && foreignOwner({ ...bmh, kind: "BareMetalHost" }, { id, recorded: true })) {
      report.baremetalhost = "not this registration's any more: left alone";
    } else if (bmh) {
      await kubernetes.deleteBareMetalHost(ns, name);
      // The operator's finalizer keeps it while it deprovisions: the claims wait for that.
      const after = await kubernetes.getBareMetalHost(ns, name);
      if (after && after.metadata.uid === bmh.metadata.uid) {
        hostDeletion = {
          name,
          since: after.metadata.deletionTimestamp ?? new Date().toISOString(),
        };
        report.baremetalhost = "deleting (the operator removes it once deprovisioned)";
      } else report.baremetalhost = "deleted";
    } else report.baremetalhost = "already gone";
  }
  if (kubernetes && r.created.metal3_secret) {
    const secret = await kubernetes.getSecret(ns, r.created.metal3_secret);
    if (secret && foreignOwner({ ...secret, kind: "Secret" }, { id, recorded: true })) {
      report.secret = "not this registration's any more: left alone";
    } else {
      await kubernetes.deleteSecret(ns, r.created.metal3_secret);
      report.secret = "deleted";
    }
  }
  if (kea && r.created.kea_subnet_id !== undefined) {
    const { results } = await kea.release(r.bmc_mac, r.created.kea_subnet_id);
    report.kea = results.map((s) => `${s.server}: ${s.outcome}`).join(", ") || "released";
  }
  if (openbao && r.created.openbao_path) {
    await openbao.deleteSecret(secretPath(r.device_name));
    report.openbao = "deleted";
  }
  if (netbox && r.created.netbox_device_id) {
    if (r.created.netbox_device_preexisting) {
      await netbox.setDeviceStatus(r.created.netbox_device_id, "decommissioning");
      report.netbox = "status decommissioning (device existed before this registration)";
    } else {
      if (r.created.netbox_ip_id) await netbox.deleteIp(r.created.netbox_ip_id);
      if (r.created.netbox_mac_id) await netbox.deleteMac(r.created.netbox_mac_id);
      if (r.created.netbox_interface_id) {
        await netbox.deleteInterface(r.created.netbox_interface_id);
      }
      await netbox.deleteDevice(r.created.netbox_device_id);
      report.netbox = "device, interface, MAC and IP deleted";
    }
  }
  passwords.delete(id);
  if (hostDeletion) await store.setHostDeletion(id, true);
  const updated = await store.update(id, (x) => {
    x.status = "decommissioned";
    x.created = {};
    x.host_deletion = hostDeletion;
    x.provisioning = hostDeletion
      ? {
        ...(x.provisioning ?? { operationalStatus: "", poweredOn: false, errorMessage: "" }),
        state: "deleting",
        updatedAt: new Date().toISOString(),
      }
      : undefined;
    if (hostDeletion) x.warnings.push(waitingForDeletion(ns, hostDeletion.name));
  });
  if (!hostDeletion) await store.releaseClaims(updated);
  await store.audit(id, {
    at: new Date().toISOString(),
    actor,
    action: options.force ? "decommission (force)" : "decommission",
    detail: JSON.stringify(report),
  });
  publish(d, updated);
  // The host may have gone while we were busy here (its DELETED event was ignored).
  if (hostDeletion && await releaseIfHostGone(d, id)) {
    return { registration: await store.mustGet(id), steps: report };
  }
  return { registration: updated, steps: report };
}

/**
 * A decommissioned record waiting for its BareMetalHost: once the host is gone (or the name is
 * another object's), releases name, MAC and rack slot. Returns true when nothing waits any more.
 */
export async function releaseIfHostGone(d: EngineDeps, id: string): Promise<boolean> {
  const { store, kubernetes, config } = d;
  const r = await store.get(id);
  if (!r?.host_deletion) {
    await store.setHostDeletion(id, false);
    return true;
  }
  const host = kubernetes
    ? await kubernetes.getBareMetalHost(config.METAL3_NAMESPACE, r.host_deletion.name)
    : null;
  if (host?.metadata.deletionTimestamp) return false;
  const wait = waitingForDeletion(config.METAL3_NAMESPACE, r.host_deletion.name);
  const updated = await store.update(id, (x) => {
    x.host_deletion = undefined;
    x.provisioning = undefined;
    x.warnings = x.warnings.filter((w) => w !== wait);
  });
  await store.releaseClaims(updated);
  await store.setHostDeletion(id, false);
  await store.audit(id, {
    at: new Date().toISOString(),
    actor: "system",
    action: "release",
    detail: `BareMetalHost ${r.host_deletion.name} is gone: name, MAC and rack slot released`,
  });
  publish(d, updated);
  return true;
}

/**
 * After a lost claim: a holder that is decommissioned and waiting for its host is released if
 * the host is gone (true: try again); still deleting is a conflict saying so.
 */
export async function releaseDeletedHolders(
  d: EngineDeps,
  record: Registration,
): Promise<boolean> {
  const { store, config } = d;
  const holders = new Set(
    [
      await store.idByName(record.device_name),
      await store.idByMac(record.bmc_mac),
      ...await Promise.all(
        (record.slot?.units ?? []).map((u) => store.slotHolder(record.slot!.rackId, u)),
      ),
    ].filter((h): h is string => !!h && h !== record.id),
  );
  let released = false;
  for (const id of holders) {
    const holder = await store.get(id);
    if (!holder?.host_deletion) continue;
    if (!(await releaseIfHostGone(d, id))) {
      throw new Conflict(
        `${holder.device_name} was decommissioned and ${
          waitingForDeletion(config.METAL3_NAMESPACE, holder.host_deletion.name)
        }: register again once it is gone`,
      );
    }
    released = true;
  }
  return released;
}

/** What a decommissioned registration shows while its BareMetalHost is deleted. */
function waitingForDeletion(ns: string, name: string): string {
  return `Waiting for the previous host to be deleted: BareMetalHost ${ns}/${name} keeps the operator's finalizer while it deprovisions; name, MAC and rack slot stay claimed until it is gone`;
}
