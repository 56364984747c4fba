/**
 * `deno task demo` end to end: the demo server, run with the task's own permissions, registers a
 * server through the API; with Kea installed its real Kea 2.2 then offers the BMC the reserved IP.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { discover } from "./dhcp_client.ts";
import { freeTcpPort, freeUdpPort, keaAvailable } from "./kea_harness.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// A giaddr no other test file uses: the DHCP client binds giaddr:67.
const RELAY = "127.0.5.1";

const SERVER = {
  device_name: "dcoa-rb06u33",
  bmc_mac: "3C:EC:EF:D3:00:33",
  bmc_password: "Dem0-pass-33",
  site: "dcoa",
  location: "hall-a",
  rack: "RB06",
  position: 33,
  device_type: "sys-1029u",
  device_role: "server",
  bmc_ip: "10.16.28.33",
};

/** `deno run …` exactly as the demo task runs it (without its `deno task build &&` prefix). */
function demoTaskArgs(): string[] {
  const task = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks.demo as string;
  const m = task.match(/^deno task build && deno (run .* demo\.ts)$/);
  if (!m) throw new Error(`Unexpected demo task: ${task}`);
  return m[1].split(/\s+/);
}

/** Processes whose command line mentions `text` (the demo's TMPDIR holds all its Kea/PG dirs). */
async function processesMentioning(text: string): Promise<{ pid: number; cmd: string }[]> {
  const found: { pid: number; cmd: string }[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`)
      .then((s) => s.replaceAll("\0", " ").trim()).catch(() => "");
    if (cmd.includes(text)) found.push({ pid: Number(e.name), cmd });
  }
  return found;
}

Deno.test("deno task demo registers a server; real Kea 2.2 serves its reservation", async (t) => {
  const realKea = keaAvailable("the real-Kea part of tests/demo_test.ts");
  // Kea's and PostgreSQL's temp dirs land here, so their processes can be found by path; the
  // `postgres` user (when we are root) must be able to traverse it.
  const tmp = await Deno.makeTempDir({ dir: "/tmp", prefix: "demo-test-" });
  await Deno.chmod(tmp, 0o755);
  const port = freeTcpPort();
  const dhcpPort = freeUdpPort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("ONBOARDING_")) env[k] = v;
  }
  Object.assign(env, {
    TMPDIR: tmp,
    NO_COLOR: "1",
    ONBOARDING_PORT: String(port),
    ONBOARDING_HOSTNAME: "127.0.0.1",
    ONBOARDING_DEMO_KEA_DHCP_PORT: String(dhcpPort),
    ONBOARDING_DEMO_KEA_RELAY: RELAY,
  });
  const child = new Deno.Command(Deno.execPath(), {
    args: demoTaskArgs(),
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let stderr = "";
  const readOut = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop() ?? "";
      lines.push(...parts);
    }
    if (rest) lines.push(rest);
  })();
  const readErr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const output = () => `${lines.join("\n")}\n${stderr}`.slice(-4000);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 120_000;
    while (!lines.some((l) => l.includes("Demo running"))) {
      if (exited) throw new Error(`The demo exited early:\n${output()}`);
      if (Date.now() > deadline) throw new Error(`The demo did not start in 120 s:\n${output()}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    await t.step("one log line says which Kea the demo uses, with its DHCP port", () => {
      const keaLines = lines.filter((l) => l.includes('"kea":'));
      assertEquals(keaLines.length, 1, output());
      const line = JSON.parse(keaLines[0]);
      if (realKea) {
        assertEquals([line.kea, line.dhcpPort, line.relay], ["real", dhcpPort, RELAY], output());
        assert(/^Demo uses real Kea 2\.2\.\d+: .*UDP port \d+/.test(line.msg), line.msg);
        assert(String(line.check).includes("discover"), "says how to check a reservation");
      } else {
        assertEquals(line.kea, "simulated", output());
      }
    });

    await t.step({
      name: "the demo prints its Kea database URL, user included, for migrate-kea",
      ignore: !realKea,
      fn() {
        const line = lines.find((l) => l.includes("Kea's host database: "));
        assert(line, output());
        assert(/postgres:\/\/postgres:[^@\s]+@127\.0\.0\.1:\d+\/kea_demo/.test(line), line);
        assert(lines.some((l) => l.includes("deno task migrate-kea --db 'postgres://")), output());
      },
    });

    await t.step("the banner says which Kea runs", async () => {
      const html = await (await fetch(`${base}/`)).text();
      const banner = realKea
        ? "Demo mode: simulated Netbox, OpenBao and Metal3, real Kea 2.2"
        : "Demo mode: simulated Netbox, OpenBao and Metal3, simulated Kea";
      assert(html.includes(banner), html.match(/Demo mode[^<]*/)?.[0] ?? "no demo banner");
    });

    let id = "";
    await t.step("importing one server with bmc_ip over the API completes every step", async () => {
      const res = await fetch(`${base}/api/v1/servers/import`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify([SERVER]),
      });
      const body = await res.json();
      assertEquals(res.status, 200, JSON.stringify(body));
      const [result] = body;
      assertEquals(result.status, "ok", JSON.stringify(result));
      assertEquals(result.steps, {
        netbox: "done",
        openbao: "done",
        kea: "done",
        metal3: "done",
      });
      assertEquals(result.bmc_ip, SERVER.bmc_ip);
      id = result.id;
      const detail = await (await fetch(`${base}/api/v1/servers/${id}`)).json();
      assertEquals(detail.status, "ok", JSON.stringify(detail));
    });

    await t.step({
      name: "the demo's real Kea offers the reserved IP to a relayed DISCOVER",
      ignore: !realKea,
      async fn() {
        const offer = await discover({
          port: dhcpPort,
          mac: SERVER.bmc_mac.toLowerCase(),
          giaddr: RELAY,
          timeoutMs: 3000,
        });
        assert(offer, `no OFFER from the demo's Kea:\n${output()}`);
        assertEquals([offer.yiaddr, offer.hostname], [SERVER.bmc_ip, "dcoa-rb06u33-bmc"]);
        const stranger = await discover({
          port: dhcpPort,
          mac: "3c:ec:ef:d3:00:99",
          giaddr: RELAY,
          timeoutMs: 1500,
        });
        assertEquals(stranger, null, "an unregistered MAC gets nothing (no pool)");
      },
    });

    await t.step("SIGTERM stops the demo and leaves no Kea or PostgreSQL behind", async () => {
      if (realKea) {
        const running = (await processesMentioning(tmp)).map((p) => p.cmd);
        assert(running.some((c) => c.includes("kea-dhcp4")), running.join("\n"));
        assert(running.some((c) => c.includes("postgres")), running.join("\n"));
      }
      child.kill("SIGTERM");
      const s = await status;
      // Graceful shutdown: work finishes, then a clean exit (was 143, killed by the signal).
      assertEquals(s.code, 0, output());
      assertEquals(await processesMentioning(tmp), []);
      assertEquals([...Deno.readDirSync(tmp)].map((e) => e.name), [], "temp dirs removed");
      assert(output().includes("Stopping the demo's Kea and PostgreSQL") || !realKea);
    });
  } finally {
    if (!exited) {
      child.kill("SIGTERM");
      const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 10_000);
      await status;
      clearTimeout(timer);
    }
    await Promise.all([readOut, readErr]);
    // Whatever a failure left behind must not outlive the test.
    for (const p of await processesMentioning(tmp)) {
      try {
        Deno.kill(p.pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
});
