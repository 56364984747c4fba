/** Bench section: migrate-kea of 100,000 reservations into Kea's PostgreSQL host database. */
import postgres from "postgres";
import { benchMac } from "./harness.ts";
import { childrenCpuSeconds, fmtS, postgresCpuSeconds, results, row } from "./report.ts";

/** A Kea reservations file of `count` BMC hosts from 10.20.1.0 on (subnet 7), like a real site's. */
function reservationsFile(count: number): string {
  return JSON.stringify({
    reservations: Array.from({ length: count }, (_, i) => ({
      "hw-address": benchMac(i, "02:c0:00"),
      "ip-address": `10.${20 + ((i + 256) >> 16)}.${((i + 256) >> 8) & 255}.${(i + 256) & 255}`,
      hostname: `node-${String(i).padStart(6, "0")}-bmc`,
      ...(i % 10 === 0
        ? { "option-data": [{ name: "domain-name-servers", data: "10.20.0.53" }] }
        : {}),
    })),
  });
}

/**
 * `deno task migrate-kea` as an operator runs it (its own process, Deno's start-up included), and
 * the counts of its summary line.
 */
async function migrateKeaCli(dbUrl: string, file: string, perRow: boolean) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "scripts/migrate_kea.ts",
      "--db",
      dbUrl,
      "--subnet-id",
      "7",
      ...(perRow ? ["--per-row"] : []),
      file,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const summary = text.trim().split("\n").at(-1) ?? "";
  const count = (what: string) => Number(new RegExp(`(\\d+) ${what}`).exec(summary)?.[1] ?? 0);
  if (out.code === 2) throw new Error(`migrate-kea: ${new TextDecoder().decode(out.stderr)}`);
  return {
    ok: out.success,
    added: count("added"),
    unchanged: count("unchanged"),
    verified: Number(/read back (\d+)\//.exec(summary)?.[1] ?? 0),
  };
}

export async function benchMigrate() {
  const section = "migrate-kea (PostgreSQL)";
  const harness = await import("../tests/kea_harness.ts");
  const missing = harness.missingDependency();
  if (missing && missing !== "kea-dhcp4-server" && missing !== "kea-ctrl-agent") {
    results.migrate = { skipped: `apt-get install ${missing}` };
    row({
      section,
      measure: "100,000 reservations",
      value: `not available: install ${missing}`,
      target: "≤ 10 s",
      met: null,
    });
    return;
  }
  const count = 100_000;
  const dir = await Deno.makeTempDir({ prefix: "bench-migrate-" });
  const pg = await harness.startPostgres();
  try {
    const file = `${dir}/reservations.json`;
    await Deno.writeTextFile(file, reservationsFile(count));
    // One row per statement takes minutes at 100,000: the baseline runs the first 10,000.
    const baselineFile = `${dir}/baseline.json`;
    await Deno.writeTextFile(baselineFile, reservationsFile(10_000));
    const runOnce = async (db: string, perRow: boolean) => {
      const url = await harness.createDatabase(pg.url, db);
      await harness.keaDbInit(url);
      const pgCpu = await postgresCpuSeconds(url);
      const cpu = childrenCpuSeconds();
      const started = performance.now();
      const first = await migrateKeaCli(url, perRow ? baselineFile : file, perRow);
      const ms = performance.now() - started;
      const cpuS = childrenCpuSeconds() - cpu;
      await new Promise((r) => setTimeout(r, 200)); // its backends exit and are reaped
      const pgCpuS = await postgresCpuSeconds(url) - pgCpu;
      // The same input again: everything is read, planned unchanged and verified; nothing written.
      const again = performance.now();
      const rerun = await migrateKeaCli(url, perRow ? baselineFile : file, perRow);
      const rerunMs = performance.now() - again;
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const [{ n }] = await sql`SELECT count(*)::int AS n FROM hosts`;
      await sql.end({ timeout: 5 });
      return {
        ms,
        cpuS,
        pgCpuS,
        added: first.added,
        verified: first.verified,
        rows: n,
        ok: first.ok,
        rerunMs,
        rerunUnchanged: rerun.unchanged,
      };
    };
    const batched = await runOnce("bench_batched", false);
    const perRow = await runOnce("bench_per_row", true);
    results.migrate = { count, batched, perRow };
    row({
      section,
      measure: `${count.toLocaleString("en")} reservations (parse, write, read back)`,
      value: `${fmtS(batched.ms)}, ${batched.rows} rows, ${batched.verified} verified (${
        batched.cpuS.toFixed(1)
      } s CPU in migrate-kea + ${batched.pgCpuS.toFixed(1)} s in PostgreSQL)`,
      baseline: `${fmtS(perRow.ms)} for 10,000 one row per statement`,
      target: "≤ 10 s",
      met: batched.ms <= 10_000 && batched.ok,
    });
    row({
      section,
      measure: "the same file again (nothing to write, read back)",
      value: `${fmtS(batched.rerunMs)}, ${batched.rerunUnchanged} unchanged`,
    });
  } finally {
    await pg.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
