/** `deno task import` as a subprocess against the real app on the simulated datacenter. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp } from "./app_harness.ts";

async function runCli(args: string[], stdin: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "import", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("deno task import: imports through the app's WebSocket, prints the outcome, exit 1 when one failed", async () => {
  await using t = await startTestApp();
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    t.app.fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const bad = {
    device_name: "dcoa-rb07u13",
    bmc_mac: "3c:ec:ef:a1:9c:f1",
    bmc_password: "pw-cli-3",
    bmc_ip: "10.99.0.1",
  };

  const ok = await runCli(
    ["-", "--server", url, "--json"],
    JSON.stringify([FULL_ITEM, MINIMAL_ITEM]),
  );
  assertEquals(ok.code, 0, ok.stderr);
  const results = JSON.parse(ok.stdout);
  assertEquals(
    results.map((r: { device_name: string; status: string }) => [r.device_name, r.status]),
    [
      ["dcoa-rb06u31", "ok"],
      ["dcoa-rb07u12", "ok"],
    ],
  );

  // 10.99.0.1 is outside the BMC networks: that server fails before any step, the others are ok.
  const mixed = await runCli(["-", "--server", url], JSON.stringify([FULL_ITEM, bad]));
  assertEquals(mixed.code, 1, mixed.stderr);
  const lines = mixed.stdout.trim().split("\n");
  assert(lines.some((l) => l.includes("dcoa-rb06u31") && l.includes("ok")), mixed.stdout);
  assert(lines.some((l) => l.includes("dcoa-rb07u13") && l.includes("failed")), mixed.stdout);
  for (const p of [FULL_ITEM.bmc_password, bad.bmc_password]) {
    assert(!mixed.stdout.includes(p) && !mixed.stderr.includes(p), "no password printed");
  }

  const dry = await runCli(
    ["-", "--dry-run"],
    JSON.stringify([FULL_ITEM, { ...bad, bmc_mac: "nope" }]),
  );
  assertEquals(dry.code, 1, dry.stdout + dry.stderr);
  assert((dry.stdout + dry.stderr).includes("bmc_mac"));

  // With a server, --dry-run is the API's pre-flight: a MAC already registered is refused, and
  // nothing is written.
  const before = t.world.netbox.devices.size;
  const preflight = await runCli(
    ["-", "--server", url, "--dry-run", "--json"],
    JSON.stringify([
      { ...FULL_ITEM, device_name: "dcoa-rb06u40", position: 40 },
      { ...FULL_ITEM, device_name: "dcoa-rb06u35", position: 35, bmc_mac: "3c:ec:ef:a1:9c:f9" },
    ]),
  );
  assertEquals(preflight.code, 1, preflight.stderr);
  const rows = JSON.parse(preflight.stdout);
  assertEquals(rows.map((r: { status: string }) => r.status), ["failed", "ready"]);
  assert(rows[0].error.includes("dcoa-rb06u31"), rows[0].error);
  assert(preflight.stderr.includes("1 of 2 servers ready, 1 refused; nothing written"));
  assertEquals(t.world.netbox.devices.size, before);
});
