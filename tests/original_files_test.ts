/**
 * The original system's own files, end to end: its YAML device list merged with its Kea
 * reservations file, imported as they are, gives one working BareMetalHost per server.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { mergeImport } from "../lib/domain/merge_import.ts";
import { loadBareMetalHostValidator } from "../sim/kubernetes/mod.ts";
import { startTestApp } from "./app_harness.ts";

const read = (name: string) =>
  Deno.readTextFile(new URL(`./testdata/merge/original/${name}`, import.meta.url));

Deno.test("an original-style YAML list merged with its Kea file imports: every server ok, with a BareMetalHost the CRD accepts", async () => {
  const merged = mergeImport(await read("servers.yaml"), await read("bmc-reservations.json"));
  const items = merged.items;
  assert(items.length >= 4, `merged ${items.length} items`);
  // The original's items carry no boot MAC: Metal3's inspection finds the NICs.
  assert(items.every((i) => !("boot_mac" in i)));

  await using app = await startTestApp();
  const res = await app.call("POST", "/api/v1/servers/import", items);
  assertEquals(res.status, 200, res.text);
  assertEquals(
    res.body.map((r: { device_name: string; status: string }) => [r.device_name, r.status]),
    items.map((i) => [i.device_name, "ok"]),
  );

  const validate = await loadBareMetalHostValidator();
  for (const item of items) {
    const host = app.world.kubernetes.state.bareMetalHost("metal3", item.device_name as string);
    assert(host, `a BareMetalHost for ${item.device_name}`);
    assertEquals(host.spec.bmc?.address, `ipmi://${item.bmc_ip}`);
    // No boot MAC was given: the one the simulated BMC names over Redfish, or none.
    assert(host.spec.bootMACAddress !== item.bmc_mac);
    assertEquals(validate(host), { causes: [], unknownFields: [] });
  }
});
