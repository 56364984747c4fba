/** Drift repair: one re-run of the owning step per server and step. */
import type { StepName } from "../../domain/model.ts";
import { type DriftDeps, type Finding, message, pool, type RepairResult } from "./types.ts";

/**
 * Repairs the given findings: one re-run of the owning step per server and step, in the order
 * Netbox, OpenBao, Kea, Metal3. Unknown objects and findings without a step are skipped; a value a
 * person changed in Netbox only with `force`. Every repair attempt goes to the audit trail.
 */
export async function repairDrift(
  d: DriftDeps,
  findings: Finding[],
  options: { force?: boolean; actor: string },
): Promise<RepairResult[]> {
  const results: RepairResult[] = [];
  const groups = new Map<string, Finding[]>();
  for (const f of findings) {
    const result = (outcome: RepairResult["outcome"], message: string) =>
      results.push({ id: f.id, kind: f.kind, server: f.server, outcome, message });
    if (f.unknown || !f.step || !f.registration_id) {
      result("skipped", f.repair);
    } else if (f.needs_force && !options.force) {
      result("skipped", `Not repaired without force: ${f.repair}`);
    } else {
      const key = `${f.registration_id}|${f.step}`;
      groups.set(key, [...(groups.get(key) ?? []), f]);
    }
  }
  const order: StepName[] = ["netbox", "openbao", "kea", "metal3"];
  const byServer = new Map<string, Finding[][]>();
  for (const group of groups.values()) {
    const id = group[0].registration_id!;
    byServer.set(id, [...(byServer.get(id) ?? []), group]);
  }
  await pool([...byServer.values()], d.config.IMPORT_CONCURRENCY, async (steps) => {
    steps.sort((a, b) => order.indexOf(a[0].step!) - order.indexOf(b[0].step!));
    for (const group of steps) {
      const [first] = group;
      const id = first.registration_id!;
      let outcome: RepairResult["outcome"] = "repaired";
      let text: string;
      try {
        const r = await d.store.mustGet(id);
        const changed = group.find((f) => f.kind === "netbox_device_changed");
        if (changed && d.netbox && r.resolved && r.created.netbox_device_id) {
          await d.netbox.updateDevice(r.created.netbox_device_id, {
            name: r.device_name,
            siteId: r.resolved.siteId,
            locationId: r.resolved.locationId,
            rackId: r.resolved.rackId,
            position: r.request.position!,
          });
        }
        text = await d.engine.repairStep(id, first.step!, {
          recreateDevice: group.some((f) => f.kind === "netbox_device_missing"),
        });
      } catch (e) {
        outcome = "failed";
        text = message(e);
      }
      await d.store.audit(id, {
        at: new Date().toISOString(),
        actor: options.actor,
        action: `drift repair ${first.step}: ${outcome}`,
        detail: `${
          group.map((f) => f.kind + (f.where ? ` (${f.where})` : "")).join(", ")
        }: ${text}`,
      });
      d.log.info("drift repair", {
        id,
        device: first.server,
        step: first.step,
        outcome,
        kinds: group.map((f) => f.kind).join(","),
      });
      for (const f of group) {
        results.push({ id: f.id, kind: f.kind, server: f.server, outcome, message: text });
      }
    }
  });
  return results;
}

/** Findings that a repair with these options would act on (the CLI's exit code after repair). */
export function repairable(findings: Finding[], force = false): Finding[] {
  return findings.filter((f) => !f.unknown && f.step && (!f.needs_force || force));
}
