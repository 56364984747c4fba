/**
 * Several replicas on one PostgreSQL: three service processes share one database and one simulated
 * world (served from this process on real ports). An import survives a replica killed with SIGKILL
 * and a rolling restart of all three, with everything created exactly once; a rack slot raced for
 * from all three goes to one; a browser on one replica sees the steps run by another.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import postgres from "postgres";
import { LOCK } from "../lib/state/pg_schema.ts";
import { createSimulatedWorld } from "../sim/world.ts";
import { exited, freePort, serveWorld, spawnService, waitUntilUp } from "./service_process.ts";
import { newDatabase, postgresAvailable } from "./state_backends.ts";

const run = postgresAvailable("the replica tests");

// deno-lint-ignore no-explicit-any -- response JSON
type Json = any;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (n: number) => n.toString(16).padStart(2, "0");

/** 60 servers racked in RB06 and RB07, their BMC IPs taken from the prefix by Netbox. */
function rackedItems() {
  const units = [
    ...Array.from({ length: 30 }, (_, i) => ["RB06", 4 + i] as const),
    ...Array.from({ length: 30 }, (_, i) => ["RB07", i < 19 ? 1 + i : 3 + i] as const),
  ];
  return units.map(([rack, u], i) => ({
    device_name: `dcoa-${rack.toLowerCase()}u${u}`,
    bmc_mac: `3c:ec:ef:30:00:${hex(i + 1)}`,
    bmc_password: `pw-replica-${i}`,
    boot_mac: `0c:c4:7a:30:00:${hex(i + 1)}`,
    site: "dcoa",
    location: "hall-a",
    rack,
    position: u,
    device_type: "sys-1029u",
    device_role: "server",
    bmc_prefix: "10.16.28.0/24",
  }));
}

/** Servers given by MAC, password and IP only (no Netbox device). */
function plainItems(n: number, from: number, tag: number) {
  return Array.from({ length: n }, (_, i) => ({
    device_name: `dcob-plain${tag}-${i}`,
    bmc_mac: `3c:ec:ef:4${tag}:00:${hex(i + 1)}`,
    bmc_password: `pw-plain-${tag}-${i}`,
    bmc_ip: `10.16.28.${from + i}`,
    boot_mac: `0c:c4:7a:4${tag}:00:${hex(i + 1)}`,
  }));
}

Deno.test({
  name: "three replicas on one PostgreSQL: kill, race, live events, rolling restart",
  ignore: !run,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const world = createSimulatedWorld();
    // Each call a little slow, so a kill or restart lands in the middle of an import.
    const served = await serveWorld(world, { delayMs: 10, prefix: "onboarding-replicas-" });
    const database = await newDatabase();
    const env = {
      ...served.env,
      ONBOARDING_DATABASE_URL: database,
      ONBOARDING_STATE_LEASE: "3",
      ONBOARDING_BMC_NETWORKS: "10.16.28.0/24",
      ONBOARDING_IMPORT_CONCURRENCY: "6",
      ONBOARDING_SHUTDOWN_TIMEOUT: "10",
      ONBOARDING_LOG_LEVEL: "warn",
    };
    const ports = [freePort(), freePort(), freePort()];
    const url = (i: number) => `http://127.0.0.1:${ports[i]}`;
    const spawn = (i: number) =>
      spawnService({ ...env, ONBOARDING_PORT: String(ports[i]) }, {
        stdout: "null",
        stderr: "inherit",
      });
    const waitReady = (i: number) => waitUntilUp(`${url(i)}/readyz`, () => `replica ${i}`);
    const post = (i: number, path: string, body: unknown) =>
      fetch(`${url(i)}/api/v1${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        // A lost registration would otherwise hold the import for its hour.
        signal: AbortSignal.timeout(180_000),
      });
    const hosts = () => world.kubernetes.state.bareMetalHosts("metal3");
    /** Exactly one of everything per server, counted in the simulators. */
    const assertOnce = (items: { device_name: string; bmc_mac: string }[], racked: boolean) => {
      for (const item of items) {
        const where = item.device_name;
        assertEquals(
          world.kea.map((k) => k.hosts.filter((h) => h["hw-address"] === item.bmc_mac).length),
          [1, 1],
          where,
        );
        assertEquals(world.openbao.versions(`bmc/${item.device_name}`).length, 1, where);
        assert(world.kubernetes.state.secret("metal3", `${item.device_name}-bmc-secret`), where);
        assertEquals(hosts().filter((h) => h.metadata.name === item.device_name).length, 1, where);
        if (!racked) continue;
        const devices = [...world.netbox.devices.values()].filter((d) =>
          d.name === item.device_name
        );
        assertEquals(devices.length, 1, where);
        const ifaces = [...world.netbox.interfaces.values()].filter((x) =>
          x.device_id === devices[0].id
        );
        assertEquals(ifaces.length, 1, where);
        const macs = [...world.netbox.macAddresses.values()].filter((m) =>
          m.mac_address === item.bmc_mac
        );
        assertEquals(macs.length, 1, where);
        const ips = [...world.netbox.ipAddresses.values()].filter((ip) =>
          ip.assigned_object_id === ifaces[0].id
        );
        assertEquals(ips.length, 1, where);
      }
    };

    const children = [spawn(0), spawn(1), spawn(2)];
    try {
      await Promise.all([0, 1, 2].map(waitReady));

      await t.step(
        "20 registrations for one rack slot over the three at once: one wins",
        async () => {
          const responses = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              post(i % 3, "/servers/register", {
                bmc_mac: `3c:ec:ef:50:00:${hex(i + 1)}`,
                bmc_password: `pw-race-${i}`,
                site: "dcoa",
                location: "hall-a",
                rack: "RB07",
                position: 42,
                device_type: "sys-1029u",
                device_role: "server",
                bmc_prefix: "10.16.28.0/24",
              }).then(async (r) => ({ status: r.status, body: await r.json() }))),
          );
          const won = responses.filter((r) => r.status < 300);
          assertEquals(won.length, 1, JSON.stringify(responses.map((r) => r.status)));
          assert(responses.every((r) => r.status < 300 || r.status === 409));
        },
      );

      await t.step(
        "a WebSocket on replica C gets every step event of a run on replica A",
        async () => {
          const seen = (i: number) => {
            const events: Json[] = [];
            const ws = new WebSocket(`${url(i).replace("http", "ws")}/api/v1/events`);
            const open = new Promise((r) => ws.onopen = r);
            ws.onmessage = (m) => events.push(JSON.parse(m.data));
            return { events, open, ws };
          };
          const onA = seen(0), onC = seen(2);
          await Promise.all([onA.open, onC.open]);
          const res = await post(0, "/servers/register", {
            bmc_mac: "3c:ec:ef:60:00:01",
            bmc_password: "pw-live-events",
            site: "dcoa",
            location: "hall-a",
            rack: "RB07",
            position: 36,
            device_type: "sys-1029u",
            device_role: "server",
            bmc_prefix: "10.16.28.0/24",
          });
          const body = await res.json();
          assert(res.status < 300, JSON.stringify(body));
          const steps = (events: Json[]) =>
            events.filter((e) => e.type === "step" && e.id === body.id).map((e) =>
              `${e.step}:${e.status}`
            );
          const finished = (events: Json[]) =>
            events.some((e) =>
              e.type === "registration" && e.registration.id === body.id &&
              ["ok", "failed"].includes(e.registration.status)
            );
          for (
            let n = 0;
            n < 200 && !(finished(onA.events) && finished(onC.events));
            n++
          ) await sleep(50);
          assert(finished(onC.events), "C saw the registration finish");
          assert(steps(onA.events).length >= 8, steps(onA.events).join());
          assertEquals(steps(onC.events), steps(onA.events));
          onA.ws.close();
          onC.ws.close();
        },
      );

      await t.step(
        "import of 60 to A, B or C killed after a third: every server ok once",
        async () => {
          const items = rackedItems();
          const importing = post(0, "/servers/import", items).then(async (r) => ({
            status: r.status,
            body: await r.json(),
          }));
          const before = hosts().length;
          // The replica killed (B, else C: which one the slots went to is up to timing) holds
          // registrations (their advisory locks on its lock connection) when it is killed.
          const sql = postgres(database, { max: 1, onnotice: () => {} });
          const heldBy = async (i: number) =>
            (await sql`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid)
            WHERE l.locktype = 'advisory' AND l.classid = ${LOCK.run}
              AND a.application_name LIKE ${`% ${children[i].pid}`}`)[0].n as number;
          let victim = -1, polls = 0;
          for (let n = 0; n < 1200 && victim < 0; n++) {
            if (hosts().length - before >= 20) {
              for (const i of [1, 2]) if (victim < 0 && await heldBy(i) > 0) victim = i;
              // Neither holds one right now (A took the free slots): B dies all the same.
              if (victim < 0 && ++polls >= 40) victim = 1;
            }
            if (victim < 0) await sleep(25);
          }
          await sql.end();
          assert(victim > 0, "a replica was killed while the import ran");
          children[victim].kill("SIGKILL");
          await children[victim].status;
          const killedAt = hosts().length - before;
          assert(killedAt >= 20 && killedAt < 60, `killed after ${killedAt} of 60`);
          const { status, body } = await importing;
          assertEquals(status, 200);
          assertEquals(body.filter((r: Json) => r.status !== "ok").map((r: Json) => r.error), []);
          assertEquals(body.length, 60);
          assertOnce(items, true);
          const ips = items.map((item) =>
            [...world.netbox.devices.values()].find((d) => d.name === item.device_name)!.id
          ).map((id) => {
            const iface = [...world.netbox.interfaces.values()].find((x) => x.device_id === id)!;
            return [...world.netbox.ipAddresses.values()].find((ip) =>
              ip.assigned_object_id === iface.id
            )!.address;
          });
          assertEquals(new Set(ips).size, 60, "all BMC IPs distinct");
          children[victim] = spawn(victim);
          await waitReady(victim);
        },
      );

      await t.step(
        "a rolling restart of all three during an import: nothing lost, nothing twice",
        async () => {
          const items = plainItems(30, 180, 1);
          const first = post(0, "/servers/import", items).then((r) => r.body?.cancel()).catch(
            () => {},
          );
          const before = hosts().length;
          for (let n = 0; n < 400 && hosts().length - before < 5; n++) await sleep(25);
          assert(hosts().length - before < 30, "restarts begin mid-import");
          for (const i of [1, 2, 0]) {
            children[i].kill("SIGTERM");
            await exited(children[i], `replica ${i} after SIGTERM`);
            children[i] = spawn(i);
            await waitReady(i);
          }
          await first;
          // The client sends the same list again, as after any broken connection.
          const res = await post(2, "/servers/import", items);
          const body = await res.json();
          assertEquals(body.filter((r: Json) => r.status !== "ok").map((r: Json) => r.error), []);
          assertOnce(items, false);
          const list =
            await (await fetch(`${url(1)}/api/v1/servers?source=ours&limit=200&status=ok`)).json();
          assertEquals(list.items.length, 1 + 1 + 60 + 30);
        },
      );
    } finally {
      for (const c of children) {
        try {
          c.kill("SIGKILL");
        } catch { /* gone */ }
        await c.status;
      }
      await served[Symbol.asyncDispose]();
    }
  },
});
