/** Read-only pre-flight: the import dry run and the MAC holders asked by the PWA at the scan. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { dumpKv, FULL_ITEM, startTestApp } from "./app_harness.ts";

const FOREIGN_MAC = "3c:ec:ef:00:00:99";
/** A reservation made outside this service, as Kea stores it. */
const foreignHost = (ip: string) => ({
  "subnet-id": 1,
  "hw-address": FOREIGN_MAC,
  "ip-address": ip,
  hostname: "legacy-box-bmc",
  "next-server": "0.0.0.0",
  "server-hostname": "",
  "boot-file-name": "",
  "client-classes": [],
  "option-data": [],
});

Deno.test("POST /servers/import?dry_run=true runs the pre-flight of an import and writes nothing", async () => {
  await using app = await startTestApp();
  // A MAC Kea already reserves for another machine: a conflict only the pre-flight sees.
  for (const kea of app.world.kea) {
    kea.hosts.push(foreignHost("10.16.28.200"));
  }
  const before = await dumpKv(app.deps.kv);
  const devices = app.world.netbox.devices.size;
  const res = await app.call("POST", "/api/v1/servers/import?dry_run=true", [
    FULL_ITEM,
    { ...FULL_ITEM, device_name: "dcoa-rb06u32", bmc_mac: FOREIGN_MAC, position: 32 },
    { ...FULL_ITEM, device_name: "dcoa-rb06u3", bmc_mac: "3c:ec:ef:00:00:98", position: 3 },
    { ...FULL_ITEM, device_name: "Bad Name" },
    { ...FULL_ITEM, device_name: "dcoa-rb06u33", bmc_mac: "3c:ec:ef:00:00:97", rack: "NOPE" },
  ]);
  assertEquals(res.status, 200);
  assertEquals(res.body.map((r: { status: string }) => r.status), [
    "ready",
    "failed",
    "failed",
    "failed",
    "failed",
  ]);
  assertEquals(res.body[0].device_name, "dcoa-rb06u31");
  assert(res.body[1].error.includes("legacy-box-bmc"), res.body[1].error);
  assert(res.body[2].error.includes("dcoa-rb06u3"), res.body[2].error);
  assert(res.body[3].fields.device_name, JSON.stringify(res.body[3]));
  assert(res.body[4].error.includes("NOPE"), res.body[4].error);
  assertEquals(await dumpKv(app.deps.kv), before);
  assertEquals(app.world.netbox.devices.size, devices);
  assertEquals(app.world.openbao.versions("bmc/dcoa-rb06u31").length, 0);
});

Deno.test("GET /macs/:mac names who holds a BMC MAC: this service, Netbox or Kea", async (t) => {
  await using app = await startTestApp();
  await t.step("a free MAC is held by nobody", async () => {
    const res = await app.call("GET", "/api/v1/macs/3CEC.EF00.0001");
    assertEquals(res.status, 200);
    assertEquals(res.body, {
      bmc_mac: "3c:ec:ef:00:00:01",
      registration: null,
      netbox_devices: [],
      kea_reservations: [],
    });
  });
  await t.step("a registered MAC names its registration, not its own Netbox device", async () => {
    const { device_name: _, ...request } = FULL_ITEM;
    const reg = await app.call("POST", "/api/v1/servers/register?wait=30", request);
    assertEquals(reg.status, 201, reg.text);
    const res = await app.call("GET", "/api/v1/macs/3c-ec-ef-a1-9c-e8");
    assertEquals(res.body.registration.device_name, "dcoa-rb06u31");
    assertEquals(res.body.registration.id, reg.body.id);
    assertEquals(res.body.netbox_devices, []);
    assertEquals(res.body.kea_reservations, []);
  });
  await t.step("a Kea reservation for another machine is named", async () => {
    app.world.kea[0].hosts.push(foreignHost("10.16.28.201"));
    const res = await app.call("GET", `/api/v1/macs/${FOREIGN_MAC}`);
    assertEquals(res.body.kea_reservations, [
      { hostname: "legacy-box-bmc", ip: "10.16.28.201", subnet_id: 1 },
    ]);
  });
  await t.step("not a MAC: 400 naming the field", async () => {
    const res = await app.call("GET", "/api/v1/macs/zz");
    assertEquals(res.status, 400);
    assert(res.text.includes("mac"), res.text);
  });
});
