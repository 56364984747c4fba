/** The Kea step: the BMC's DHCP reservation. */
import type { Registration } from "../../state/store.ts";
import { type EngineDeps, mustBeBmcIp, StepEnd } from "../step.ts";

/** A DHCP reservation of the BMC IP for the BMC MAC on every Kea server (SPEC §6.3). */
export async function keaStep(d: EngineDeps, r: Registration): Promise<string> {
  const { kea, store } = d;
  if (!r.bmc_ip) {
    throw new StepEnd(
      "skipped",
      "Kea step skipped: no BMC IP is known (give bmc_ip, or the Netbox fields with bmc_prefix or ONBOARDING_BMC_PREFIX)",
    );
  }
  if (!kea) throw new StepEnd("skipped", "Kea is not configured: no DHCP reservation was made");
  mustBeBmcIp(d.config, r.bmc_ip);
  const { subnetId, results } = await kea.reserve({
    mac: r.bmc_mac,
    ip: r.bmc_ip,
    hostname: `${r.device_name}-bmc`,
    userContext: {
      device: r.device_name,
      ...(r.created.netbox_device_id ? { netbox_device_id: r.created.netbox_device_id } : {}),
    },
  });
  // Written with the step's end (done or failed): a re-run makes the same reservation again.
  store.later(r.id, (x) => {
    x.created.kea_subnet_id = subnetId;
    x.created.kea_servers = results;
  });
  const failed = results.filter((s) => s.outcome === "failed");
  if (failed.length) {
    throw new Error(
      `Kea reservation failed on ${
        failed.map((f) => `${f.server} (${f.message})`).join(", ")
      }: check those servers and retry`,
    );
  }
  const where = results.length === 2
    ? "both DHCP servers"
    : results.length === 1
    ? "the DHCP server"
    : `${results.length} DHCP servers`;
  return results.every((s) => s.outcome === "unchanged")
    ? `${r.bmc_ip} was already reserved on ${where}`
    : `Reserved ${r.bmc_ip} on ${where}`;
}
