/**
 * Durability: the server process is killed in the middle of a 50-server import and started again
 * on the same KV file; every server ends `ok` and nothing is duplicated.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createSimulatedWorld } from "../sim/world.ts";
import { freePort, serveWorld, spawnService, waitUntilUp } from "./service_process.ts";

const COUNT = 50;

function items() {
  return Array.from({ length: COUNT }, (_, i) => ({
    // Not rack RB07's names: the seeded Netbox has a dcoa-rb07u20, which pre-flight refuses.
    device_name: `dcoa-rb09u${String(i + 1).padStart(2, "0")}`,
    bmc_mac: `3c:ec:ef:20:00:${(i + 1).toString(16).padStart(2, "0")}`,
    bmc_password: `pw-restart-${i}`,
    bmc_ip: `10.16.28.${100 + i}`,
    boot_mac: `0c:c4:7a:20:00:${(i + 1).toString(16).padStart(2, "0")}`,
  }));
}

Deno.test("a server killed mid-import resumes after restart: all ok, nothing duplicated", async () => {
  const world = createSimulatedWorld();
  // Every call slowed down so the kill lands in the middle of the import.
  await using served = await serveWorld(world, { delayMs: 15, prefix: "onboarding-restart-" });
  const port = freePort();
  const env = {
    ...served.env,
    ONBOARDING_PORT: String(port),
    ONBOARDING_KV_PATH: `${served.dir}/onboarding.kv`,
    ONBOARDING_BMC_NETWORKS: "10.16.28.0/24",
    ONBOARDING_IMPORT_CONCURRENCY: "4",
    ONBOARDING_LOG_LEVEL: "warn",
  };
  const spawn = () => spawnService(env);
  const waitReady = () => waitUntilUp(`http://127.0.0.1:${port}/healthz`);
  const importAll = () =>
    fetch(`http://127.0.0.1:${port}/api/v1/servers/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(items()),
    });

  let child = spawn();
  try {
    await waitReady();
    const first = importAll().catch((e) => e);
    // Kill it once some, but not all, servers are done.
    for (let i = 0; i < 600; i++) {
      const done = world.kubernetes.state.bareMetalHosts("metal3").length;
      if (done >= 8) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const before = world.kubernetes.state.bareMetalHosts("metal3").length;
    assert(before > 0 && before < COUNT, `killed mid-import (${before} of ${COUNT} done)`);
    child.kill("SIGKILL");
    await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    assert((await first) instanceof Error, "the first import's connection broke");

    child = spawn();
    await waitReady();
    // The client sends the same list again; what was already submitted resumes on its own.
    const res = await importAll();
    const results = await res.json();
    assertEquals(res.status, 200);
    assertEquals(
      results.filter((r: { status: string }) => r.status !== "ok").map((r: { error: string }) =>
        r.error
      ),
      [],
    );
    const list =
      await (await fetch(`http://127.0.0.1:${port}/api/v1/servers?source=ours&limit=200`)).json();
    assertEquals(list.items.length, COUNT);
    assert(list.items.every((r: { status: string }) => r.status === "ok"));

    for (const item of items()) {
      const hosts = world.kea.map((k) =>
        k.hosts.filter((h) => h["hw-address"] === item.bmc_mac).length
      );
      assertEquals(hosts, [1, 1], `${item.device_name}: one reservation per Kea server`);
      assertEquals(
        world.openbao.versions(`bmc/${item.device_name}`).length,
        1,
        `${item.device_name}: one secret version`,
      );
      // Whether held since submit or read back from OpenBao after the restart: the right one.
      const secret = world.kubernetes.state.secret("metal3", `${item.device_name}-bmc-secret`);
      assertEquals(atob(secret?.data?.password ?? ""), item.bmc_password);
    }
    assertEquals(world.kubernetes.state.bareMetalHosts("metal3").length, COUNT);
    assertEquals(world.kubernetes.state.secrets("metal3").length, COUNT);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await child.stderr.cancel().catch(() => {});
  }
});
