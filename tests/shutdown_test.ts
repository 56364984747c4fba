/**
 * Graceful shutdown of the real process: SIGTERM in the middle of a Metal3 step lets the step
 * finish (within ONBOARDING_SHUTDOWN_TIMEOUT), closes WebSockets with a close frame and exits 0.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { serveFake } from "../sim/faults.ts";
import { createSimulatedWorld } from "../sim/world.ts";
import type { Registration } from "../lib/state/store.ts";

const SERVER = {
  bmc_mac: "3c:ec:ef:40:00:01",
  bmc_password: "pw-shutdown",
  site: "dcoa",
  location: "hall-a",
  rack: "RB06",
  position: 17,
  device_type: "sys-1029u",
  device_role: "server",
};

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The service as a subprocess against served simulators; the Metal3 apply takes `applyMs`. */
async function startService(options: { applyMs: number; shutdownTimeout: number }) {
  const world = createSimulatedWorld();
  world.kubernetes.faults.add({
    match: "PATCH /apis/metal3.io/v1alpha1/namespaces/metal3/baremetalhosts/",
    delayMs: options.applyMs,
  });
  const servers = [
    serveFake(world.netbox.handler),
    serveFake(world.openbao.handler),
    serveFake(world.kea[0].handler),
    serveFake(world.kea[1].handler),
    serveFake(world.kubernetes.handler),
  ];
  const [netbox, openbao, kea1, kea2, kube] = servers;
  const dir = await Deno.makeTempDir({ prefix: "onboarding-shutdown-" });
  await Deno.writeTextFile(
    `${dir}/kubeconfig`,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "test",
      clusters: [{ name: "test", cluster: { server: kube.url } }],
      users: [{ name: "test", user: { token: "test-token" } }],
      contexts: [{ name: "test", context: { cluster: "test", user: "test" } }],
    }),
  );
  const port = freePort();
  const kvPath = `${dir}/onboarding.kv`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts"],
    env: {
      ONBOARDING_PORT: String(port),
      ONBOARDING_HOSTNAME: "127.0.0.1",
      ONBOARDING_KV_PATH: kvPath,
      ONBOARDING_NETBOX_URL: netbox.url,
      ONBOARDING_NETBOX_TOKEN: world.netbox.token,
      ONBOARDING_OPENBAO_URL: openbao.url,
      ONBOARDING_OPENBAO_ROLE_ID: world.openbao.roleId,
      ONBOARDING_OPENBAO_SECRET_ID: world.openbao.secretId,
      ONBOARDING_KEA_SERVERS: JSON.stringify([kea1.url, kea2.url]),
      ONBOARDING_KEA_MODE: "api",
      ONBOARDING_BMC_CHECK: "false",
      ONBOARDING_BMC_PREFIX: "10.16.28.0/24",
      ONBOARDING_BMC_DRIVER: "redfish-virtualmedia",
      ONBOARDING_SHUTDOWN_TIMEOUT: String(options.shutdownTimeout),
      ONBOARDING_LOG_LEVEL: "info",
      KUBECONFIG: `${dir}/kubeconfig`,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]).then(([o, e]) => o + e);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      await r.body?.cancel();
      if (r.ok) break;
    } catch { /* not yet */ }
    if (i > 300) throw new Error(`server did not start: ${await output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    world,
    child,
    base,
    port,
    output,
    async readRecord(id: string): Promise<Registration | null> {
      const kv = await Deno.openKv(kvPath);
      try {
        return (await kv.get<Registration>(["registrations", id])).value;
      } finally {
        kv.close();
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.status;
      await output;
      await Promise.all(servers.map((s) => s[Symbol.asyncDispose]()));
      world.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Registers SERVER and waits until its Metal3 step is running. */
async function registerUntilMetal3Runs(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/servers/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(SERVER),
  });
  const body = await res.json();
  assertEquals(res.status, 202, JSON.stringify(body));
  for (let i = 0; i < 200; i++) {
    const s = await (await fetch(`${base}/api/v1/servers/${body.id}/status`)).json();
    if (s.steps.metal3.status === "running") return body.id;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the Metal3 step never ran");
}

function openEvents(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/events`);
  const opened = new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  return { opened, closed };
}

Deno.test("SIGTERM mid-step: the step finishes, WebSockets get a close frame, the process exits 0", async () => {
  await using svc = await startService({ applyMs: 1500, shutdownTimeout: 15 });
  const events = openEvents(svc.port);
  await events.opened;
  const id = await registerUntilMetal3Runs(svc.base);
  const started = Date.now();
  svc.child.kill("SIGTERM");
  const close = await events.closed;
  assertEquals([close.code, close.wasClean], [1001, true], "a close frame, going away");
  const status = await svc.child.status;
  const output = await svc.output;
  assertEquals(status.code, 0, output);
  assert(Date.now() - started < 15_000, "within the bound");
  assert(output.includes("shutting down"), output);
  const record = await svc.readRecord(id);
  assertEquals(record?.status, "ok", JSON.stringify(record?.steps));
  assert(svc.world.kubernetes.state.bareMetalHosts("metal3").length === 1, "host applied");
});

Deno.test("SIGTERM with a step longer than ONBOARDING_SHUTDOWN_TIMEOUT: exits 0 at the bound, the run resumes later", async () => {
  await using svc = await startService({ applyMs: 4000, shutdownTimeout: 1 });
  const id = await registerUntilMetal3Runs(svc.base);
  const started = Date.now();
  svc.child.kill("SIGTERM");
  const status = await svc.child.status;
  const output = await svc.output;
  assertEquals(status.code, 0, output);
  assert(Date.now() - started < 5000, `exited after ${Date.now() - started} ms`);
  assert(output.includes("unfinished registrations resume on the next start"), output);
  assertEquals((await svc.readRecord(id))?.status, "running", "left for the next start");
});
