import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { createdRows, formatTime } from "./format.ts";

Deno.test("formatTime() writes year-first 24 h times whatever the locale", () => {
  const local = new Date(2026, 11, 6, 23, 27, 41).toISOString();
  assertEquals(formatTime(local), "2026-12-06 23:27");
  assertEquals(formatTime("not a date"), "not a date");
});

Deno.test("createdRows() links the Netbox device to its Netbox page", () => {
  const rows = createdRows({ netbox_device_id: 42, metal3_bmh: "dcoa-rb06u12" }, "https://nb/api/");
  assertEquals(rows, [
    { label: "Netbox device", value: "#42", href: "https://nb/dcim/devices/42/" },
    { label: "BareMetalHost", value: "dcoa-rb06u12" },
  ]);
});
