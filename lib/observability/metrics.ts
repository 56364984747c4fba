/**
 * Prometheus metrics with `prom-client`, one registry per app. Every label takes its value from a
 * closed set chosen here or in code (never raw request input), so series cannot grow without bound.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** `GET`…`OPTIONS`, else `other` (a client may send any token as a method). */
export function methodLabel(method: string): string {
  return METHODS.has(method) ? method : "other";
}

/** `2xx`…`5xx`, else `other`. */
export function statusClass(status: number): string {
  return status >= 100 && status <= 599 ? `${Math.floor(status / 100)}xx` : "other";
}

/** The service's metrics; one instance per app. */
export class Metrics {
  readonly #registry = new Registry();
  readonly #registrations = new Counter({
    name: "onboarding_registrations_total",
    help: "Registrations finished, by outcome.",
    labelNames: ["outcome"],
    registers: [this.#registry],
  });
  readonly #stepDuration = new Histogram({
    name: "onboarding_step_duration_seconds",
    help: "Workflow step durations.",
    labelNames: ["step", "status"],
    buckets: BUCKETS,
    registers: [this.#registry],
  });
  readonly #callDuration = new Histogram({
    name: "onboarding_external_call_duration_seconds",
    help: "External call latency by integration and operation.",
    labelNames: ["integration", "operation"],
    buckets: BUCKETS,
    registers: [this.#registry],
  });
  readonly #callErrors = new Counter({
    name: "onboarding_external_call_errors_total",
    help: "External calls that failed, by integration and HTTP status (0 = network).",
    labelNames: ["integration", "status"],
    registers: [this.#registry],
  });
  readonly #httpRequests = new Counter({
    name: "onboarding_http_requests_total",
    help: "HTTP requests served, by method, route pattern and status class.",
    labelNames: ["method", "route", "status"],
    registers: [this.#registry],
  });

  readonly #driftFindings = new Gauge({
    name: "onboarding_drift_findings",
    help: "Findings of the last drift check, by system and kind (unknown objects included).",
    labelNames: ["system", "kind"],
    registers: [this.#registry],
  });

  /** The exposition format's content type. */
  readonly contentType: string = this.#registry.contentType;

  registration(outcome: string) {
    this.#registrations.inc({ outcome });
  }
  stepDuration(step: string, status: string, ms: number) {
    this.#stepDuration.observe({ step, status }, ms / 1000);
  }
  observeCall(integration: string, operation: string, status: number, ms: number) {
    this.#callDuration.observe({ integration, operation }, ms / 1000);
    if (status === 0 || status >= 400) {
      // Statuses come from upstream answers: anything outside HTTP's range counts as `other`.
      const label = status === 0 || (status >= 400 && status <= 599) ? String(status) : "other";
      this.#callErrors.inc({ integration, status: label });
    }
  }
  /** `route` is the matched route pattern (from the code), never the request path. */
  httpRequest(method: string, route: string, status: number) {
    this.#httpRequests.inc({
      method: methodLabel(method),
      route,
      status: statusClass(status),
    });
  }

  /** Replaces the drift gauge with the last check's counts (kinds from the code's closed list). */
  driftFindings(counts: { system: string; kind: string; count: number }[]) {
    this.#driftFindings.reset();
    for (const c of counts) this.#driftFindings.set({ system: c.system, kind: c.kind }, c.count);
  }

  render(): Promise<string> {
    return this.#registry.metrics();
  }
}
