/**
 * The results of one `deno task bench` run: the rows of the table (each beside its baseline and
 * target), the raw figures for `bench-results.json`, formatting, and the machine it ran on.
 */
import postgres from "postgres";
import { procStat } from "./processes.ts";

/** One line of the results table. */
export interface Row {
  section: string;
  measure: string;
  value: string;
  baseline?: string;
  target?: string;
  /** true/false when there is a target; null when it could not be measured. */
  met?: boolean | null;
}

export const rows: Row[] = [];
export const results: Record<string, unknown> = {};
export const MB = 1024 * 1024;

export function row(r: Row): void {
  rows.push(r);
  const status = r.met === undefined
    ? ""
    : r.met === null
    ? " [n/a]"
    : r.met
    ? " [met]"
    : " [NOT met]";
  console.error(
    `  ${r.section} · ${r.measure}: ${r.value}${
      r.baseline ? ` (baseline ${r.baseline})` : ""
    }${status}`,
  );
}

export const fmtMs = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
export const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const fmtMb = (bytes: number) => `${(bytes / MB).toFixed(0)} MB`;
export const fmtKb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** The table as Markdown. */
export function markdownTable(): string {
  const cell = (s: string) => s.replaceAll("|", "\\|");
  const lines = [
    "| Area | Measure | Result | Baseline | Target | Met |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    const met = r.met === undefined ? "" : r.met === null ? "n/a" : r.met ? "yes" : "**no**";
    lines.push(
      `| ${cell(r.section)} | ${cell(r.measure)} | ${cell(r.value)} | ${cell(r.baseline ?? "")} | ${
        cell(r.target ?? "")
      } | ${met} |`,
    );
  }
  return lines.join("\n");
}

/** The table for a terminal. */
export function textTable(): string {
  const head = ["Area", "Measure", "Result", "Baseline", "Target", "Met"];
  const body = rows.map((r) => [
    r.section,
    r.measure,
    r.value,
    r.baseline ?? "",
    r.target ?? "",
    r.met === undefined ? "" : r.met === null ? "n/a" : r.met ? "yes" : "NO",
  ]);
  const widths = head.map((h, i) =>
    Math.min(60, Math.max(h.length, ...body.map((b) => b[i].length)))
  );
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}

/** CPU seconds (user + system) of this process's child processes that have exited and been
 * waited for (`Deno.Command(…).output()` waits). */
export function childrenCpuSeconds(): number {
  const f = procStat("self");
  return (Number(f[13]) + Number(f[14])) / 100; // cutime, cstime
}

/** CPU seconds of a PostgreSQL server's exited backends (its postmaster's cutime + cstime). */
export async function postgresCpuSeconds(url: string): Promise<number> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [{ pid }] = await sql`SELECT pg_backend_pid() AS pid`;
    const postmaster = Number(procStat(pid)[1]);
    const f = procStat(postmaster);
    return (Number(f[13]) + Number(f[14])) / 100;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The machine the run took place on, and how busy it was. */
export async function machine() {
  const mem = /MemTotal:\s+(\d+)/.exec(await Deno.readTextFile("/proc/meminfo"))?.[1];
  const cpu = /model name\s*:\s*(.*)/.exec(await Deno.readTextFile("/proc/cpuinfo"))?.[1];
  return {
    date: new Date().toISOString(),
    cpus: navigator.hardwareConcurrency,
    cpu: cpu?.trim(),
    memoryGb: mem ? Math.round(Number(mem) / 1024 / 1024) : undefined,
    deno: Deno.version.deno,
    os: Deno.build.os,
    /** Other work on the machine during the run shows here (1, 5, 15 minutes). */
    loadAverage: Deno.loadavg(),
  };
}
