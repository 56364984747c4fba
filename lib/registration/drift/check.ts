/** The drift check: every system read at once, findings collected into one report. */
import { NotFound } from "../../domain/errors.ts";
import type { SecretVersion } from "../../integrations/openbao.ts";
import type { Registration, RegistrationStore } from "../../state/store.ts";
import { checkKea } from "./kea.ts";
import { checkKubernetes } from "./kubernetes.ts";
import { checkNetbox } from "./netbox.ts";
import { checkOpenBao } from "./openbao.ts";
import {
  DRIFT_KINDS,
  type DriftDeps,
  type DriftKind,
  type DriftReport,
  type DriftSystem,
  type Finding,
  message,
} from "./types.ts";

const SYSTEMS: DriftSystem[] = ["netbox", "openbao", "kea", "kubernetes"];

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
