/** Prometheus metrics kept in memory and rendered in the text exposition format. */

type Labels = Record<string, string>;

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

function labelKey(labels: Labels): string {
  return Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "\\$&")}"`).join(
    ",",
  );
}

class Histogram {
  #series = new Map<string, { buckets: number[]; sum: number; count: number }>();
  observe(labels: Labels, seconds: number) {
    const key = labelKey(labels);
    let s = this.#series.get(key);
    if (!s) this.#series.set(key, s = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 });
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) s.buckets[i]++;
    });
    s.sum += seconds;
    s.count++;
  }
  render(name: string): string[] {
    const lines: string[] = [];
    for (const [key, s] of this.#series) {
      const sep = key ? "," : "";
      BUCKETS.forEach((b, i) =>
        lines.push(`${name}_bucket{${key}${sep}le="${b}"} ${s.buckets[i]}`)
      );
      lines.push(`${name}_bucket{${key}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${name}_sum{${key}} ${s.sum}`, `${name}_count{${key}} ${s.count}`);
    }
    return lines;
  }
}

class Counter {
  #series = new Map<string, number>();
  inc(labels: Labels, by = 1) {
    const key = labelKey(labels);
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }
  render(name: string): string[] {
    return [...this.#series].map(([key, v]) => `${name}{${key}} ${v}`);
  }
}

/** The service's metrics; one instance per app. */
export class Metrics {
  #registrations = new Counter();
  #stepDuration = new Histogram();
  #callDuration = new Histogram();
  #callErrors = new Counter();
  #httpRequests = new Counter();

  registration(outcome: string) {
    this.#registrations.inc({ outcome });
  }
  stepDuration(step: string, status: string, ms: number) {
    this.#stepDuration.observe({ step, status }, ms / 1000);
  }
  observeCall(integration: string, operation: string, status: number, ms: number) {
    this.#callDuration.observe({ integration, operation }, ms / 1000);
    if (status === 0 || status >= 400) {
      this.#callErrors.inc({ integration, status: String(status) });
    }
  }
  httpRequest(method: string, status: number) {
    this.#httpRequests.inc({ method, status: String(status) });
  }

  render(): string {
    const block = (name: string, type: string, help: string, lines: string[]) => [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      ...lines,
    ];
    return [
      ...block(
        "onboarding_registrations_total",
        "counter",
        "Registrations finished, by outcome.",
        this.#registrations.render("onboarding_registrations_total"),
      ),
      ...block(
        "onboarding_step_duration_seconds",
        "histogram",
        "Workflow step durations.",
        this.#stepDuration.render("onboarding_step_duration_seconds"),
      ),
      ...block(
        "onboarding_external_call_duration_seconds",
        "histogram",
        "External call latency by integration and operation.",
        this.#callDuration.render("onboarding_external_call_duration_seconds"),
      ),
      ...block(
        "onboarding_external_call_errors_total",
        "counter",
        "External calls that failed, by integration and HTTP status (0 = network).",
        this.#callErrors.render("onboarding_external_call_errors_total"),
      ),
      ...block(
        "onboarding_http_requests_total",
        "counter",
        "HTTP requests served, by method and status.",
        this.#httpRequests.render("onboarding_http_requests_total"),
      ),
    ].join("\n") + "\n";
  }
}
