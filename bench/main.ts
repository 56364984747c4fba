/**
 * `deno task bench`: measures registration latency, bulk import throughput, migrate-kea, the
 * server list, the PWA's weight and decode time, and the server's memory — each beside a baseline
 * in the same run — prints a table, writes `bench-results.json` and says which targets are met.
 * Each section is its own module in this folder; `--help` lists the options.
 */
import { benchDrift } from "./drift.ts";
import { benchImport } from "./import.ts";
import { benchList } from "./list.ts";
import { benchViews } from "./views.ts";
import { benchMemory } from "./memory.ts";
import { benchMigrate } from "./migrate.ts";
import { benchLabels, benchPwa } from "./pwa.ts";
import { benchRegistration } from "./registration.ts";
import { benchReplicas } from "./replicas.ts";
import { fmtS, machine, markdownTable, results, row, rows, textTable } from "./report.ts";

const SECTIONS: Record<string, () => Promise<void>> = {
  registration: benchRegistration,
  import: benchImport,
  drift: benchDrift,
  migrate: benchMigrate,
  list: benchList,
  views: benchViews,
  pwa: benchPwa,
  labels: benchLabels,
  memory: benchMemory,
  replicas: benchReplicas,
};

const USAGE = `Usage: deno task bench [options]

Measures registration latency, bulk import throughput, migrate-kea, the server list, the PWA's
weight and decode time and the server's memory; prints a table and writes bench-results.json.

Options:
  --only=SECTIONS   run only these sections, comma-separated, from
                    ${Object.keys(SECTIONS).join(", ")}; e.g. --only=registration,import
  --markdown FILE   also write the table as Markdown, e.g. --markdown docs/bench.md
  -h, --help        show this help

Examples:
  deno task bench
  deno task bench --only=pwa --markdown /tmp/pwa.md`;

async function main(args: string[]) {
  if (args.includes("--help") || args.includes("-h")) return console.log(USAGE);
  const unknown = args.find((a) => a.startsWith("-") && !/^--(only=|markdown$)/.test(a));
  if (unknown) {
    console.error(`bench: unknown option ${unknown}\nRun deno task bench --help for every option.`);
    Deno.exit(2);
  }
  const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
  const wrong = only?.find((s) => !(s in SECTIONS));
  if (wrong) {
    console.error(
      `bench: --only: no section '${wrong}'; the sections are ${Object.keys(SECTIONS).join(", ")}`,
    );
    Deno.exit(2);
  }
  if (args.includes("--markdown") && !args[args.indexOf("--markdown") + 1]) {
    console.error("bench: --markdown needs a FILE, e.g. --markdown docs/bench.md");
    Deno.exit(2);
  }
  const started = performance.now();
  const loadAtStart = Deno.loadavg()[0];
  for (const [name, run] of Object.entries(SECTIONS)) {
    if (only && !only.includes(name)) continue;
    console.error(`▶ ${name}`);
    const t0 = performance.now();
    try {
      await run();
    } catch (e) {
      row({ section: name, measure: "error", value: (e as Error).message, met: null });
    }
    console.error(`  (${fmtS(performance.now() - t0)})`);
  }
  const totalMs = performance.now() - started;
  const info = { ...await machine(), loadAtStart };
  const ranOn = `${info.cpu}, ${info.cpus} CPUs, ${info.memoryGb} GB; load average ${
    loadAtStart.toFixed(1)
  } at the start, ${info.loadAverage.map((n) => n.toFixed(1)).join(" ")} (1, 5, 15 min) at the end`;
  console.log(`\n${textTable()}\n`);
  const met = rows.filter((r) => r.met === true).length;
  const targets = rows.filter((r) => r.met !== undefined).length;
  console.log(
    `${met} of ${targets} targets met · ${fmtS(totalMs)} · ${ranOn}`,
  );
  await Deno.writeTextFile(
    "bench-results.json",
    JSON.stringify({ machine: info, totalMs, rows, results }, null, 2) + "\n",
  );
  const mdIndex = args.indexOf("--markdown");
  if (mdIndex >= 0 && args[mdIndex + 1]) {
    await Deno.writeTextFile(args[mdIndex + 1], `Ran on ${ranOn}.\n\n${markdownTable()}\n`);
  }
  console.log("Wrote bench-results.json");
}

if (import.meta.main) await main(Deno.args);
