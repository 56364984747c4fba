/**
 * `deno task start` as a user runs it from a fresh clone: with ONBOARDING_KV_PATH outside ./data
 * (an existing directory, or one still to be created) the server starts, listens and keeps its
 * registrations in that file.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { freeTcpPort } from "./kea_harness.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** The start task's command without its `deno task build &&` prefix (the suite builds once). */
function startCommand(): string {
  const task = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.start as string;
  const m = task.match(/^deno task build && (deno run .* main\.ts)$/);
  if (!m) throw new Error(`Unexpected start task: ${task}`);
  return m[1];
}

async function startWith(kvPath: string): Promise<{ ok: boolean; output: string }> {
  const port = freeTcpPort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("ONBOARDING_")) env[k] = v;
  }
  Object.assign(env, {
    NO_COLOR: "1",
    ONBOARDING_PORT: String(port),
    ONBOARDING_HOSTNAME: "127.0.0.1",
    ONBOARDING_KV_PATH: kvPath,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--eval", startCommand()],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decode = (s: typeof child.stdout) =>
    (async () => {
      for await (const chunk of s.pipeThrough(new TextDecoderStream())) output += chunk;
    })();
  const reading = Promise.all([decode(child.stdout), decode(child.stderr)]);
  let exited = false;
  child.status.then(() => exited = true);
  let ok = false;
  try {
    const deadline = Date.now() + 60_000;
    while (!exited && Date.now() < deadline) {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
      if (res) {
        await res.body?.cancel();
        ok = res.ok;
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    // `deno task` runs the server as its child: end the whole group it leads.
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
    }
    await child.status;
    await reading;
  }
  return { ok, output: output.slice(-3000) };
}

Deno.test("deno task start uses ONBOARDING_KV_PATH outside ./data", async (t) => {
  const tmp = await Deno.makeTempDir({ prefix: "start-task-" });
  try {
    await t.step("in an existing directory", async () => {
      const kvPath = `${tmp}/onboarding.kv`;
      const run = await startWith(kvPath);
      assert(run.ok, `the server did not start:\n${run.output}`);
      assert((await Deno.stat(kvPath)).isFile, "the KV file is where ONBOARDING_KV_PATH says");
    });
    await t.step("in a directory that does not exist yet", async () => {
      const kvPath = `${tmp}/new/state/onboarding.kv`;
      const run = await startWith(kvPath);
      assert(run.ok, `the server did not start:\n${run.output}`);
      assertEquals((await Deno.stat(kvPath)).isFile, true);
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the image runs the service with the V8 flags of deno task start, as the bench does", () => {
  const flags = (text: string) => text.match(/--v8-flags=[^\s"]+/g);
  const start = flags(startCommand());
  assert(start?.length === 1, "deno task start sets the service's heap (docs/bench.md)");
  assertEquals(flags(Deno.readTextFileSync(`${ROOT}Dockerfile`)), start);
});
