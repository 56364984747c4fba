/** Kea client against real Kea 2.2 and PostgreSQL: reservations written to the host database are
 * offered by kea-dhcp4 on the next DISCOVER; the real control agent drives auto-detection. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createKeaClient } from "../lib/integrations/kea/api.ts";
import { IntegrationError } from "../lib/integrations/http.ts";
import { ReservationConflict } from "../lib/domain/kea_json.ts";
import {
  createDatabase,
  keaAvailable,
  keaDbInit,
  startKea,
  startPostgres,
  type TestKea,
} from "./kea_harness.ts";
import { discover } from "./dhcp_client.ts";

const ready = keaAvailable("tests/kea_real_test.ts");

Deno.test({
  name: "createKeaClient() pgsql backend: real Kea 2.2 offers the reserved address",
  ignore: !ready,
  async fn(t) {
    const pg = await startPostgres();
    let kea: TestKea | undefined;
    try {
      const dbUrl = await createDatabase(pg.url, "kea_real_test");
      await keaDbInit(dbUrl);
      kea = await startKea({
        dbUrl,
        relayPrefix: "127.0.1.",
        subnets: [
          {
            id: 1,
            subnet: "10.16.28.0/24",
            pools: ["10.16.28.100 - 10.16.28.110"],
            optionData: [{ name: "routers", data: "10.16.28.1" }],
          },
          { id: 2, subnet: "172.16.0.0/22", pools: ["172.16.0.100 - 172.16.0.110"] },
        ],
      });
      const k = kea;
      const relay1 = k.relays[1];
      const offer = (mac: string, giaddr = relay1) =>
        discover({ port: k.dhcpPort, mac, giaddr, timeoutMs: 3000 });
      const c = createKeaClient({ mode: "auto", servers: [k.ctrlUrl], port: 0, dbUrl });
      const bmc = { mac: "3C:EC:EF:A1:9C:E8", ip: "10.16.28.31", hostname: "dcoa-rb06u31-bmc" };

      await t.step("auto falls back to pgsql: Kea 2.2 has no host_cmds", async () => {
        assertEquals(await c.backend(), "pgsql");
      });

      await t.step("reserve writes the host; Kea offers exactly that IP and hostname", async () => {
        const out = await c.reserve(bmc);
        assertEquals(out.subnetId, 1, "subnet found through config-get");
        assertEquals(out.results.map((r) => r.outcome), ["added"]);
        const o = await offer("3c:ec:ef:a1:9c:e8");
        assert(o, "an OFFER came");
        assertEquals([o.yiaddr, o.hostname, o.routers], [
          "10.16.28.31",
          "dcoa-rb06u31-bmc",
          ["10.16.28.1"],
        ]);
      });

      await t.step("a second reserve with the same data is unchanged", async () => {
        const out = await c.reserve({ ...bmc, mac: "3cec.efa1.9ce8" });
        assertEquals(out.results.map((r) => r.outcome), ["unchanged"]);
      });

      await t.step("changed data updates in place and is served at once", async () => {
        const pxe = {
          ...bmc,
          hostname: "dcoa-rb06u31-bmc2",
          nextServer: "10.16.28.10",
          bootFileName: "snp.efi",
          optionData: [{ name: "domain-name-servers", data: "89.32.32.32, 8.8.8.8" }],
          userContext: { netbox_device_id: 42 },
        };
        assertEquals((await c.reserve(pxe)).results[0].outcome, "updated");
        assertEquals((await c.reserve(pxe)).results[0].outcome, "unchanged");
        const o = await offer(bmc.mac.toLowerCase());
        assert(o);
        assertEquals(
          [o.yiaddr, o.hostname, o.siaddr, o.file, o.dnsServers],
          ["10.16.28.31", "dcoa-rb06u31-bmc2", "10.16.28.10", "snp.efi", [
            "89.32.32.32",
            "8.8.8.8",
          ]],
        );
        const [found] = await c.findByMac(bmc.mac);
        assertEquals(found.userContext, { netbox_device_id: 42 });
        assertEquals((await c.findByIp(bmc.ip, 1))?.mac, "3c:ec:ef:a1:9c:e8");
      });

      await t.step("another MAC on the same IP is a conflict naming the holder", async () => {
        try {
          await c.reserve({ mac: "aa:bb:cc:00:00:09", ip: bmc.ip, hostname: "intruder" });
          throw new Error("expected a conflict");
        } catch (e) {
          assert(e instanceof ReservationConflict, String(e));
          assert(e.message.includes("3c:ec:ef:a1:9c:e8") && e.message.includes("bmc2"));
        }
      });

      await t.step("the same MAC in another subnet is its own reservation", async () => {
        const out = await c.reserve({ mac: bmc.mac, ip: "172.16.0.31", hostname: "pxe-31" });
        assertEquals([out.subnetId, out.results[0].outcome], [2, "added"]);
        const o = await offer(bmc.mac.toLowerCase(), k.relays[2]);
        assertEquals(o?.yiaddr, "172.16.0.31");
        assertEquals((await c.findByMac(bmc.mac)).map((r) => r.subnetId).sort(), [1, 2]);
      });

      await t.step("release stops the offer of the reserved address", async () => {
        assertEquals((await c.release(bmc.mac, 1)).results[0].outcome, "deleted");
        assertEquals((await c.release(bmc.mac, 1)).results[0].outcome, "absent");
        const o = await offer(bmc.mac.toLowerCase());
        assert(o?.yiaddr !== "10.16.28.31", "no longer offered");
        assert(!o || o.yiaddr.startsWith("10.16.28.1"), `a pool address instead: ${o?.yiaddr}`);
      });

      await t.step("health: SELECT 1 on the database", async () => {
        await c.health();
      });
      await c.close();

      await t.step("control API against the real kea-ctrl-agent", async () => {
        const api = createKeaClient({ mode: "api", servers: [k.ctrlUrl], port: 0 });
        await api.health(); // list-commands answered through the agent
        assertEquals(await api.subnetFor("172.16.3.9"), 2, "config-get subnet discovery");
        try {
          await api.reserve({ mac: "aa:bb:cc:00:00:10", ip: "10.16.28.40" });
          throw new Error("expected Kea 2.2 to refuse reservation commands");
        } catch (e) {
          assert(e instanceof IntegrationError, String(e));
          assert(e.message.includes("result 2") && e.message.includes("not supported"), e.message);
        }
        const noDb = createKeaClient({ mode: "auto", servers: [k.ctrlUrl], port: 0 });
        try {
          await noDb.backend();
          throw new Error("expected an error");
        } catch (e) {
          assert((e as Error).message.includes("KEA_DB_URL"), String(e));
        }
      });
    } finally {
      await kea?.stop();
      await pg.stop();
    }
  },
});
