/**
 * Drift: what the service created for each server, compared with what Netbox, OpenBao, each Kea
 * server and Kubernetes hold now. Each difference is a typed finding (expected, found, repair);
 * objects in those systems that look like ours but have no record are reported as unknown and
 * never touched. Repairs re-run the registration step that owns the object (Engine.repairStep).
 */
import { z } from "zod";
import { bmcNetworks, type Config } from "../domain/config.ts";
import { NotFound } from "../domain/errors.ts";
import { intToIpv4, ipInPrefix, ipv4ToInt } from "../domain/ipv4.ts";
import type { StepName } from "../domain/model.ts";
import { bmcAddress, bmcSecretName, MANAGED_SELECTOR } from "../domain/metal3.ts";
import type { KeaClient, ServerHosts } from "../integrations/kea/api.ts";
import type { KubernetesClient } from "../integrations/kubernetes.ts";
import type {
  BmcInterface,
  InventoryDevice,
  NetboxClient,
  NetboxIp,
} from "../integrations/netbox.ts";
import type { OpenBaoClient, SecretVersion } from "../integrations/openbao.ts";
import type { Logger } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { EventBus } from "../state/events.ts";
import type { Registration, RegistrationStore } from "../state/store.ts";
import type { Engine } from "./engine.ts";

export type DriftSystem = "netbox" | "openbao" | "kea" | "kubernetes";

/** Every kind of finding, with the system it is about. */
export const DRIFT_KINDS = {
  netbox_device_missing: "netbox",
  netbox_device_changed: "netbox",
  netbox_interface_missing: "netbox",
  netbox_mac_changed: "netbox",
  netbox_ip_unassigned: "netbox",
  netbox_oob_ip_changed: "netbox",
  netbox_unknown_device: "netbox",
  openbao_secret_missing: "openbao",
  openbao_mac_changed: "openbao",
  kea_reservation_missing: "kea",
  kea_reservation_changed: "kea",
  kea_ip_taken: "kea",
  kea_unknown_reservation: "kea",
  kubernetes_host_missing: "kubernetes",
  kubernetes_host_changed: "kubernetes",
  kubernetes_secret_missing: "kubernetes",
  kubernetes_password_differs: "kubernetes",
  kubernetes_unknown_host: "kubernetes",
} as const satisfies Record<string, DriftSystem>;
export type DriftKind = keyof typeof DRIFT_KINDS;

export interface Finding {
  /** Stable across checks: kind, server and where (a Kea server, an object). */
  id: string;
  system: DriftSystem;
  kind: DriftKind;
  /** The device name, or the unknown object's name. */
  server: string;
  registration_id?: string;
  /** Which Kea server, or which object. */
  where?: string;
  expected: string;
  found: string;
  /** What the repair does, or why there is none. */
  repair: string;
  /** The step whose re-run repairs it; absent = nothing the service may do. */
  step?: StepName;
  /** A value a person changed in Netbox: repaired only with force. */
  needs_force?: boolean;
  /** An object with no record here: reported, never touched. */
  unknown?: boolean;
}

export interface DriftReport {
  checked_at: string;
  /** Registrations checked. */
  servers: number;
  findings: Finding[];
  /** Systems (or Kea servers) that could not be read: the check is incomplete. */
  errors: { system: DriftSystem; message: string }[];
  /** Findings per system. */
  counts: Record<DriftSystem, number>;
}

export interface RepairResult {
  id: string;
  kind: DriftKind;
  server: string;
  outcome: "repaired" | "skipped" | "failed";
  message: string;
}

export interface DriftDeps {
  config: Config;
  store: RegistrationStore;
  engine: Engine;
  log: Logger;
  netbox?: NetboxClient;
  openbao?: OpenBaoClient;
  kea?: KeaClient;
  kubernetes?: KubernetesClient;
}

const SYSTEMS: DriftSystem[] = ["netbox", "openbao", "kea", "kubernetes"];

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const message = (e: unknown) => e instanceof Error ? e.message : String(e);

/**
 * Every live registration (all pages), or just the one named (NotFound otherwise). Decommissioned
 * ones whose BareMetalHost is still being deleted come too: that host is known, not unknown.
 */
async function records(store: RegistrationStore, server?: string): Promise<Registration[]> {
  const live = (r: Registration) => r.status !== "decommissioned" || Boolean(r.host_deletion);
  if (server) {
    const id = await store.idByName(server);
    const r = id ? await store.get(id) : null;
    if (!r || r.status === "decommissioned") {
      throw new NotFound(`No registered server is named ${server}`);
    }
    return [r];
  }
  const out: Registration[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list({ limit: 200, cursor });
    out.push(...page.items.filter(live));
    cursor = page.cursor ?? undefined;
  } while (cursor);
  return out;
}

/** The first host address of a network, to ask Kea which subnet holds it. */
const firstHost = (cidr: string) => intToIpv4(ipv4ToInt(cidr.split("/")[0]) + 1);

/**
 * Checks every registration (or `server` only). Reads in bulk where the API allows (Netbox pages,
 * one Kea list per server and subnet, one BareMetalHost list) and per server otherwise (OpenBao,
 * Secrets), at most IMPORT_CONCURRENCY at once. Unknown objects are looked for only in a full check.
 */
export async function checkDrift(
  d: DriftDeps,
  options: { server?: string } = {},
): Promise<DriftReport> {
  const all = await records(d.store, options.server);
  const findings: Finding[] = [];
  const errors: DriftReport["errors"] = [];
  const add = (
    r: Registration | null,
    kind: DriftKind,
    f: Omit<Finding, "id" | "system" | "kind" | "server"> & { server?: string },
  ) => {
    const server = f.server ?? r!.device_name;
    findings.push({
      id: [kind, server, f.where ?? ""].join(":"),
      system: DRIFT_KINDS[kind],
      kind,
      server,
      ...(r ? { registration_id: r.id } : {}),
      ...f,
    });
  };
  const full = !options.server;
  // OpenBao is read once per server, for its own check and for the Secret's password.
  const reads = new Map<string, Promise<SecretVersion | null>>();
  const readSecret = (name: string) => {
    const path = `bmc/${name}`;
    if (!reads.has(path)) reads.set(path, d.openbao!.readSecret(path));
    return reads.get(path)!;
  };
  await Promise.all([
    d.netbox &&
    checkNetbox(d, d.netbox, all, full, add).catch((e) =>
      errors.push({ system: "netbox", message: message(e) })
    ),
    d.openbao &&
    checkOpenBao(d, readSecret, all, add).catch((e) =>
      errors.push({ system: "openbao", message: message(e) })
    ),
    d.kea &&
    checkKea(d, d.kea, all, full, add, errors).catch((e) =>
      errors.push({ system: "kea", message: message(e) })
    ),
    d.kubernetes &&
    checkKubernetes(d, d.kubernetes, readSecret, all, full, add).catch((e) =>
      errors.push({ system: "kubernetes", message: message(e) })
    ),
  ]);
  // The step that repairs one finding re-writes everything it owns: where it would also undo a
  // person's change, the server's other findings of that step wait for force too.
  const held = new Map<string, Finding>();
  for (const f of findings) if (f.needs_force) held.set(`${f.registration_id}|${f.step}`, f);
  for (const f of findings) {
    const by = held.get(`${f.registration_id}|${f.step}`);
    if (by && !f.needs_force) {
      f.needs_force = true;
      f.repair += ` (only with force: the same repair would undo ${by.kind}, a person's change)`;
    }
  }
  findings.sort((a, b) => a.id.localeCompare(b.id));
  const counts = Object.fromEntries(SYSTEMS.map((s) => [s, 0])) as Record<DriftSystem, number>;
  for (const f of findings) counts[f.system]++;
  const servers = all.filter((r) => r.status !== "decommissioned").length;
  return { checked_at: new Date().toISOString(), servers, findings, errors, counts };
}

type Add = (
  r: Registration | null,
  kind: DriftKind,
  f: Omit<Finding, "id" | "system" | "kind" | "server"> & { server?: string },
) => void;

async function checkNetbox(
  d: DriftDeps,
  nb: NetboxClient,
  all: Registration[],
  full: boolean,
  add: Add,
): Promise<void> {
  const [devices, interfaces, ips] = await Promise.all([
    nb.listDevices(),
    nb.bmcInterfaces(),
    Promise.all(bmcNetworks(d.config).map((n) => nb.ipsIn(n))).then((l) => l.flat()),
  ]);
  const deviceById = new Map<number, InventoryDevice>(devices.map((x) => [x.id, x]));
  const ifaceByDevice = new Map<number, BmcInterface>(interfaces.map((i) => [i.device_id, i]));
  const ipByAddress = new Map<string, NetboxIp>(ips.map((ip) => [ip.address.split("/")[0], ip]));
  const known = new Set<number>();
  for (const r of all) {
    const id = r.created.netbox_device_id;
    if (id === undefined) continue;
    known.add(id);
    if (r.status !== "ok") continue;
    const device = deviceById.get(id);
    const ref = r.resolved;
    if (!device) {
      add(r, "netbox_device_missing", {
        where: `dcim.device ${id}`,
        expected: `device ${r.device_name} (id ${id})`,
        found: "no such device",
        ...(r.created.netbox_device_preexisting
          ? { repair: "None: the device was not created by the service; register it again" }
          : {
            repair: "Create the device again with its BMC interface, MAC and IP",
            step: "netbox",
          }),
      });
      continue;
    }
    if (ref) {
      const want = `${r.device_name} at ${ref.siteSlug}/${ref.rackName} U${r.request.position}`;
      const have = `${device.name} at ${device.site?.slug ?? device.site?.name ?? "-"}/${
        device.rack?.name ?? "-"
      } U${device.position ?? "-"}`;
      if (
        device.name !== r.device_name || device.site?.id !== ref.siteId ||
        device.rack?.id !== ref.rackId || device.position !== r.request.position
      ) {
        add(r, "netbox_device_changed", {
          where: `dcim.device ${id}`,
          expected: want,
          found: have,
          repair:
            "Put the device back (name, site, rack, U): a person changed it, so only with force",
          step: "netbox",
          needs_force: true,
        });
      }
    }
    // An OOB IP a person set to another address is reported whatever else is missing: the
    // Netbox step that repairs the rest would set it back.
    if (r.bmc_ip && device.bmc_ip && device.bmc_ip !== r.bmc_ip) {
      add(r, "netbox_oob_ip_changed", {
        where: `dcim.device ${id}`,
        expected: r.bmc_ip,
        found: device.bmc_ip,
        repair: "Set the OOB IP back: a person changed it, so only with force",
        step: "netbox",
        needs_force: true,
      });
    }
    const iface = ifaceByDevice.get(id);
    if (!iface) {
      add(r, "netbox_interface_missing", {
        where: `dcim.device ${id}`,
        expected: `interface bmc with MAC ${r.bmc_mac}`,
        found: "no bmc interface",
        repair: "Create the bmc interface with the MAC and assign the IP",
        step: "netbox",
      });
      continue;
    }
    if (iface.mac !== r.bmc_mac) {
      add(r, "netbox_mac_changed", {
        where: `dcim.interface ${iface.id}`,
        expected: r.bmc_mac,
        found: iface.mac ?? "no MAC",
        ...(iface.mac === null
          ? { repair: "Put the MAC on the bmc interface", step: "netbox" as const }
          : {
            repair: "Put the recorded MAC back: a person changed it, so only with force",
            step: "netbox" as const,
            needs_force: true,
          }),
      });
    }
    if (!r.bmc_ip) continue;
    const ip = ipByAddress.get(r.bmc_ip);
    if (!ip || ip.interface_id !== iface.id) {
      add(r, "netbox_ip_unassigned", {
        where: `dcim.interface ${iface.id}`,
        expected: `${r.bmc_ip} assigned to the bmc interface`,
        found: !ip
          ? `${r.bmc_ip} is not in IPAM`
          : ip.interface_id === null
          ? `${r.bmc_ip} is not assigned`
          : `${r.bmc_ip} is assigned to interface ${ip.interface_id}`,
        repair: ip?.interface_id
          ? "None while the IP is assigned elsewhere: free it in Netbox first"
          : "Assign the IP to the bmc interface and set it as OOB IP",
        ...(ip?.interface_id ? {} : { step: "netbox" as const }),
      });
      continue;
    }
    if (!device.bmc_ip) {
      add(r, "netbox_oob_ip_changed", {
        where: `dcim.device ${id}`,
        expected: r.bmc_ip,
        found: "no OOB IP",
        repair: "Set the OOB IP",
        step: "netbox",
      });
    }
  }
  if (!full) return;
  for (const iface of interfaces) {
    if (known.has(iface.device_id)) continue;
    add(null, "netbox_unknown_device", {
      server: iface.device_name || `device ${iface.device_id}`,
      where: `dcim.device ${iface.device_id}`,
      expected: "a registration for every device with a bmc interface",
      found: `device ${iface.device_id} with bmc interface${
        iface.mac ? ` (MAC ${iface.mac})` : ""
      }`,
      repair: "None: unknown to the service, left untouched",
      unknown: true,
    });
  }
}

type ReadSecret = (deviceName: string) => Promise<SecretVersion | null>;

async function checkOpenBao(
  d: DriftDeps,
  readSecret: ReadSecret,
  all: Registration[],
  add: Add,
): Promise<void> {
  const stored = all.filter((r) => r.status === "ok" && r.steps.openbao.status === "done");
  await pool(stored, d.config.IMPORT_CONCURRENCY, async (r) => {
    const path = `bmc/${r.device_name}`;
    const secret = await readSecret(r.device_name);
    if (!secret?.data.password) {
      add(r, "openbao_secret_missing", {
        where: path,
        expected: "the BMC credentials",
        found: secret ? "no password" : "no secret",
        repair: "None: the password is not held anywhere else the service may read; Retry with it",
      });
    } else if (secret.data.bmc_mac !== r.bmc_mac) {
      add(r, "openbao_mac_changed", {
        where: path,
        expected: r.bmc_mac,
        found: secret.data.bmc_mac ?? "no bmc_mac",
        repair: "Write the secret again with the recorded MAC (same password)",
        step: "openbao",
      });
    }
  });
}

async function checkKea(
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

async function checkKubernetes(
  d: DriftDeps,
  kube: KubernetesClient,
  readSecret: ReadSecret,
  all: Registration[],
  full: boolean,
  add: Add,
): Promise<void> {
  const ns = d.config.METAL3_NAMESPACE;
  const { items } = await kube.listBareMetalHosts(ns, { labelSelector: MANAGED_SELECTOR });
  const hosts = new Map(items.map((h) => [h.metadata.name, h]));
  const handed = all.filter((r) => r.status === "ok" && r.created.metal3_bmh && r.bmc_ip);
  await pool(handed, d.config.IMPORT_CONCURRENCY, async (r) => {
    const name = r.created.metal3_bmh!;
    const host = hosts.get(name) ?? null;
    const secretName = r.created.metal3_secret ?? bmcSecretName(r.device_name);
    const address = bmcAddress(d.config.BMC_DRIVER, r.bmc_ip!, r.bmc?.systemPath || undefined);
    if (!host) {
      add(r, "kubernetes_host_missing", {
        where: `${ns}/${name}`,
        expected: `BareMetalHost ${name} (bmc ${address})`,
        found: "no BareMetalHost with our labels",
        repair: "Apply the BareMetalHost and its Secret again",
        step: "metal3",
      });
    } else if (
      host.spec.bmc?.address !== address || host.spec.bmc?.credentialsName !== secretName
    ) {
      add(r, "kubernetes_host_changed", {
        where: `${ns}/${name}`,
        expected: `bmc ${address}, credentials ${secretName}`,
        found: `bmc ${host.spec.bmc?.address ?? "-"}, credentials ${
          host.spec.bmc?.credentialsName ?? "-"
        }`,
        repair: "Apply the BareMetalHost again",
        step: "metal3",
      });
    }
    const secret = await kube.getSecret(ns, secretName);
    const encoded = secret?.data?.password;
    if (!secret || !encoded) {
      add(r, "kubernetes_secret_missing", {
        where: `${ns}/${secretName}`,
        expected: `Secret ${secretName} with the BMC password`,
        found: secret ? "no password in it" : "no Secret",
        repair: "Apply the Secret again with the password from OpenBao",
        step: "metal3",
      });
      return;
    }
    if (!d.openbao || r.steps.openbao.status !== "done") return;
    const bao = await readSecret(r.device_name).catch(() => null); // its error is OpenBao's
    if (!bao?.data.password) return; // reported as openbao_secret_missing
    const [have, want] = await Promise.all([sha256(atob(encoded)), sha256(bao.data.password)]);
    if (have !== want) {
      add(r, "kubernetes_password_differs", {
        where: `${ns}/${secretName}`,
        expected: `the OpenBao password (sha256 ${want.slice(0, 8)}…)`,
        found: `another password (sha256 ${have.slice(0, 8)}…)`,
        repair: "Apply the Secret again with the password from OpenBao",
        step: "metal3",
      });
    }
  });
  if (!full) return;
  const names = new Set(all.flatMap((r) => [r.created.metal3_bmh, r.host_deletion?.name]));
  for (const h of items) {
    if (names.has(h.metadata.name)) continue;
    add(null, "kubernetes_unknown_host", {
      server: h.metadata.name,
      where: `${ns}/${h.metadata.name}`,
      expected: "a registration for every BareMetalHost with our labels",
      found: `BareMetalHost ${h.metadata.name} (bmc ${h.spec.bmc?.address ?? "-"})`,
      repair: "None: unknown to the service, left untouched",
      unknown: true,
    });
  }
}

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

/**
 * Runs the drift check: on demand and every DRIFT_INTERVAL seconds in the background. Keeps the
 * last full report, exposes its counts as `onboarding_drift_findings{system,kind}` and publishes a
 * `drift` event when the findings change.
 */
export class DriftMonitor {
  #last: DriftReport | null = null;
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<DriftReport>;

  constructor(
    readonly deps: DriftDeps & { metrics: Metrics; events: EventBus },
  ) {}

  get last(): DriftReport | null {
    return this.#last;
  }

  /** A fresh check; a full one (no server) updates the metrics and may publish an event. */
  async check(server?: string): Promise<DriftReport> {
    if (server) return await checkDrift(this.deps, { server });
    // Concurrent full checks (the timer and a page load) share one run.
    this.#running ??= checkDrift(this.deps).finally(() => this.#running = undefined);
    const report = await this.#running;
    this.#record(report);
    return report;
  }

  async repair(
    findings: Finding[],
    options: { force?: boolean; actor: string },
  ): Promise<RepairResult[]> {
    return await repairDrift(this.deps, findings, options);
  }

  #record(report: DriftReport): void {
    const before = this.#last?.findings.map((f) => f.id).join("\n");
    this.#last = report;
    const counts = new Map<DriftKind, number>();
    for (const f of report.findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    this.deps.metrics.driftFindings(
      (Object.keys(DRIFT_KINDS) as DriftKind[]).map((kind) => ({
        system: DRIFT_KINDS[kind],
        kind,
        count: counts.get(kind) ?? 0,
      })),
    );
    if (before !== report.findings.map((f) => f.id).join("\n")) {
      this.deps.events.publish({
        type: "drift",
        checked_at: report.checked_at,
        findings: report.findings.length,
        counts: report.counts,
      });
    }
  }

  /** Starts the background check (DRIFT_INTERVAL seconds; 0 = never). */
  start(): void {
    const seconds = this.deps.config.DRIFT_INTERVAL;
    if (!seconds || this.#timer !== undefined) return;
    const tick = () => {
      this.check().catch((e) => this.deps.log.warn("drift check failed", { error: e }));
    };
    this.#timer = setInterval(tick, seconds * 1000);
    tick();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** `GET /api/v1/drift` query. */
export const driftQuerySchema = z.object({
  server: z.string().trim().min(1).max(128).optional(),
});

/** `POST /api/v1/drift/repair`: which findings (none named = every one of the check). */
export const driftRepairSchema = z.object({
  server: z.string().trim().min(1).max(128).optional(),
  ids: z.array(z.string().min(1).max(512)).max(10_000).optional(),
  kind: z.enum(Object.keys(DRIFT_KINDS) as [DriftKind, ...DriftKind[]]).optional(),
  force: z.boolean().default(false),
}).strict();

/** Checks, repairs the findings the request names, and checks again. */
export async function repairRequested(
  monitor: DriftMonitor,
  request: z.infer<typeof driftRepairSchema>,
  actor: string,
): Promise<{ results: RepairResult[]; report: DriftReport }> {
  const before = await monitor.check(request.server);
  const chosen = before.findings.filter((f) =>
    (!request.ids || request.ids.includes(f.id)) && (!request.kind || f.kind === request.kind)
  );
  const results = await monitor.repair(chosen, { force: request.force, actor });
  return { results, report: await monitor.check(request.server) };
}
