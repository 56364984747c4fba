/**
 * Drift against real Kea 2.2 and its PostgreSQL host database (pgsql mode): a host row deleted or
 * its IP changed behind the service's back is found, repaired (the BMC is offered its IP again) and
 * gone on the next check; a host of someone else's is reported and left in the database.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createKeaClient } from "../lib/integrations/kea/api.ts";
import { connectKeaDb } from "../lib/integrations/kea/pgsql.ts";
import { macToBytes } from "../lib/domain/kea_json.ts";
import { ipv4ToInt } from "../lib/domain/ipv4.ts";
import type { Finding } from "../lib/registration/drift.ts";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp } from "./app_harness.ts";
import { discover } from "./dhcp_client.ts";
import { startKeaWithDatabase } from "../sim/real_kea.ts";
import { keaAvailable } from "./kea_harness.ts";

const ready = keaAvailable("tests/drift_kea_test.ts");
const MAC = "3c:ec:ef:a1:9c:e8";
const NAME = "dcoa-rb06u31";

Deno.test({
  name: "drift in real Kea's host database: deleted row and changed IP repaired, unknown host kept",
  ignore: !ready,
  async fn() {
    const running = await startKeaWithDatabase({
      database: "drift_kea_test",
      relayPrefix: "127.0.5.",
      subnets: [{ id: 1, subnet: "10.16.28.0/24", pools: ["10.16.28.200 - 10.16.28.210"] }],
    });
    const sql = connectKeaDb(running.dbUrl);
    try {
      const { kea, dbUrl } = running;
      await using app = await startTestApp({
        integrations: (_world, base) => ({
          ...base,
          kea: createKeaClient({ mode: "auto", servers: [kea.ctrlUrl], port: 0, dbUrl }),
        }),
      });
      const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
      assertEquals(res.body.map((r: { status: string }) => r.status), ["ok", "ok"], res.text);
      const ip = res.body[0].bmc_ip;
      const check = async () => (await app.call("POST", "/api/v1/drift/check", {})).body;
      assertEquals((await check()).findings, []);
      const offer = () =>
        discover({ port: kea.dhcpPort, mac: MAC, giaddr: kea.relays[1], timeoutMs: 3000 });
      const mac = Buffer.from(macToBytes(MAC));

      // A host row deleted by hand.
      await sql`DELETE FROM hosts WHERE dhcp_identifier = ${mac}`;
      let report = await check();
      assertEquals(report.findings.map((f: Finding) => [f.kind, f.server, f.expected, f.found]), [
        [
          "kea_reservation_missing",
          NAME,
          `${MAC} → ${ip} (${NAME}-bmc)`,
          "no reservation for the MAC",
        ],
      ]);
      assert(/^pgsql .* subnet 1$/.test(report.findings[0].where), report.findings[0].where);
      assert(!report.findings[0].where.includes("@"), "no credentials in the finding");
      let repaired = (await app.call("POST", "/api/v1/drift/repair", {})).body;
      assertEquals(repaired.results.map((r: { outcome: string }) => r.outcome), ["repaired"]);
      assertEquals(repaired.report.findings, []);
      assertEquals((await offer())?.yiaddr, ip, "the BMC is offered its IP again");

      // Its IP changed by hand.
      await sql`UPDATE hosts SET ipv4_address = ${ipv4ToInt("10.16.28.99")}
                WHERE dhcp_identifier = ${mac}`;
      report = await check();
      assertEquals(report.findings.map((f: Finding) => [f.kind, f.expected, f.found]), [
        [
          "kea_reservation_changed",
          `${MAC} → ${ip} (${NAME}-bmc)`,
          `${MAC} → 10.16.28.99 (${NAME}-bmc)`,
        ],
      ]);
      repaired = (await app.call("POST", "/api/v1/drift/repair", {})).body;
      assertEquals(repaired.report.findings, []);
      assertEquals((await offer())?.yiaddr, ip);
      const rows = async () =>
        (await sql`SELECT host_id, ipv4_address, hostname FROM hosts ORDER BY host_id`).map((
          r,
        ) => ({
          ...r,
        }));
      const settled = await rows();
      const again = (await app.call("POST", "/api/v1/drift/repair", {})).body;
      assertEquals(again.results, []);
      assertEquals(await rows(), settled, "a second repair changes nothing");

      // Someone else's host in the BMC subnet: reported, kept.
      await createKeaClient({ mode: "pgsql", servers: [], port: 0, dbUrl }).reserve({
        mac: "aa:bb:cc:00:00:07",
        ip: "10.16.28.77",
        hostname: "by-hand-07",
        subnetId: 1,
      });
      report = await check();
      assertEquals(report.findings.map((f: Finding) => [f.kind, f.server, f.found, f.unknown]), [
        [
          "kea_unknown_reservation",
          "by-hand-07",
          "aa:bb:cc:00:00:07 → 10.16.28.77 (by-hand-07)",
          true,
        ],
      ]);
      await app.call("POST", "/api/v1/drift/repair", { force: true });
      const kept = await sql`SELECT 1 FROM hosts WHERE ipv4_address = ${ipv4ToInt("10.16.28.77")}`;
      assertEquals(kept.length, 1);
    } finally {
      await sql.end({ timeout: 5 });
      await running.stop();
    }
  },
});
