/** Moving Kea JSON reservations into the host database (or through the control API), per subnet,
 * idempotently, with a read-back check: the logic behind `deno task migrate-kea` and the bench. */
import { cannotRead } from "../../domain/cli.ts";
import { createKeaClient, HostCmdsMissing, type KeaClient, ReservationConflict } from "./api.ts";
import {
  parseKeaReservations,
  type Reservation,
  type ReservationGroup,
  reservationKey,
  sameReservation,
} from "../../domain/kea_json.ts";
import {
  checkReservation,
  connectKeaDb,
  dbError,
  insertHosts,
  readHosts,
  type StoredHost,
  updateHost,
} from "./pgsql.ts";

/** What the migration does (or would do) with one reservation. */
export interface PlanItem {
  action: "add" | "update" | "unchanged" | "conflict" | "error";
  subnetId?: number;
  reservation: Reservation;
  /** Where it came from (`file.json#3`). */
  source: string;
  /** Why it is a conflict or error. */
  reason?: string;
}

export interface MigrateOptions {
  /** Kea's host database; writes go here when set. */
  dbUrl?: string;
  /** Control agents: subnet discovery (config-get), and the write path when no dbUrl. */
  apiUrls?: string[];
  dryRun?: boolean;
  /** Subnet for reservations whose file does not say. */
  subnetId?: number;
  /** One statement per row instead of multi-row batches (the slow path, for comparison). */
  perRow?: boolean;
  /** Hosts per statement (default 10,000). */
  batchSize?: number;
  fetch?: typeof fetch;
  /** Progress and plan lines (default: nothing). */
  log?: (line: string) => void;
}

export interface MigrateReport {
  plan: PlanItem[];
  counts: Record<PlanItem["action"], number>;
  /** Reservations read back equal to the plan (after a real run). */
  verified: number;
  /** Read-back mismatches. */
  verifyFailures: string[];
  summary: string;
  ok: boolean;
}

/** Reads reservation files (lists, `{"reservations": …}` or Kea configs with comments). */
export async function readReservationFiles(
  paths: string[],
): Promise<{ source: string; group: ReservationGroup }[]> {
  const out: { source: string; group: ReservationGroup }[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = path === "-"
        ? await new Response(Deno.stdin.readable).text()
        : await Deno.readTextFile(path);
    } catch (e) {
      throw new TypeError(cannotRead(path === "-" ? "stdin" : path, e));
    }
    let groups: ReservationGroup[];
    try {
      groups = parseKeaReservations(text);
    } catch (e) {
      throw new TypeError(`${path}: ${(e as Error).message}`);
    }
    for (const group of groups) out.push({ source: path, group });
  }
  return out;
}

export function planLine(p: PlanItem): string {
  const r = p.reservation;
  const extra = [
    r.hostname,
    r.nextServer && `next-server ${r.nextServer}`,
    r.bootFileName && `file ${r.bootFileName}`,
  ].filter(Boolean).join(" ");
  return `${p.action.padEnd(9)} subnet ${String(p.subnetId ?? "?").padEnd(4)} ${r.mac} ${
    r.ip.padEnd(15)
  } ${extra}${p.reason ? ` — ${p.reason}` : ""} (${p.source})`;
}

export const key = (subnetId: number, v: string) => `${subnetId}/${v}`;

/** Flags input entries that disagree with each other; removes exact repeats. */
export function checkInput(items: PlanItem[]): PlanItem[] {
  const byMac = new Map<string, PlanItem>();
  const byIp = new Map<string, PlanItem>();
  const kept: PlanItem[] = [];
  for (const item of items) {
    if (item.action !== "add") {
      kept.push(item);
      continue;
    }
    const sid = item.subnetId!;
    const r = item.reservation;
    const sameMac = byMac.get(key(sid, r.mac));
    if (sameMac && sameReservation(sameMac.reservation, r)) continue; // exact repeat
    const sameIp = byIp.get(key(sid, r.ip));
    if (sameMac) {
      item.action = "conflict";
      item.reason =
        `${r.mac} appears twice in subnet ${sid} with different data (${sameMac.source})`;
    } else if (sameIp && sameIp.reservation.mac !== r.mac) {
      item.action = "conflict";
      item.reason = `${r.ip} is also given to ${sameIp.reservation.mac} (${sameIp.source})`;
    } else {
      byMac.set(key(sid, r.mac), item);
      byIp.set(key(sid, r.ip), item);
    }
    kept.push(item);
  }
  return kept;
}

/** Decides add / update / unchanged / conflict against what the database or Kea holds. */
export function planAgainst(items: PlanItem[], existing: StoredHost[] | Reservation[]) {
  const byMac = new Map<string, Reservation>();
  const byIp = new Map<string, Reservation>();
  for (const h of existing) {
    byMac.set(key(h.subnetId!, h.mac), h);
    byIp.set(key(h.subnetId!, h.ip), h);
  }
  // Addresses that this run moves away from their current holder are free for others.
  const moving = new Set<string>();
  for (const item of items) {
    if (item.action !== "add") continue;
    const old = byMac.get(key(item.subnetId!, item.reservation.mac));
    if (old && old.ip !== item.reservation.ip) moving.add(key(item.subnetId!, old.ip));
  }
  for (const item of items) {
    if (item.action !== "add") continue;
    const sid = item.subnetId!;
    const r = item.reservation;
    const mine = byMac.get(key(sid, r.mac));
    const holder = byIp.get(key(sid, r.ip));
    if (holder && holder.mac !== r.mac && !moving.has(key(sid, r.ip))) {
      item.action = "conflict";
      item.reason = `${r.ip} is already reserved for ${holder.mac}${
        holder.hostname ? ` (${holder.hostname})` : ""
      }`;
    } else if (mine) item.action = sameReservation(mine, r) ? "unchanged" : "update";
  }
}

export function countOf(plan: PlanItem[]): MigrateReport["counts"] {
  const counts = { add: 0, update: 0, unchanged: 0, conflict: 0, error: 0 };
  for (const p of plan) counts[p.action]++;
  return counts;
}

/** Migrates reservation groups; see the module comment for how subnets are chosen. */
export async function migrateKea(
  input: { source: string; group: ReservationGroup }[],
  options: MigrateOptions,
): Promise<MigrateReport> {
  const log = options.log ?? (() => {});
  if (!options.dbUrl && !options.apiUrls?.length) {
    throw new TypeError("Give --db (Kea's host database) or --api (control agents with host_cmds)");
  }
  const kea: KeaClient = createKeaClient({
    // Without a database, "auto" asks the first control agent for host_cmds before anything else.
    mode: options.dbUrl ? "pgsql" : "auto",
    servers: options.apiUrls ?? [],
    port: 8000,
    dbUrl: options.dbUrl,
    fetch: options.fetch,
  });
  try {
    if (!options.dbUrl) {
      await kea.backend().catch((e) => {
        if (!(e instanceof HostCmdsMissing)) throw e;
        throw new TypeError(
          `Kea at ${e.server} cannot write reservations through its control API (no host_cmds ` +
            `hook): use --db with Kea's host database instead, e.g. --db postgres://kea@db.example.org/kea`,
        );
      });
    }
    // 1. Every reservation with its subnet, validated.
    let plan: PlanItem[] = [];
    for (const { source, group } of input) {
      for (const [i, r] of group.reservations.entries()) {
        const item: PlanItem = { action: "add", reservation: r, source: `${source}#${i}` };
        try {
          checkReservation(r);
          item.subnetId = r.subnetId ?? group.subnetId ?? options.subnetId ??
            await kea.subnetFor(r.ip);
        } catch (e) {
          if (e instanceof TypeError || e instanceof RangeError) {
            item.action = "error";
            item.reason = e.message;
          } else throw e;
        }
        plan.push(item);
      }
    }
    plan = checkInput(plan);
    const subnetIds = [...new Set(plan.flatMap((p) => p.subnetId ?? []))];

    const result = options.dbUrl
      ? await migrateDb(plan, subnetIds, options)
      : await migrateApi(plan, kea, options);
    const counts = countOf(plan);
    for (const p of plan) {
      if (options.dryRun || p.action !== "unchanged") log(planLine(p));
    }
    for (const f of result.verifyFailures) log(`verify    ${f}`);
    const summary = `migrate-kea${
      options.dryRun ? " (dry run)" : ""
    }: ${plan.length} reservations in ${subnetIds.length} subnet(s): ${counts.add} ${
      options.dryRun ? "to add" : "added"
    }, ${counts.update} ${
      options.dryRun ? "to update" : "updated"
    }, ${counts.unchanged} unchanged, ${counts.conflict} conflicts, ${counts.error} errors${
      options.dryRun
        ? ""
        : `; read back ${result.verified}/${
          plan.filter((p) => p.action !== "conflict" && p.action !== "error").length
        } verified`
    }`;
    return {
      plan,
      counts,
      verified: result.verified,
      verifyFailures: result.verifyFailures,
      summary,
      ok: counts.conflict === 0 && counts.error === 0 && result.verifyFailures.length === 0,
    };
  } finally {
    await kea.close();
  }
}

export const wanted = (plan: PlanItem[]) =>
  plan.filter((p) => p.action === "add" || p.action === "update" || p.action === "unchanged");

export function verify(plan: PlanItem[], stored: Reservation[]) {
  const byMac = new Map(stored.map((h) => [key(h.subnetId!, h.mac), h]));
  const failures: string[] = [];
  let verified = 0;
  for (const p of wanted(plan)) {
    const got = byMac.get(key(p.subnetId!, p.reservation.mac));
    if (got && reservationKey(got) === reservationKey(p.reservation)) verified++;
    else {
      failures.push(
        `${p.reservation.mac} in subnet ${p.subnetId}: ${got ? "differs" : "missing"} after write`,
      );
    }
  }
  return { verified, verifyFailures: failures };
}

export async function migrateDb(plan: PlanItem[], subnetIds: number[], options: MigrateOptions) {
  const dbUrl = options.dbUrl!;
  const sql = connectKeaDb(dbUrl, { max: 2 });
  try {
    if (options.dryRun) {
      planAgainst(plan, await readHosts(sql, subnetIds));
      return { verified: 0, verifyFailures: [] };
    }
    await sql.begin(async (tx) => {
      // Registrations writing meanwhile wait: the plan stays true until commit.
      await tx`LOCK TABLE hosts IN SHARE ROW EXCLUSIVE MODE`;
      const existing = await readHosts(tx, subnetIds);
      planAgainst(plan, existing);
      const byMac = new Map(existing.map((h) => [key(h.subnetId, h.mac), h]));
      const updates = plan.filter((p) => p.action === "update");
      // Free the addresses of moved hosts first so that nothing transiently holds two IPs.
      for (const p of updates) {
        const old = byMac.get(key(p.subnetId!, p.reservation.mac))!;
        await updateHost(tx, old.hostId, p.reservation, p.subnetId!);
      }
      const adds = plan.filter((p) => p.action === "add")
        .map((p) => ({ reservation: p.reservation, subnetId: p.subnetId! }));
      if (options.perRow) {
        for (const a of adds) await insertHosts(tx, [a], 1);
      } else {
        await insertHosts(tx, adds, options.batchSize);
      }
    });
    return verify(plan, await readHosts(sql, subnetIds));
  } catch (e) {
    throw e instanceof TypeError ? e : dbError(dbUrl, "migrate", e);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export async function migrateApi(plan: PlanItem[], kea: KeaClient, options: MigrateOptions) {
  const stored: Reservation[] = [];
  const work = plan.filter((p) => p.action === "add");
  let next = 0;
  // A few requests at a time: the control agent handles commands one by one.
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next < work.length) {
      const p = work[next++];
      const r = { ...p.reservation, subnetId: p.subnetId };
      try {
        if (options.dryRun) {
          const mine = (await kea.findByMac(r.mac)).find((h) => h.subnetId === p.subnetId);
          const holder = await kea.findByIp(r.ip, p.subnetId!);
          if (holder && holder.mac !== r.mac) {
            p.action = "conflict";
            p.reason = `${r.ip} is already reserved for ${holder.mac}${
              holder.hostname ? ` (${holder.hostname})` : ""
            }`;
          } else if (mine) p.action = sameReservation(mine, r) ? "unchanged" : "update";
          continue;
        }
        const { results } = await kea.reserve(r);
        const failed = results.filter((x) => x.outcome === "failed");
        if (failed.length) {
          p.action = "error";
          p.reason = failed.map((f) => `${f.server}: ${f.message}`).join("; ");
        } else {
          p.action = results.some((x) => x.outcome === "updated")
            ? "update"
            : results.some((x) => x.outcome === "added")
            ? "add"
            : "unchanged";
        }
      } catch (e) {
        p.action = e instanceof ReservationConflict ? "conflict" : "error";
        p.reason = (e as Error).message;
      }
    }
  }));
  if (options.dryRun) return { verified: 0, verifyFailures: [] };
  for (const p of wanted(plan)) {
    stored.push(
      ...(await kea.findByMac(p.reservation.mac)).filter((h) => h.subnetId === p.subnetId),
    );
  }
  return verify(plan, stored);
}
