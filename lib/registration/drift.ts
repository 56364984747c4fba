/**
 * Drift: what the service created for each server, compared with what Netbox, OpenBao, each Kea
 * server and Kubernetes hold now. Each difference is a typed finding (expected, found, repair);
 * objects in those systems that look like ours but have no record are reported as unknown and
 * never touched. Repairs re-run the registration step that owns the object (Engine.repairStep).
 * The checks per system are in drift/, the repair in drift/repair.ts; this module is their face.
 */
import { z } from "zod";
import type { Metrics } from "../observability/metrics.ts";
import type { EventBus } from "../state/events.ts";
import { checkDrift } from "./drift/check.ts";
import { repairDrift } from "./drift/repair.ts";
import { readDriftView, saveDriftReport, type ViewQuery } from "./drift/stored.ts";
import type { DriftView } from "../domain/drift.ts";
import {
  DRIFT_KINDS,
  type DriftDeps,
  type DriftKind,
  type DriftReport,
  type Finding,
  type RepairResult,
} from "./drift/types.ts";

export { checkDrift } from "./drift/check.ts";
export { repairable, repairDrift } from "./drift/repair.ts";
export { DRIFT_KINDS } from "./drift/types.ts";
export type {
  DriftDeps,
  DriftKind,
  DriftReport,
  DriftSystem,
  Finding,
  RepairResult,
} from "./drift/types.ts";

/**
 * Runs the drift check: on demand and every DRIFT_INTERVAL seconds in the background. Stores each
 * full check's report as the latest (drift/stored.ts), which every replica serves; exposes its
 * counts as `onboarding_drift_findings{system,kind}` and publishes a `drift` event when the
 * findings change.
 */
export class DriftMonitor {
  #timer?: ReturnType<typeof setInterval>;
  #running?: Promise<DriftReport>;

  constructor(
    readonly deps: DriftDeps & { metrics: Metrics; events: EventBus },
  ) {}

  /** A fresh check; a full one (no server) is stored as the latest. */
  async check(server?: string): Promise<DriftReport> {
    if (server) return await checkDrift(this.deps, { server });
    // Concurrent full checks (the timer and a person's request) share one run.
    this.#running ??= (async () => {
      const report = await checkDrift(this.deps);
      await this.#record(report);
      return report;
    })().finally(() => this.#running = undefined);
    return await this.#running;
  }

  /** A page of the latest stored check (any replica's), without reading any system. */
  async view(query: ViewQuery): Promise<DriftView> {
    return await readDriftView(this.deps.store.kv, query);
  }

  async repair(
    findings: Finding[],
    options: { force?: boolean; actor: string },
  ): Promise<RepairResult[]> {
    return await repairDrift(this.deps, findings, options);
  }

  async #record(report: DriftReport): Promise<void> {
    const changed = await saveDriftReport(this.deps.store.kv, report);
    const counts = new Map<DriftKind, number>();
    for (const f of report.findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
    this.deps.metrics.driftFindings(
      (Object.keys(DRIFT_KINDS) as DriftKind[]).map((kind) => ({
        system: DRIFT_KINDS[kind],
        kind,
        count: counts.get(kind) ?? 0,
      })),
    );
    if (changed) {
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

const kindSchema = z.enum(Object.keys(DRIFT_KINDS) as [DriftKind, ...DriftKind[]]);

/** `GET /api/v1/drift` query: filters and paging of the latest stored check. */
export const driftQuerySchema = z.object({
  server: z.string().trim().min(1).max(128).optional(),
  system: z.enum(["netbox", "openbao", "kea", "kubernetes"]).optional(),
  kind: kindSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  cursor: z.string().max(1000).optional(),
});

/** `POST /api/v1/drift/check`: a full check (stored as the latest), or one server's. */
export const driftCheckSchema = z.object({
  server: z.string().trim().min(1).max(128).optional(),
}).strict();

/**
 * Runs a check now: a full one answers with the first page of the stored result, one server's
 * with its whole report (not stored: the latest stays the last full check).
 */
export async function checkRequested(
  monitor: DriftMonitor,
  request: z.infer<typeof driftCheckSchema>,
): Promise<DriftView> {
  const report = await monitor.check(request.server);
  if (!request.server) return await monitor.view({});
  const kinds: DriftView["kinds"] = {};
  for (const f of report.findings) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
  return { ...report, kinds, total: report.findings.length, cursor: null };
}

/** `POST /api/v1/drift/repair`: which findings (none named = every one of the check). */
export const driftRepairSchema = z.object({
  server: z.string().trim().min(1).max(128).optional(),
  ids: z.array(z.string().min(1).max(512)).max(10_000).optional(),
  kind: kindSchema.optional(),
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
