import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { canonicalMac, macProblem, macVendor } from "./mac.ts";

Deno.test("canonicalMac() accepts every label format and returns lower-case colon form", async (t) => {
  for (
    const input of [
      "3CECEFA19CE8",
      "3cecefa19ce8",
      "3c:ec:ef:a1:9c:e8",
      "3C:EC:EF:A1:9C:E8",
      "3C-EC-EF-A1-9C-E8",
      "3cec.efa1.9ce8",
      "  3c:ec:ef:a1:9c:e8\n",
    ]
  ) {
    await t.step(
      JSON.stringify(input),
      () => assertEquals(canonicalMac(input), "3c:ec:ef:a1:9c:e8"),
    );
  }
});

Deno.test("macProblem() rejects bad formats, multicast and all-zero MACs", async (t) => {
  const cases: [string, string | null][] = [
    ["3c:ec:ef:a1:9c", "format"],
    ["3c:ec:ef:a1:9c:e8:00", "format"],
    ["3c:ec-ef:a1:9c:e8", "format"],
    ["3cec.efa1.9ce", "format"],
    ["gg:ec:ef:a1:9c:e8", "format"],
    ["", "format"],
    ["01:00:5e:00:00:01", "multicast"],
    ["ff:ff:ff:ff:ff:ff", "multicast"],
    ["3d:ec:ef:a1:9c:e8", "multicast"],
    ["00:00:00:00:00:00", "zero"],
    ["000000000000", "zero"],
    ["02:00:00:00:00:01", null],
  ];
  for (const [input, problem] of cases) {
    await t.step(
      `${JSON.stringify(input)} → ${problem}`,
      () => assertEquals(macProblem(input), problem),
    );
  }
  assertEquals(canonicalMac("01:00:5e:00:00:01"), null);
});

Deno.test("macVendor() names common server vendors from the OUI", () => {
  assertEquals(macVendor("3CECEFA19CE8"), "Supermicro");
  assertEquals(macVendor("d0:94:66:00:00:01"), "Dell");
  assertEquals(macVendor("02:00:00:00:00:01"), null);
  assertEquals(macVendor("nope"), null);
});
