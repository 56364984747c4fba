/**
 * The command-line scripts as a person meets them: --help explains every option with an example,
 * a missing option or file is one clear line naming the flag, migrate-kea stops at once against
 * a Kea without host_cmds.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { prettyLine } from "../lib/observability/log.ts";
import { createFakeKea } from "../sim/kea.ts";

const DATA = new URL("./testdata/kea/", import.meta.url).pathname;

/** Runs a script as a command; the environment carries nothing of ours. */
async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL(`../scripts/${script}`, import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("migrate-kea --help describes every option with an example", async () => {
  const r = await run("migrate_kea.ts", ["--help"]);
  assertEquals(r.code, 0, r.stderr);
  for (const option of ["--db", "--api", "--subnet-id", "--dry-run", "--per-row", "--verbose"]) {
    assert(r.stdout.includes(`  ${option}`), `${option} not described`);
  }
  assert(r.stdout.includes("e.g. --db postgres://kea:"), r.stdout);
  assert(r.stdout.includes("Examples:\n  deno task migrate-kea --db postgres://"), r.stdout);
});

Deno.test("migrate-kea names a missing --db, and a missing file in one line", async (t) => {
  await t.step("no --db nor --api", async () => {
    const r = await run("migrate_kea.ts", ["--dry-run", `${DATA}bmc-reservations.json`]);
    assertEquals(r.code, 2);
    assert(r.stderr.startsWith("migrate-kea: --db is required ("), r.stderr);
    assert(r.stderr.includes("also for --dry-run"), r.stderr);
    assert(!r.stderr.includes("KEA_DB_URL is"), r.stderr);
  });
  await t.step("a file that is not there", async () => {
    const r = await run("migrate_kea.ts", ["--db", "postgres://kea@127.0.0.1:1/kea", "nope.json"]);
    assertEquals(r.code, 2);
    assertEquals(r.stderr, "migrate-kea: Cannot read nope.json: no such file\n");
  });
  await t.step("an unknown option", async () => {
    const r = await run("migrate_kea.ts", ["--bogus"]);
    assertEquals(r.code, 2);
    assert(r.stderr.includes("--bogus") && r.stderr.includes("--help"), r.stderr);
  });
});

Deno.test("migrate-kea --api against a Kea without host_cmds stops after the first answer", async () => {
  const kea = createFakeKea({ hostCmds: false });
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    kea.handler,
  );
  const r = await run("migrate_kea.ts", [
    "--api",
    `http://127.0.0.1:${server.addr.port}/`,
    `${DATA}bmc-reservations.json`,
  ]);
  assertEquals(r.code, 2, r.stdout);
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert(r.stderr.includes("no host_cmds hook): use --db"), r.stderr);
  assert(!r.stderr.includes("KEA_DB_URL"), r.stderr);
  assertEquals(kea.commands.map((c) => c.command), ["list-commands"]);
});

Deno.test("merge-import: a missing input file is one line", async () => {
  const r = await run("merge_import.ts", ["nope.yaml", `${DATA}bmc-reservations.json`]);
  assertEquals(r.code, 2);
  assertEquals(r.stderr, "Cannot read nope.yaml: no such file\n");
});

Deno.test("bench --help describes every option; an unknown section names the choices", async () => {
  const help = await run("../bench/main.ts", ["--help"]);
  assertEquals(help.code, 0, help.stderr);
  for (const option of ["--only=SECTIONS", "--markdown FILE", "--help"]) {
    assert(help.stdout.includes(option), option);
  }
  assert(help.stdout.includes("e.g. --only=registration,import"), help.stdout);
  const wrong = await run("../bench/main.ts", ["--only=nope"]);
  assertEquals(wrong.code, 2);
  assert(wrong.stderr.includes("no section 'nope'; the sections are registration"), wrong.stderr);
});

Deno.test("the demo reports a busy port before starting anything, naming ONBOARDING_PORT", async () => {
  using held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../demo.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: {
      NO_COLOR: "1",
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ONBOARDING_PORT: String(port),
      ONBOARDING_HOSTNAME: "127.0.0.1",
    },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 1, stdout + stderr);
  assert(stderr.includes(`Port ${port} on 127.0.0.1 is already in use`), stderr);
  assert(stderr.includes("set ONBOARDING_PORT to a free port"), stderr);
  assertEquals(stdout, "", "nothing started (no Kea, no log lines)");
});

Deno.test("prettyLine() turns a JSON log line into a short line for a person", () => {
  assertEquals(
    prettyLine(JSON.stringify({
      time: "2026-12-06T23:27:04.123Z",
      level: "warn",
      msg: "kea is not configured: its step will be skipped",
      integration: "kea",
      port: 8000,
    })),
    "23:27:04 WARN  kea is not configured: its step will be skipped  integration=kea  port=8000",
  );
  assertEquals(prettyLine("not json"), "not json");
});
