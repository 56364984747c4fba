/** The Kea DHCPv4 configuration shipped in k8s/kea-dhcp.yaml: the SPEC §9 values, `kea-dhcp4 -t`
 * with the local Kea 2.2, the schema init container's script, and boot files handed out over DHCP. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import postgres from "postgres";
import { parseAllDocuments } from "yaml";
import { discover, type Offer } from "./dhcp_client.ts";
import {
  createDatabase,
  dbParts,
  keaAvailable,
  startKeaWithConfig,
  startPostgres,
} from "./kea_harness.ts";

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

const KEA_DHCP4 = "/usr/sbin/kea-dhcp4";
const HOOKS_DIR_22 = "/usr/lib/x86_64-linux-gnu/kea/hooks";

/** The Kea ConfigMap's JSON and the DaemonSet's init container scripts, as shipped. */
async function loadShipped(): Promise<{ config: Obj; scripts: Record<string, string> }> {
  const text = await Deno.readTextFile(new URL("../k8s/kea-dhcp.yaml", import.meta.url));
  const docs = parseAllDocuments(text).map((d) => d.toJS() as Obj);
  const cm = docs.find((d) => d.kind === "ConfigMap" && d.metadata.name === "kea-dhcp4-config");
  const ds = docs.find((d) => d.kind === "DaemonSet");
  if (!cm || !ds) throw new Error("k8s/kea-dhcp.yaml lacks the Kea ConfigMap or DaemonSet");
  const scripts: Record<string, string> = {};
  for (const c of ds.spec.template.spec.initContainers) scripts[c.name] = c.args.join("\n");
  return { config: JSON.parse(cm.data["kea-dhcp4.conf"]), scripts };
}

/**
 * The shipped configuration targets Kea ≥ 3.0; this machine has Debian's Kea 2.2. These are the
 * only changes the test makes, each for a reason outside the configuration itself:
 * 1. hooks: `libdhcp_pgsql.so` (2.2 has PostgreSQL built in) and `libdhcp_host_cmds.so` (not in
 *    Debian's 2.2) are dropped; the others get 2.2's hooks directory (3.x resolves bare names);
 * 2. `control-sockets` (HTTP on the daemon, 2.7.2+) becomes 2.2's unix `control-socket`;
 * 3. interfaces become `lo` and the subnets' `interface` (the `@BMC_INTERFACE@` and
 *    `@PXE_INTERFACE@` placeholders) is removed: Kea rejects interface names the machine does not
 *    have;
 * 4. loggers: `output-options` becomes 2.2's spelling `output_options`;
 * 5. both databases point at the test PostgreSQL (or stay as shipped when there is none: `-t`
 *    does not connect); the `@KEA_DB_PASSWORD@` placeholder goes with them.
 */
function forKea22(config: Obj, dir: string, db?: ReturnType<typeof dbParts>): Obj {
  const out = structuredClone(config);
  const d = out.Dhcp4;
  d["hooks-libraries"] = d["hooks-libraries"]
    .filter((h: Obj) => !["libdhcp_pgsql.so", "libdhcp_host_cmds.so"].includes(h.library))
    .map((h: Obj) => ({ ...h, library: `${HOOKS_DIR_22}/${h.library}` }));
  delete d["control-sockets"];
  d["control-socket"] = { "socket-type": "unix", "socket-name": `${dir}/kea4.sock` };
  d["interfaces-config"].interfaces = ["lo"];
  for (const s of d.subnet4) delete s.interface;
  for (const l of d.loggers) {
    l.output_options = l["output-options"];
    delete l["output-options"];
  }
  for (const database of [d["lease-database"], ...d["hosts-databases"]]) {
    if (db) {
      Object.assign(database, {
        host: db.host,
        port: Number(db.port),
        name: db.name,
        user: db.user,
        password: db.password,
      });
    } else database.password = "test";
  }
  return out;
}

/** True when `kea-dhcp4` is installed; else a loud SKIP (a failure with CI=true). */
function keaDhcp4Available(): boolean {
  try {
    Deno.statSync(KEA_DHCP4);
    return true;
  } catch {
    const msg = "SKIP: kea-dhcp4 -t needs Kea (apt-get install kea-dhcp4-server)";
    if (Deno.env.get("CI") === "true") throw new Error(`${msg}: missing dependency with CI=true`);
    console.warn(`\n${"!".repeat(78)}\n${msg}\n${"!".repeat(78)}`);
    return false;
  }
}

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

const { config: shipped, scripts } = await loadShipped();
const dhcp4 = shipped.Dhcp4;

Deno.test("Kea config carries the complete SPEC §9 setup", async (t) => {
  const subnet = (cidr: string) => dhcp4.subnet4.find((s: Obj) => s.subnet === cidr);
  const option = (list: Obj[] | undefined, name: string) =>
    list?.find((o) => o.name === name)?.data;
  const klass = (name: string) => dhcp4["client-classes"].find((c: Obj) => c.name === name);

  await t.step("BMC subnet 10.16.28.0/24 with its pool and router", () => {
    const bmc = subnet("10.16.28.0/24");
    assertEquals(bmc.pools, [{ pool: "10.16.28.11 - 10.16.28.200" }]);
    assertEquals(option(bmc["option-data"], "routers"), "10.16.28.1");
  });
  await t.step("PXE subnet 172.16.0.0/22 with pool, router and next-server", () => {
    const pxe = subnet("172.16.0.0/22");
    assertEquals(pxe.pools, [{ pool: "172.16.0.11 - 172.16.3.200" }]);
    assertEquals(option(pxe["option-data"], "routers"), "172.16.0.1");
    assertEquals(pxe["next-server"], "172.16.0.10");
  });
  await t.step("explicit, distinct subnet ids", () => {
    const ids = dhcp4.subnet4.map((s: Obj) => s.id);
    assert(ids.every((id: unknown) => Number.isInteger(id) && (id as number) > 0));
    assertEquals(new Set(ids).size, ids.length);
  });
  await t.step("NTP, DNS and domain search for every client", () => {
    assertEquals(option(dhcp4["option-data"], "ntp-servers"), "10.16.28.10");
    assertEquals(option(dhcp4["option-data"], "domain-name-servers"), "89.32.32.32, 8.8.8.8");
    assertEquals(option(dhcp4["option-data"], "domain-search"), "platform.sunet.se, sunet.se");
  });
  await t.step("boot classes for UEFI PXE, BIOS PXE and UEFI HTTP boot", () => {
    assertEquals(klass("UEFI-PXE")["boot-file-name"], "netboot.xyz.efi");
    assertEquals(klass("BIOS-PXE")["boot-file-name"], "netboot.xyz.kpxe");
    const http = klass("UEFI-HTTP");
    assert(http.test.includes("'HTTPClient'"), "matches the HTTPClient vendor class");
    assert(/^http:\/\//.test(http["boot-file-name"]), "the boot file is a URL");
    assertEquals(option(http["option-data"], "vendor-class-identifier"), "HTTPClient");
  });
  await t.step("PostgreSQL leases and hosts, host_cmds, the daemon's HTTP control socket", () => {
    assertEquals(dhcp4["lease-database"].type, "postgresql");
    assertEquals(dhcp4["hosts-databases"].map((d: Obj) => d.type), ["postgresql"]);
    const hooks = dhcp4["hooks-libraries"].map((h: Obj) => h.library);
    assert(hooks.includes("libdhcp_host_cmds.so") && hooks.includes("libdhcp_pgsql.so"));
    assertEquals(dhcp4["control-sockets"].map((s: Obj) => s["socket-type"]), ["http"]);
  });
  await t.step("only the placeholders the render-config init container fills in", () => {
    const text = JSON.stringify(shipped);
    const placeholders = [...new Set(text.match(/@[A-Z_]+@/g))].sort();
    assertEquals(placeholders, [
      "@BMC_INTERFACE@",
      "@HOST_IP@",
      "@KEA_DB_PASSWORD@",
      "@PXE_INTERFACE@",
    ]);
    for (const p of placeholders) assert(scripts["render-config"].includes(`s/${p}/`), p);
    // The init container's own check of the rendered file, so a bad config stops there.
    assert(scripts["render-config"].includes("kea-dhcp4 -t /etc/kea/kea-dhcp4.conf"));
    // The shipped ConfigMap must not carry a real password.
    assertEquals(dhcp4["lease-database"].password, "@KEA_DB_PASSWORD@");
  });
});

Deno.test("kea-dhcp4 -t accepts the shipped configuration (Kea 2.2 substitutions)", async () => {
  if (!keaDhcp4Available()) return;
  const dir = await Deno.makeTempDir({ prefix: "kea-config-test-" });
  try {
    await Deno.writeTextFile(
      `${dir}/kea-dhcp4.conf`,
      JSON.stringify(forKea22(shipped, dir), null, 2),
    );
    const env = { KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir };
    const { code, text } = await run(KEA_DHCP4, ["-t", `${dir}/kea-dhcp4.conf`], env);
    assertEquals(code, 0, `kea-dhcp4 -t failed:\n${text}`);
    // Both subnets were built, with the shipped lifetimes.
    assertEquals(text.match(/DHCPSRV_CFGMGR_NEW_SUBNET4/g)?.length, 2, text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Kea schema init script and PXE boot classes against real PostgreSQL and Kea", async (t) => {
  if (!keaAvailable("the Kea configuration DHCP test")) return;
  const pg = await startPostgres();
  try {
    const url = await createDatabase(pg.url, "kea_config_test");
    const db = dbParts(url);
    const initEnv = {
      KEA_DB_HOST: db.host,
      KEA_DB_PORT: db.port,
      KEA_DB_USER: db.user,
      KEA_DB_NAME: db.name,
      KEA_DB_PASSWORD: db.password,
      PATH: `/usr/sbin:/usr/bin:/bin:${Deno.env.get("PATH") ?? ""}`,
    };

    await t.step("db-schema creates the schema only when it is absent", async () => {
      const first = await run("sh", ["-c", scripts["db-schema"]], initEnv);
      assertEquals(first.code, 0, first.text);
      assert(first.text.includes("Kea schema absent; creating it"), first.text);
      const second = await run("sh", ["-c", scripts["db-schema"]], initEnv);
      assertEquals(second.code, 0, `a second start must not fail:\n${second.text}`);
      assert(second.text.includes("Kea schema present"), second.text);
      const version = await run("kea-admin", [
        "db-version",
        "pgsql",
        ...["-h", db.host, "-P", db.port, "-u", db.user, "-p", db.password, "-n", db.name],
      ], { PGPASSWORD: db.password });
      assert(/^\d+\.\d+$/m.test(version.text), `schema version: ${version.text}`);
    });

    await t.step("kea-dhcp4 -t with both databases on the test PostgreSQL", async () => {
      const dir = await Deno.makeTempDir({ prefix: "kea-config-test-" });
      try {
        await Deno.writeTextFile(`${dir}/c.json`, JSON.stringify(forKea22(shipped, dir, db)));
        const { code, text } = await run(KEA_DHCP4, ["-t", `${dir}/c.json`], {
          KEA_PIDFILE_DIR: dir,
          KEA_LOCKFILE_DIR: dir,
        });
        assertEquals(code, 0, text);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });

    // The harness runs the configuration on loopback; on top of forKea22 it swaps the lease
    // database for a memfile and gives each subnet a relay address of its own (127.0.0.N), so a
    // relayed DISCOVER selects the BMC or the PXE subnet. The host database is the test one.
    const kea = await startKeaWithConfig(forKea22(shipped, "/nonexistent"), { dbUrl: url });
    try {
      const bmcId = dhcp4.subnet4.find((s: Obj) => s.subnet === "10.16.28.0/24").id;
      const pxeId = dhcp4.subnet4.find((s: Obj) => s.subnet === "172.16.0.0/22").id;
      const ask = async (mac: string, subnetId: number, options?: Obj): Promise<Offer> => {
        const offer = await discover({
          port: kea.dhcpPort,
          mac,
          giaddr: kea.relays[subnetId],
          timeoutMs: 3000,
          options,
        });
        if (!offer) throw new Error(`No OFFER for ${mac}:\n${(await kea.log()).slice(-3000)}`);
        return offer;
      };
      const inPxePool = (ip: string) => {
        const [a, b, c, d] = ip.split(".").map(Number);
        const n = (c << 8) + d;
        return a === 172 && b === 16 && n >= 11 && n <= (3 << 8) + 200;
      };

      await t.step("a UEFI PXE client (option 93 = 7) gets netboot.xyz.efi", async () => {
        const offer = await ask("aa:bb:cc:16:00:07", pxeId, {
          vendorClass: "PXEClient:Arch:00007:UNDI:003016",
          arch: 7,
        });
        assertEquals(offer.file, "netboot.xyz.efi");
        assertEquals(offer.siaddr, "172.16.0.10");
        assert(inPxePool(offer.yiaddr), offer.yiaddr);
        assertEquals(offer.routers, ["172.16.0.1"]);
      });

      await t.step("a BIOS PXE client (option 93 = 0) gets netboot.xyz.kpxe", async () => {
        const offer = await ask("aa:bb:cc:16:00:00", pxeId, {
          vendorClass: "PXEClient:Arch:00000:UNDI:002001",
          arch: 0,
        });
        assertEquals(offer.file, "netboot.xyz.kpxe");
        assertEquals(offer.siaddr, "172.16.0.10");
        assert(inPxePool(offer.yiaddr), offer.yiaddr);
      });

      await t.step("a UEFI HTTP boot client gets a URL and its vendor class echoed", async () => {
        const offer = await ask("aa:bb:cc:16:00:10", pxeId, {
          vendorClass: "HTTPClient:Arch:00016:UNDI:003001",
          arch: 16,
        });
        assertEquals(offer.file, "http://172.16.0.10/netboot.xyz.efi");
        assertEquals(offer.vendorClass, "HTTPClient");
      });

      await t.step("a BMC gets a pool address, router, DNS, search domains and NTP", async () => {
        const offer = await ask("aa:bb:cc:28:00:01", bmcId);
        const last = Number(offer.yiaddr.split(".")[3]);
        assert(offer.yiaddr.startsWith("10.16.28.") && last >= 11 && last <= 200, offer.yiaddr);
        assertEquals(offer.file, "");
        assertEquals(offer.routers, ["10.16.28.1"]);
        assertEquals(offer.dnsServers, ["89.32.32.32", "8.8.8.8"]);
        assertEquals(offer.domainSearch, ["platform.sunet.se", "sunet.se"]);
        assertEquals(offer.ntpServers, ["10.16.28.10"]);
      });

      await t.step("a BMC reservation in the host database (KEA_SUBNET_ID) is served", async () => {
        const sql = postgres(url, { max: 1, onnotice: () => {} });
        try {
          // 10.16.28.57 as Kea stores it: an unsigned 32-bit integer.
          const ip = (10 * 2 ** 24) + (16 << 16) + (28 << 8) + 57;
          await sql`INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id,
            ipv4_address, hostname) VALUES (decode('aabbcc280057', 'hex'), 0, ${bmcId}, ${ip},
            'dcoa-rb06u31-bmc')`;
        } finally {
          await sql.end({ timeout: 5 });
        }
        const offer = await ask("aa:bb:cc:28:00:57", bmcId);
        assertEquals(offer.yiaddr, "10.16.28.57");
        assertEquals(offer.hostname, "dcoa-rb06u31-bmc");
      });
    } finally {
      await kea.stop();
    }
  } finally {
    await pg.stop();
  }
});
