import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { EMPTY, goBlocker, registrationBody } from "./model.ts";

const loc = {
  ...EMPTY,
  site: "1",
  location: "2",
  rack: "3",
  position: "12",
  device_type: "4",
  device_role: "5",
};
const ready = {
  macOk: true,
  macHeld: false,
  password: "pw",
  loc,
  position: 12,
  conflicts: [],
  overTop: false,
};

Deno.test("goBlocker() names what is missing first, then a taken or overflowing unit, then a held MAC", () => {
  assertEquals(goBlocker(ready), "");
  assertEquals(
    goBlocker({ ...ready, macOk: false, password: "", loc: { ...loc, rack: "" }, position: 0 }),
    "Missing: BMC MAC, BMC password, rack, U position",
  );
  assertEquals(goBlocker({ ...ready, conflicts: ["srv1"] }), "U12 is taken: pick a free unit");
  assertEquals(
    goBlocker({ ...ready, overTop: true }),
    "The device does not fit below the rack top",
  );
  assertEquals(goBlocker({ ...ready, macHeld: true }), "This BMC MAC is already in use");
});

Deno.test("registrationBody() sends ids as numbers and the optional fields only when set", () => {
  assertEquals(registrationBody("AA:BB:CC:DD:EE:FF", loc, 12, ""), {
    bmc_mac: "AA:BB:CC:DD:EE:FF",
    site: 1,
    location: 2,
    rack: 3,
    position: 12,
    device_type: 4,
    device_role: 5,
  });
  const full = registrationBody(
    "AA:BB:CC:DD:EE:FF",
    { ...loc, bmc_prefix: "7", tenant: "8" },
    12,
    "11:22:33:44:55:66",
  );
  assertEquals([full.bmc_prefix, full.tenant, full.boot_mac], [7, 8, "11:22:33:44:55:66"]);
});
