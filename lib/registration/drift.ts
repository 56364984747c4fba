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
