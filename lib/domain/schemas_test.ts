import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { fieldErrors, importItemSchema, registerRequestSchema } from "./schemas.ts";

const valid = {
  bmc_mac: "3CECEFA19CE8",
  bmc_password: "S3cr3t!pass",
  site: "dcoa",
  location: "hall-a",
  rack: "RB06",
  position: 31,
  device_type: 3,
  device_role: "server",
};

function errors(schema: typeof registerRequestSchema | typeof importItemSchema, input: unknown) {
  const r = schema.safeParse(input);
  return r.success ? {} : fieldErrors(r.error);
}

Deno.test("registerRequestSchema normalises a valid request", () => {
  const r = registerRequestSchema.parse({
    ...valid,
    position: "31",
    boot_mac: "0c-c4-7a-00-00-01",
  });
  assertEquals([r.bmc_mac, r.position, r.boot_mac], ["3c:ec:ef:a1:9c:e8", 31, "0c:c4:7a:00:00:01"]);
});

Deno.test("registerRequestSchema names each bad field with an actionable message", async (t) => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    [
      "MAC format",
      { bmc_mac: "3c:ec" },
      "bmc_mac",
      "Not a MAC address: use 12 hex digits, e.g. 3c:ec:ef:a1:9c:e8",
    ],
    [
      "multicast MAC",
      { bmc_mac: "01:00:5e:00:00:01" },
      "bmc_mac",
      "A multicast MAC cannot be a BMC address",
    ],
    ["zero MAC", { bmc_mac: "000000000000" }, "bmc_mac", "The all-zero MAC is not a real address"],
    ["empty password", { bmc_password: "" }, "bmc_password", "Required: the BMC password"],
    [
      "long password",
      { bmc_password: "x".repeat(129) },
      "bmc_password",
      "The BMC password is longer than 128 characters",
    ],
    [
      "control character",
      { bmc_password: "a\tb" },
      "bmc_password",
      "The BMC password may only contain printable ASCII characters",
    ],
    [
      "missing site",
      { site: undefined },
      "site",
      "Required: the site (its Netbox id, slug or name)",
    ],
    ["position zero", { position: 0 }, "position", "The U position starts at 1"],
    ["half U", { position: 1.5 }, "position", "The U position must be a whole number"],
    ["not a number", { position: "top" }, "position", "The U position must be a number"],
    [
      "bad prefix",
      { bmc_prefix: "10.16.28.0" },
      "bmc_prefix",
      "The BMC prefix must be a Netbox prefix id or a CIDR, e.g. 10.16.28.0/24",
    ],
    [
      "bad boot MAC",
      { boot_mac: "xyz" },
      "boot_mac",
      "Not a MAC address: use 12 hex digits, e.g. 3c:ec:ef:a1:9c:e8",
    ],
    ["unknown field", { colour: "red" }, "colour", "Unknown field"],
  ];
  for (const [label, change, field, message] of cases) {
    await t.step(label, () => {
      const e = errors(registerRequestSchema, { ...valid, ...change });
      assertEquals(e[field], message);
    });
  }
});

Deno.test("importItemSchema: device name rules, optional Netbox fields, IP inside the prefix", async (t) => {
  const item = {
    device_name: "dcoa-rb07u12",
    bmc_mac: "3cec.efa1.9cf0",
    bmc_password: "pw",
    bmc_ip: "10.16.28.40",
  };
  await t.step(
    "MAC + password + IP is enough",
    () => assertEquals(errors(importItemSchema, item), {}),
  );
  await t.step("upper case names are lower-cased", () => {
    assertEquals(
      importItemSchema.parse({ ...item, device_name: "DCOA-RB07U12" }).device_name,
      "dcoa-rb07u12",
    );
  });
  await t.step("invalid Kubernetes name", () => {
    assertEquals(Object.keys(errors(importItemSchema, { ...item, device_name: "a_b" })), [
      "device_name",
    ]);
  });
  await t.step("bad IPv4", () => {
    assertEquals(
      errors(importItemSchema, { ...item, bmc_ip: "10.16.28.300" }).bmc_ip,
      "Not an IPv4 address, e.g. 10.16.28.31",
    );
  });
  await t.step("IP outside the prefix", () => {
    assertEquals(
      errors(importItemSchema, { ...item, bmc_prefix: "10.16.29.0/24" }).bmc_ip,
      "10.16.28.40 is not inside the BMC prefix 10.16.29.0/24",
    );
  });
});

Deno.test("bmc_system: a Redfish system Id or path, on register, import and retry", async (t) => {
  const { bmcSystemSchema, retryRequestSchema } = await import("./schemas.ts");
  await t.step("accepted", () => {
    for (const v of ["Node1", "System.Embedded.1", "/redfish/v1/Systems/1", " Self "]) {
      assertEquals(bmcSystemSchema.safeParse(v).success, true, v);
    }
    assertEquals(retryRequestSchema.parse({ bmc_system: "Node0" }), { bmc_system: "Node0" });
  });
  await t.step("refused, naming the field", () => {
    for (
      const v of ["", "../x", "https://evil.example/redfish/v1/Systems/1", "/redfish/v1/Chassis/1"]
    ) {
      const r = retryRequestSchema.safeParse({ bmc_system: v });
      assertEquals(r.success ? [] : [...new Set(r.error.issues.map((i) => i.path.join(".")))], [
        "bmc_system",
      ], v);
    }
  });
});

Deno.test("rotate: true or false on register requests and import items, anything else named", () => {
  assertEquals(registerRequestSchema.parse({ ...valid, rotate: true }).rotate, true);
  assertEquals(registerRequestSchema.parse({ ...valid, rotate: false }).rotate, false);
  assertEquals(registerRequestSchema.parse(valid).rotate, undefined);
  assertEquals(
    errors(registerRequestSchema, { ...valid, rotate: "yes" }).rotate,
    "Must be true or false",
  );
  const item = { device_name: "dcoa-rb07u12", bmc_mac: "3cec.efa1.9cf0", bmc_password: "p" };
  assertEquals(importItemSchema.parse({ ...item, rotate: true }).rotate, true);
  assertEquals(errors(importItemSchema, { ...item, rotate: 1 }).rotate, "Must be true or false");
});
