/** Drift in Kea: each server's reservation on every Kea server; reservations with no record. */
import { bmcNetworks } from "../../domain/config.ts";
import { intToIpv4, ipInPrefix, ipv4ToInt } from "../../domain/ipv4.ts";
import type { KeaClient, ServerHosts } from "../../integrations/kea/api.ts";
import type { Registration } from "../../state/store.ts";
import type { Add, DriftDeps, DriftReport } from "./types.ts";

/** The first host address of a network, to ask Kea which subnet holds it. */
const firstHost = (cidr: string) => intToIpv4(ipv4ToInt(cidr.split("/")[0]) + 1);

export async function checkKea(
  d: DriftDeps,
  kea: KeaClient,
  all: Registration[],
  full: boolean,
  add: Add,
  errors: DriftReport["errors"],
): Promise<void> {
  const reserved = all.filter((r) => r.created.kea_subnet_id !== undefined && r.bmc_ip);
  const subnets = new Set(reserved.map((r) => r.created.kea_subnet_id!));
  if (full) {
    for (const net of bmcNetworks(d.config)) {
      const id = await kea.subnetFor(firstHost(net)).catch(() => undefined);
      if (id !== undefined) subnets.add(id);
    }
  }
  const lists = new Map<number, ServerHosts[]>();
  await Promise.all([...subnets].map(async (s) => lists.set(s, await kea.listReservations(s))));
  const knownMacs = new Set(all.map((r) => r.bmc_mac));
  const networks = bmcNetworks(d.config);
  for (const [subnetId, servers] of lists) {
    for (const list of servers) {
      if ("error" in list) {
        errors.push({ system: "kea", message: `${list.server}: ${list.error}` });
        continue;
      }
      const byMac = new Map(list.hosts.map((h) => [h.mac, h]));
      const byIp = new Map(list.hosts.map((h) => [h.ip, h]));
      for (const r of reserved) {
        if (r.created.kea_subnet_id !== subnetId || r.status !== "ok") continue;
        const hostname = `${r.device_name}-bmc`;
        const where = `${list.server} subnet ${subnetId}`;
        const mine = byMac.get(r.bmc_mac);
        const holder = byIp.get(r.bmc_ip!);
        if (holder && holder.mac !== r.bmc_mac) {
          add(r, "kea_ip_taken", {
            where,
            expected: `${r.bmc_ip} reserved for ${r.bmc_mac}`,
            found: `${r.bmc_ip} reserved for ${holder.mac}${
              holder.hostname ? ` (${holder.hostname})` : ""
            }`,
            repair: "None: that reservation is not the service's; remove it in Kea if it is stale",
          });
        } else if (!mine) {
          add(r, "kea_reservation_missing", {
            where,
            expected: `${r.bmc_mac} → ${r.bmc_ip} (${hostname})`,
            found: "no reservation for the MAC",
            repair: "Reserve it again on that server",
            step: "kea",
          });
        } else if (mine.ip !== r.bmc_ip || (mine.hostname ?? "") !== hostname) {
          add(r, "kea_reservation_changed", {
            where,
            expected: `${r.bmc_mac} → ${r.bmc_ip} (${hostname})`,
            found: `${mine.mac} → ${mine.ip} (${mine.hostname ?? "no hostname"})`,
            repair: "Replace it with the recorded IP and hostname",
            step: "kea",
          });
        }
      }
      if (!full) continue;
      for (const h of list.hosts) {
        if (knownMacs.has(h.mac) || !networks.some((n) => ipInPrefix(h.ip, n))) continue;
        add(null, "kea_unknown_reservation", {
          server: h.hostname || h.mac,
          where: `${list.server} subnet ${subnetId} ${h.mac}`,
          expected: "a registration for every reservation in the BMC subnet",
          found: `${h.mac} → ${h.ip}${h.hostname ? ` (${h.hostname})` : ""}`,
          repair: "None: unknown to the service, left untouched",
          unknown: true,
        });
      }
    }
  }
}
