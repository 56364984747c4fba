/** migrate-kea against real PostgreSQL and real Kea 2.2: migrated reservations (BMC and PXE) are
 * served by kea-dhcp4; re-runs change nothing; dry-run writes nothing; conflicts are reported. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import postgres from "postgres";
import { migrateKea, readReservationFiles } from "../lib/integrations/kea/migrate.ts";
import { parseKeaReservations } from "../lib/domain/kea_json.ts";
import { createFakeKea } from "../sim/kea.ts";
import { asFetch } from "../sim/faults.ts";
import {
  createDatabase,
  keaAvailable,
  keaDbInit,
  startKea,
  startPostgres,
  type TestKea,
} from "./kea_harness.ts";
import { discover } from "./dhcp_client.ts";

const DATA = new URL("./testdata/kea/", import.meta.url).pathname;
const FILES = ["bmc-reservations.json", "pxe-reservations.json", "kea-dhcp4.conf"].map((f) =>
  DATA + f
);

Deno.test("parseKeaReservations() reads lists, reservation objects and commented configs", () => {
  const [list] = parseKeaReservations(Deno.readTextFileSync(DATA + "bmc-reservations.json"));
  assertEquals(list.subnetId, undefined);
  assertEquals(list.reservations.map((r) => r.mac), [
    "3c:ec:ef:a1:9c:e8",
    "3c:ec:ef:a1:9c:e9",
    "ac:1f:6b:00:00:33",
  ]);
  assertEquals(list.reservations[2].userContext, { netbox_device_id: 33 });
  const [pxe] = parseKeaReservations(Deno.readTextFileSync(DATA + "pxe-reservations.json"));
  assertEquals(pxe.reservations[0], {
    mac: "b8:59:9f:00:00:31",
    ip: "172.16.0.31",
    hostname: "dcoa-rb06u31",
    nextServer: "172.16.0.10",
    serverHostname: "pxe.platform.sunet.se",
    bootFileName: "netboot.xyz.efi",
    clientClasses: ["uefi-pxe"],
    optionData: [
      { name: "domain-name-servers", data: "89.32.32.32, 8.8.8.8" },
      { name: "ntp-servers", data: "10.16.28.10" },
      { code: 15, data: "platform.sunet.se" },
    ],
  });
  const config = parseKeaReservations(Deno.readTextFileSync(DATA + "kea-dhcp4.conf"));
  assertEquals(config.map((g) => [g.subnetId, g.subnet, g.reservations.length]), [
    [1, "10.16.28.0/24", 2],
    [2, "172.16.0.0/22", 1],
  ]);
  assertEquals(config[1].reservations[0].subnetId, 2);
  // Comment markers inside strings are data, and a trailing comma is tolerated.
  const [odd] = parseKeaReservations(
    `[{"hw-address":"aa:bb:cc:00:00:01","ip-address":"10.0.0.1","hostname":"a//b#c",},]`,
  );
  assertEquals(odd.reservations[0].hostname, "a//b#c");
});

Deno.test("migrateKea() through the control API (host_cmds fake)", async () => {
  const kea = createFakeKea({ subnets: [{ id: 1, subnet: "10.16.28.0/24" }] });
  const input = await readReservationFiles([DATA + "bmc-reservations.json"]);
  const options = { apiUrls: ["http://kea1:8000/"], fetch: asFetch(kea.handler) };
  const dry = await migrateKea(input, { ...options, dryRun: true });
  assertEquals([dry.counts.add, kea.hosts.length], [3, 0]);
  const first = await migrateKea(input, options);
  assertEquals([first.counts.add, first.verified, first.ok], [3, 3, true]);
  assertEquals(kea.hosts.map((h) => h["ip-address"]), [
    "10.16.28.31",
    "10.16.28.32",
    "10.16.28.33",
  ]);
  const again = await migrateKea(input, options);
  assertEquals([again.counts.unchanged, again.counts.add], [3, 0]);
});

const ready = keaAvailable("tests/migrate_kea_test.ts");

Deno.test({
  name: "migrateKea() fills Kea's host database and real Kea 2.2 serves it",
  ignore: !ready,
  async fn(t) {
    const pg = await startPostgres();
    let kea: TestKea | undefined;
    let sql: postgres.Sql | undefined;
    try {
      const dbUrl = await createDatabase(pg.url, "kea_migrate_test");
      await keaDbInit(dbUrl);
      kea = await startKea({
        dbUrl,
        relayPrefix: "127.0.2.",
        subnets: [
          { id: 1, subnet: "10.16.28.0/24" },
          { id: 2, subnet: "172.16.0.0/22" },
          { id: 3, subnet: "192.0.2.0/24" },
        ],
      });
      const k = kea;
      sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
      const db = sql;
      const hostCount = async () => Number((await db`SELECT count(*) AS n FROM hosts`)[0].n);
      const input = await readReservationFiles(FILES);
      // Plain lists get their subnet from the IP through the control agent's config-get.
      const options = { dbUrl, apiUrls: [k.ctrlUrl] };

      await t.step("dry run shows the plan and writes nothing", async () => {
        const lines: string[] = [];
        const report = await migrateKea(input, {
          ...options,
          dryRun: true,
          log: (l) => lines.push(l),
        });
        assertEquals(report.counts, { add: 7, update: 0, unchanged: 0, conflict: 0, error: 0 });
        assertEquals(lines.length, 7);
        assert(lines.every((l) => l.startsWith("add")), lines.join("\n"));
        assert(report.summary.includes("dry run") && report.summary.includes("7 to add"));
        assertEquals(await hostCount(), 0);
      });

      await t.step("the run adds every reservation, per subnet, and verifies it", async () => {
        const report = await migrateKea(input, options);
        assertEquals(report.counts.add, 7);
        assertEquals([report.verified, report.verifyFailures, report.ok], [7, [], true]);
        assert(report.summary.includes("read back 7/7 verified"), report.summary);
        const bySubnet = await db`SELECT dhcp4_subnet_id AS s, count(*) AS n FROM hosts
          GROUP BY 1 ORDER BY 1`;
        assertEquals(bySubnet.map((r) => [Number(r.s), Number(r.n)]), [[1, 4], [2, 3]]);
      });

      await t.step("Kea serves the BMC reservation", async () => {
        const o = await discover({
          port: k.dhcpPort,
          mac: "ac:1f:6b:00:00:33",
          giaddr: k.relays[1],
          timeoutMs: 3000,
        });
        assertEquals([o?.yiaddr, o?.hostname], ["10.16.28.33", "dcoa-rb06u33-bmc"]);
      });

      await t.step(
        "Kea serves the PXE reservation with next-server, file and options",
        async () => {
          const o = await discover({
            port: k.dhcpPort,
            mac: "b8:59:9f:00:00:31",
            giaddr: k.relays[2],
            timeoutMs: 3000,
            options: { arch: 7, vendorClass: "PXEClient:Arch:00007:UNDI:003016" },
          });
          assert(o, "an OFFER came");
          assertEquals(
            [
              o.yiaddr,
              o.siaddr,
              o.file,
              o.sname,
              o.hostname,
              o.dnsServers,
              o.ntpServers,
              o.domainName,
            ],
            [
              "172.16.0.31",
              "172.16.0.10",
              "netboot.xyz.efi",
              "pxe.platform.sunet.se",
              "dcoa-rb06u31",
              ["89.32.32.32", "8.8.8.8"],
              ["10.16.28.10"],
              "platform.sunet.se",
            ],
          );
          const fromConfig = await discover({
            port: k.dhcpPort,
            mac: "b8:59:9f:00:00:35",
            giaddr: k.relays[2],
            timeoutMs: 3000,
          });
          assertEquals([fromConfig?.yiaddr, fromConfig?.file], ["172.16.1.35", "netboot.xyz.efi"]);
        },
      );

      await t.step("a second run changes nothing", async () => {
        const before = await db`SELECT host_id, hostname FROM hosts ORDER BY host_id`;
        const options2 = await db`SELECT option_id FROM dhcp4_options ORDER BY option_id`;
        const report = await migrateKea(input, options);
        assertEquals(report.counts, { add: 0, update: 0, unchanged: 7, conflict: 0, error: 0 });
        assert(report.ok);
        assertEquals(await db`SELECT host_id, hostname FROM hosts ORDER BY host_id`, before);
        assertEquals(await db`SELECT option_id FROM dhcp4_options ORDER BY option_id`, options2);
      });

      await t.step("changed data is an update", async () => {
        const changed = await readReservationFiles([DATA + "pxe-reservations.json"]);
        changed[0].group.reservations[1].bootFileName = "ipxe.efi";
        const report = await migrateKea(changed, options);
        assertEquals([report.counts.update, report.counts.unchanged, report.ok], [1, 1, true]);
        const o = await discover({
          port: k.dhcpPort,
          mac: "b8:59:9f:00:00:32",
          giaddr: k.relays[2],
          timeoutMs: 3000,
        });
        assertEquals(o?.file, "ipxe.efi");
      });

      await t.step("a conflict is reported, exits 1, and the rest is migrated", async () => {
        const file = DATA + "conflict-reservations.json";
        const dry = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-net",
            "--allow-read",
            "--allow-env",
            "scripts/migrate_kea.ts",
            "--db",
            dbUrl,
            "--subnet-id",
            "1",
            "--dry-run",
            file,
          ],
          cwd: new URL("..", import.meta.url).pathname,
          stdout: "piped",
          stderr: "piped",
        }).output();
        const out = new TextDecoder().decode(dry.stdout);
        assertEquals(dry.code, 1, out + new TextDecoder().decode(dry.stderr));
        assert(
          /conflict .*de:ad:be:ef:00:01.*3c:ec:ef:a1:9c:e8 \(dcoa-rb06u31-bmc\)/.test(out),
          out,
        );
        assert(out.includes("1 conflicts"), out);
        assert(!out.includes(new URL(dbUrl).password), "no DB password in the output");
        const before = await hostCount();
        const report = await migrateKea(await readReservationFiles([file]), {
          dbUrl,
          subnetId: 1,
        });
        assertEquals([report.counts.conflict, report.counts.add, report.ok], [1, 1, false]);
        assertEquals(await hostCount(), before + 1);
        const [holder] = await db`SELECT hostname FROM hosts WHERE ipv4_address = ${
          (10 << 24 >>> 0) + (16 << 16) + (28 << 8) + 31
        }`;
        assertEquals(holder.hostname, "dcoa-rb06u31-bmc");
      });

      await t.step("the per-row path writes the same as the batched path", async () => {
        const many = (subnetId: number) => [{
          source: "generated",
          group: {
            subnetId,
            reservations: Array.from({ length: 300 }, (_, i) => ({
              mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${
                (i & 255).toString(16).padStart(2, "0")
              }`,
              ip: `192.0.2.${i % 250 + 1}`,
              hostname: `gen-${i}`,
              optionData: [{ name: "routers", data: "192.0.2.254" }],
            })).filter((_, i) => i < 250),
          },
        }];
        const batched = await migrateKea(many(3), { dbUrl, batchSize: 100 });
        const slow = await migrateKea(many(4), { dbUrl, perRow: true });
        assertEquals([batched.counts.add, batched.verified], [250, 250]);
        assertEquals([slow.counts.add, slow.verified], [250, 250]);
        const o = await discover({
          port: k.dhcpPort,
          mac: "02:00:00:00:00:07",
          giaddr: k.relays[3],
          timeoutMs: 3000,
        });
        assertEquals([o?.yiaddr, o?.hostname, o?.routers], ["192.0.2.8", "gen-7", ["192.0.2.254"]]);
      });
    } finally {
      await sql?.end({ timeout: 5 });
      await kea?.stop();
      await pg.stop();
    }
  },
});
