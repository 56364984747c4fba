/**
 * Graceful shutdown of the real process: SIGTERM in the middle of a Metal3 step lets the step
 * finish (within ONBOARDING_SHUTDOWN_TIMEOUT), closes WebSockets with a close frame and exits 0.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createSimulatedWorld } from "../sim/world.ts";
import type { Registration } from "../lib/state/store.ts";
import { freePort, serveWorld, spawnService, waitUntilUp } from "./service_process.ts";

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

/** The service as a subprocess against served simulators; the Metal3 apply takes `applyMs`. */
async function startService(options: { applyMs: number; shutdownTimeout: number }) {
  const world = createSimulatedWorld();
  world.kubernetes.faults.add({
    match: "PATCH /apis/metal3.io/v1alpha1/namespaces/metal3/baremetalhosts/",
    delayMs: options.applyMs,
  });
  const served = await serveWorld(world, { prefix: "onboarding-shutdown-" });
  const port = freePort();
  const kvPath = `${served.dir}/onboarding.kv`;
  const child = spawnService({
    ...served.env,
    ONBOARDING_PORT: String(port),
    ONBOARDING_KV_PATH: kvPath,
    ONBOARDING_BMC_PREFIX: "10.16.28.0/24",
    ONBOARDING_BMC_DRIVER: "redfish-virtualmedia",
    ONBOARDING_SHUTDOWN_TIMEOUT: String(options.shutdownTimeout),
    ONBOARDING_LOG_LEVEL: "info",
  });
  const output = Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]).then(([o, e]) => o + e);
  const base = `http://127.0.0.1:${port}`;
  await waitUntilUp(`${base}/healthz`, () => output);
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
      await served[Symbol.asyncDispose]();
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
