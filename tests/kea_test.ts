/** Kea client against the control-agent fake: api mode, idempotency, per-server results, result
 * codes, backend auto-selection, subnet discovery, retries and timeouts. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  createKeaClient,
  KEA_SUBNETS_TTL_MS,
  type KeaSettings,
  ReservationConflict,
} from "../lib/integrations/kea/api.ts";
import { createFakeKea, type FakeKea } from "../sim/kea.ts";
import { asFetch } from "../sim/faults.ts";
import { IntegrationError } from "../lib/integrations/http.ts";
import { Conflict } from "../lib/domain/errors.ts";

/** Awaits a rejection of the given class (optionally with a message fragment) and returns it. */
async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof type, `expected ${type.name}, got ${(e as Error)?.name}: ${e}`);
    if (includes) assert((e as Error).message.includes(includes), (e as Error).message);
    return e as E;
  }
  throw new Error(`expected a ${type.name} rejection`);
}

const SUBNETS = [{ id: 1, subnet: "10.16.28.0/24" }, { id: 2, subnet: "172.16.0.0/22" }];

/** Routes each server host to its fake. */
function cluster(fakes: Record<string, FakeKea>): typeof fetch {
  return (input, init) => {
    const host = new URL(input instanceof Request ? input.url : String(input)).hostname;
    return asFetch(fakes[host].handler)(input, init);
  };
}

function client(fakes: Record<string, FakeKea>, extra: Partial<KeaSettings> = {}) {
  return createKeaClient({
    mode: "api",
    servers: Object.keys(fakes),
    port: 8000,
    fetch: cluster(fakes),
    retry: { attempts: 1 },
    ...extra,
  });
}

const BMC = { mac: "3C-EC-EF-A1-9C-E8", ip: "10.16.28.31", hostname: "dcoa-rb06u31-bmc" };

Deno.test("createKeaClient() reserves through the control API", async (t) => {
  const kea = createFakeKea({ subnets: SUBNETS });
  const c = client({ kea1: kea }, { subnetId: 1 });

  await t.step("adds a new reservation with canonical MAC", async () => {
    const out = await c.reserve(BMC);
    assertEquals(out, { subnetId: 1, results: [{ server: "kea1", outcome: "added" }] });
    assertEquals(kea.hosts.length, 1);
    assertEquals(kea.hosts[0]["hw-address"], "3c:ec:ef:a1:9c:e8");
    assertEquals(kea.hosts[0].hostname, "dcoa-rb06u31-bmc");
    assertEquals(kea.hosts[0]["subnet-id"], 1);
  });

  await t.step("a repeat with the same data is unchanged and writes nothing", async () => {
    const before = kea.writes().length;
    const out = await c.reserve({ ...BMC, mac: "3cec.efa1.9ce8" });
    assertEquals(out.results, [{ server: "kea1", outcome: "unchanged" }]);
    assertEquals(kea.writes().length, before);
  });

  await t.step("changed data replaces the host (del + add)", async () => {
    const out = await c.reserve({ ...BMC, hostname: "renamed-bmc" });
    assertEquals(out.results[0].outcome, "updated");
    assertEquals(kea.hosts.map((h) => h.hostname), ["renamed-bmc"]);
    assertEquals(kea.writes().slice(-2).map((w) => w.command), [
      "reservation-del",
      "reservation-add",
    ]);
  });

  await t.step("findByMac and findByIp return the reservation", async () => {
    const byMac = await c.findByMac("3C:EC:EF:A1:9C:E8");
    assertEquals(byMac.map((r) => [r.mac, r.ip, r.subnetId, r.hostname]), [
      ["3c:ec:ef:a1:9c:e8", "10.16.28.31", 1, "renamed-bmc"],
    ]);
    assertEquals((await c.findByIp("10.16.28.31", 1))?.mac, "3c:ec:ef:a1:9c:e8");
    assertEquals(await c.findByIp("10.16.28.32", 1), null);
    assertEquals(await c.findByMac("aa:bb:cc:00:00:01"), []);
  });

  await t.step("another MAC on the same IP is a Conflict naming it, with no write", async () => {
    const before = kea.writes().length;
    const e = await assertRejects(
      () => c.reserve({ mac: "aa:bb:cc:00:00:01", ip: "10.16.28.31", hostname: "other" }),
      ReservationConflict,
    );
    assert(e instanceof Conflict);
    assert(e.message.includes("3c:ec:ef:a1:9c:e8") && e.message.includes("renamed-bmc"));
    assertEquals(kea.writes().length, before);
  });

  await t.step("release deletes, then reports absent (result 3)", async () => {
    assertEquals((await c.release(BMC.mac, 1)).results, [{ server: "kea1", outcome: "deleted" }]);
    assertEquals(kea.hosts.length, 0);
    assertEquals((await c.release(BMC.mac, 1)).results, [{ server: "kea1", outcome: "absent" }]);
  });

  await t.step("PXE fields and options round-trip and compare equal", async () => {
    const pxe = {
      mac: "aa:bb:cc:00:00:22",
      ip: "172.16.0.22",
      hostname: "node-22",
      subnetId: 2,
      nextServer: "172.16.0.10",
      bootFileName: "netboot.xyz.efi",
      clientClasses: ["uefi-pxe"],
      optionData: [{ name: "domain-name-servers", data: "89.32.32.32, 8.8.8.8" }],
      userContext: { netbox_device_id: 7 },
    };
    assertEquals((await c.reserve(pxe)).results[0].outcome, "added");
    const stored = kea.hosts.find((h) => h["hw-address"] === pxe.mac)!;
    assertEquals(stored["next-server"], "172.16.0.10");
    assertEquals(stored["option-data"][0].code, 6);
    assertEquals((await c.reserve(pxe)).results[0].outcome, "unchanged");
  });
});

Deno.test("createKeaClient() reports per-server results across Kea servers", async (t) => {
  await t.step("writes on every server; a failing one is reported, not thrown", async () => {
    const [a, b, down] = [createFakeKea(), createFakeKea(), createFakeKea()];
    down.faults.add({ status: 503, body: { result: 503, text: "Service Unavailable" } });
    const c = client({ kea1: a, kea2: b, kea3: down }, { subnetId: 1 });
    const out = await c.reserve(BMC);
    assertEquals(out.results.map((r) => [r.server, r.outcome]), [
      ["kea1", "added"],
      ["kea2", "added"],
      ["kea3", "failed"],
    ]);
    assert(out.results[2].message?.includes("503"));
    assertEquals([a.hosts.length, b.hosts.length, down.hosts.length], [1, 1, 0]);
  });

  await t.step("servers run concurrently", async () => {
    const [a, b] = [createFakeKea(), createFakeKea()];
    a.faults.add({ delayMs: 150 });
    b.faults.add({ delayMs: 150 });
    const c = client({ kea1: a, kea2: b }, { subnetId: 1 });
    const started = performance.now();
    await c.release(BMC.mac, 1);
    assert(performance.now() - started < 280, "both servers were called at the same time");
  });

  await t.step("mixed states converge: one server has it, the other adds", async () => {
    const [a, b] = [createFakeKea(), createFakeKea()];
    const c = client({ kea1: a, kea2: b }, { subnetId: 1 });
    await client({ kea1: a }, { subnetId: 1 }).reserve(BMC);
    const out = await c.reserve(BMC);
    assertEquals(out.results.map((r) => r.outcome), ["unchanged", "added"]);
  });

  await t.step("every server failing throws IntegrationError for kea", async () => {
    const [a, b] = [createFakeKea(), createFakeKea()];
    a.faults.add({ status: 500 });
    b.faults.add({ status: 502 });
    const e = await assertRejects(
      () => client({ kea1: a, kea2: b }, { subnetId: 1 }).reserve(BMC),
      IntegrationError,
    );
    assertEquals(e.integration, "kea");
    assert(e.message.includes("kea1") && e.message.includes("kea2"));
  });

  await t.step("health fails when any server is down", async () => {
    const [a, b] = [createFakeKea(), createFakeKea()];
    await client({ kea1: a, kea2: b }).health();
    b.faults.add({ status: 503 });
    const e = await assertRejects(() => client({ kea1: a, kea2: b }).health(), IntegrationError);
    assert(e.message.includes("kea2"));
  });
});

Deno.test("createKeaClient() handles Kea result codes as Kea returns them", async (t) => {
  await t.step("reservation-get result 0 without arguments means not found", async () => {
    const kea = createFakeKea();
    // Older host_cmds answered "not found" with result 0 and no arguments (both reads).
    kea.faults.add({ status: 200, body: [{ result: 0, text: "Host not found." }], times: 2 });
    const out = await client({ kea1: kea }, { subnetId: 1 }).reserve(BMC);
    assertEquals(out.results[0].outcome, "added");
  });

  await t.step("result 2 (hook not loaded) in api mode fails with the Kea text", async () => {
    const kea = createFakeKea({ hostCmds: false });
    const e = await assertRejects(
      () => client({ kea1: kea }, { subnetId: 1 }).reserve(BMC),
      IntegrationError,
    );
    assert(e.message.includes("result 2") && e.message.includes("not supported"));
  });

  await t.step("result 1 from reservation-add is a failure with the Kea text", async () => {
    const kea = createFakeKea({ subnets: SUBNETS });
    const e = await assertRejects(
      () => client({ kea1: kea }, { subnetId: 3 }).reserve(BMC),
      IntegrationError,
    );
    assert(e.message.includes("IPv4 subnet with id '3' does not exist"), e.message);
  });

  await t.step(
    "reservation-del result 1 'not found' (as the ARM documents) is absent",
    async () => {
      const kea = createFakeKea();
      kea.faults.add({ status: 200, body: [{ result: 1, text: "Host not deleted (not found)." }] });
      const out = await client({ kea1: kea }).release(BMC.mac, 1);
      assertEquals(out.results[0].outcome, "absent");
    },
  );

  await t.step("a non-Kea answer is an error", async () => {
    const kea = createFakeKea();
    kea.faults.add({ status: 200, body: { hello: "world" } });
    await assertRejects(() => client({ kea1: kea }).release(BMC.mac, 1), IntegrationError);
  });
});

Deno.test("createKeaClient() writes only host addresses of the subnet it writes to", async (t) => {
  // KEA_SUBNET_ID is taken as given, and Kea's host database (pgsql mode) checks nothing.
  for (
    const [label, ip, subnetId, why] of [
      ["outside the subnet", "10.16.28.31", 2, "is not inside 172.16.0.0/22"],
      ["the subnet's network address", "10.16.28.0", 1, "network address of 10.16.28.0/24"],
      ["the subnet's broadcast address", "172.16.3.255", 2, "broadcast address of 172.16.0.0/22"],
    ] as const
  ) {
    await t.step(`${label} is refused before anything is written`, async () => {
      const kea = createFakeKea({ subnets: SUBNETS });
      const e = await assertRejects(
        () => client({ kea1: kea }, { subnetId }).reserve({ ...BMC, ip }),
        RangeError,
        why,
      );
      assert(e.message.includes(`Kea subnet ${subnetId}`) && e.message.includes("bmc_ip"));
      assertEquals(kea.hosts, []);
    });
  }
  await t.step("a host address inside it is reserved", async () => {
    const kea = createFakeKea({ subnets: SUBNETS });
    const out = await client({ kea1: kea }, { subnetId: 2 }).reserve({
      ...BMC,
      ip: "172.16.3.254",
    });
    assertEquals(out.results[0].outcome, "added");
  });
});

Deno.test("createKeaClient() picks its backend and subnet", async (t) => {
  await t.step("auto: api when list-commands has reservation-add", async () => {
    const kea = createFakeKea();
    const c = client({ kea1: kea }, { mode: "auto", dbUrl: "postgres://u:p@127.0.0.1:1/kea" });
    assertEquals(await c.backend(), "api");
    await c.backend();
    assertEquals(kea.commands.filter((x) => x.command === "list-commands").length, 1, "cached");
  });

  await t.step("auto: pgsql when host_cmds is missing and a DB URL is set", async () => {
    const kea = createFakeKea({ hostCmds: false });
    const c = client({ kea1: kea }, { mode: "auto", dbUrl: "postgres://u:p@127.0.0.1:1/kea" });
    assertEquals(await c.backend(), "pgsql");
    await c.close();
  });

  await t.step("auto: a clear error when neither is possible", async () => {
    const kea = createFakeKea({ hostCmds: false });
    const e = await assertRejects(() => client({ kea1: kea }, { mode: "auto" }).backend(), Error);
    assert(e.message.includes("host_cmds") && e.message.includes("KEA_DB_URL"));
  });

  await t.step("subnet from config-get by range, cached", async () => {
    const kea = createFakeKea({ subnets: SUBNETS });
    const c = client({ kea1: kea });
    assertEquals(await c.subnetFor("172.16.3.200"), 2);
    assertEquals(await c.subnetFor("10.16.28.7"), 1);
    assertEquals(kea.commands.filter((x) => x.command === "config-get").length, 1);
    await assertRejects(() => c.subnetFor("192.168.1.1"), RangeError, "KEA_SUBNET_ID");
    const out = await c.reserve({ mac: "aa:bb:cc:00:00:33", ip: "172.16.0.33" });
    assertEquals(out.subnetId, 2);
    assertEquals(kea.hosts[0]["subnet-id"], 2);
  });

  await t.step("subnets: one config-get for concurrent callers, again after the TTL", async () => {
    const subnets = [...SUBNETS];
    const kea = createFakeKea({ subnets });
    let clock = 1_000_000;
    const c = client({ kea1: kea }, { now: () => clock });
    const configGets = () => kea.commands.filter((x) => x.command === "config-get").length;
    assertEquals(
      await Promise.all(["10.16.28.7", "172.16.0.9", "10.16.28.8"].map((ip) => c.subnetFor(ip))),
      [1, 2, 1],
    );
    assertEquals(configGets(), 1);
    clock += KEA_SUBNETS_TTL_MS - 1;
    assertEquals(await c.subnetFor("10.16.28.9"), 1);
    assertEquals(configGets(), 1, "cached within the TTL");
    // Renumbered in Kea: seen once the TTL is over.
    subnets[0] = { id: 11, subnet: "10.16.28.0/24" };
    clock += 1;
    assertEquals(await c.subnetFor("10.16.28.9"), 11);
    assertEquals(configGets(), 2);
    // A subnet added in Kea is found at once: a miss asks again.
    subnets.push({ id: 3, subnet: "192.168.7.0/24" });
    assertEquals(await c.subnetFor("192.168.7.20"), 3);
    assertEquals(configGets(), 3);
  });

  await t.step("subnets: a failed config-get is not cached", async () => {
    const kea = createFakeKea({ subnets: SUBNETS });
    const c = client({ kea1: kea });
    kea.faults.add({ status: 503, times: 1 });
    await assertRejects(() => c.subnetFor("10.16.28.7"), IntegrationError);
    assertEquals(await c.subnetFor("10.16.28.7"), 1);
  });

  await t.step("KEA_SUBNET_ID wins over discovery", async () => {
    const kea = createFakeKea({ subnets: SUBNETS });
    assertEquals(await client({ kea1: kea }, { subnetId: 7 }).subnetFor("172.16.0.1"), 7);
    assertEquals(kea.commands.length, 0);
  });
});

Deno.test("createKeaClient() retries transient failures and times out", async (t) => {
  await t.step("two 503s then success", async () => {
    const kea = createFakeKea();
    kea.faults.add({ status: 503, times: 2 });
    const c = client({ kea1: kea }, { subnetId: 1, retry: { attempts: 3, baseDelayMs: 1 } });
    assertEquals((await c.reserve(BMC)).results[0].outcome, "added");
  });

  await t.step("a slow server fails with a timeout naming kea", async () => {
    const kea = createFakeKea();
    kea.faults.add({ delayMs: 300 });
    const c = client({ kea1: kea }, { subnetId: 1, timeoutMs: 50 });
    const e = await assertRejects(() => c.release(BMC.mac, 1), IntegrationError);
    assertEquals([e.integration, e.status], ["kea", 0]);
    assert(e.message.includes("no answer within 50 ms"));
    await new Promise((r) => setTimeout(r, 300)); // let the fault's timer finish
  });

  await t.step("a pgsql failure never shows the DB password", async () => {
    const c = createKeaClient({
      mode: "pgsql",
      servers: [],
      port: 8000,
      subnetId: 1,
      dbUrl: "postgres://kea:Sup3rS3cretPw@127.0.0.1:1/kea",
      timeoutMs: 2000,
    });
    const e = await assertRejects(() => c.reserve(BMC), IntegrationError);
    assertEquals(e.integration, "kea");
    assert(!e.message.includes("Sup3rS3cretPw") && !e.url.includes("Sup3rS3cretPw"), e.message);
    await c.close();
  });
});
