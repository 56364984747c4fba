import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { scannedMac, scannedPassword } from "./scan_payload.ts";

Deno.test("scannedMac() finds the MAC in every label format and ignores other codes", async (t) => {
  await t.step("bare, colon, dash, dotted and prefixed", () => {
    for (const v of ["3CECEFA19CE8", "3c:ec:ef:a1:9c:e8", "3C-EC-EF-A1-9C-E8", "3cec.efa1.9ce8"]) {
      assertEquals(scannedMac(v), "3c:ec:ef:a1:9c:e8", v);
    }
    assertEquals(scannedMac("MAC: 3CECEFA19CE8"), "3c:ec:ef:a1:9c:e8");
    assertEquals(scannedMac("BMC:ADMIN/RXYFTZXRQY MAC:3CECEFA19CE8"), "3c:ec:ef:a1:9c:e8");
  });
  await t.step("a password, a serial or a multicast MAC is not a MAC", () => {
    assertEquals(scannedMac("RXYFTZXRQY"), null);
    assertEquals(scannedMac("S42SIM000123456789"), null);
    assertEquals(scannedMac("01:00:5e:00:00:01"), null);
  });
});

Deno.test("scannedPassword() takes passwords and ignores MAC labels", async (t) => {
  await t.step("a plain password and labelled fields", () => {
    assertEquals(scannedPassword("RXYFTZXRQY"), "RXYFTZXRQY");
    assertEquals(scannedPassword("PASSWORD: RXYFTZXRQY"), "RXYFTZXRQY");
    assertEquals(scannedPassword("BMC:ADMIN/RXYFTZXRQY MAC:3CECEFA19CE8"), "RXYFTZXRQY");
  });
  await t.step("a MAC scanned while the password is asked is ignored", () => {
    assertEquals(scannedPassword("3CECEFA19CE8"), null);
    assertEquals(scannedPassword("3c:ec:ef:a1:9c:e8"), null);
    assertEquals(scannedPassword(""), null);
  });
});
