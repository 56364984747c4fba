/**
 * The README's import examples against real Kea 2.2 with its PostgreSQL host database: after the
 * import, a relayed DHCP DISCOVER from each BMC MAC is offered exactly the BMC IP and hostname.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createKeaClient } from "../lib/integrations/kea/api.ts";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp } from "./app_harness.ts";
import { discover } from "./dhcp_client.ts";
import { startKeaWithDatabase } from "../sim/real_kea.ts";
import { keaAvailable } from "./kea_harness.ts";

const ready = keaAvailable("tests/registration_kea_test.ts");

Deno.test({
  name: "POST /servers/import reserves the BMC IP in real Kea: the BMC gets an OFFER for it",
  ignore: !ready,
  async fn() {
    const running = await startKeaWithDatabase({
      database: "registration_kea_test",
      relayPrefix: "127.0.4.",
      subnets: [{ id: 1, subnet: "10.16.28.0/24", pools: ["10.16.28.200 - 10.16.28.210"] }],
    });
    try {
      const { kea, dbUrl } = running;
      const ctrl = kea.ctrlUrl;
      await using app = await startTestApp({
        integrations: (_world, base) => ({
          ...base,
          kea: createKeaClient({ mode: "auto", servers: [ctrl], port: 0, dbUrl }),
        }),
      });
      const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
      const [full, minimal] = res.body;
      assertEquals([full.status, minimal.status], ["ok", "ok"], JSON.stringify(res.body));
      assert(full.steps.kea === "done" && minimal.steps.kea === "done");

      const k = kea;
      const offer = (mac: string) =>
        discover({ port: k.dhcpPort, mac, giaddr: k.relays[1], timeoutMs: 3000 });
      const a = await offer("3c:ec:ef:a1:9c:e8");
      assertEquals([a?.yiaddr, a?.hostname], [full.bmc_ip, "dcoa-rb06u31-bmc"]);
      const b = await offer("3c:ec:ef:a1:9c:f0");
      assertEquals([b?.yiaddr, b?.hostname], ["10.16.28.40", "dcoa-rb07u12-bmc"]);

      // Importing again changes nothing in Kea; decommission takes the reservation away.
      const again = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM]);
      assertEquals(again.body[0].status, "ok");
      const del = await app.call("DELETE", `/api/v1/servers/${full.id}`);
      assertEquals(del.status, 200, del.text);
      const after = await offer("3c:ec:ef:a1:9c:e8");
      assert(after?.yiaddr !== full.bmc_ip, "no longer offered the reserved IP");
    } finally {
      await running.stop();
    }
  },
});
