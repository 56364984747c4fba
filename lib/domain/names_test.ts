import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { DEFAULT_NAME_TEMPLATE, deviceName, isKubernetesName } from "./names.ts";

Deno.test("deviceName() fills the template and lower-cases it", async (t) => {
  await t.step("the README example", () => {
    assertEquals(deviceName({ site: "DCOA", rack: "RB06", position: 31 }), "dcoa-rb06u31");
  });
  await t.step(
    "the default template",
    () => assertEquals(DEFAULT_NAME_TEMPLATE, "{site}-{rack}u{position}"),
  );
  await t.step("a custom template with location and tenant", () => {
    assertEquals(
      deviceName({
        site: "dcoa",
        location: "Hall A",
        rack: "RB07",
        position: 2,
        tenant: "Platform",
      }, "{tenant}.{location}-{rack}-{position}"),
      "platform.hall-a-rb07-2",
    );
  });
  await t.step("characters a Kubernetes name cannot hold become '-'", () => {
    assertEquals(deviceName({ site: "dc_1", rack: "R 1/2", position: 3 }), "dc-1-r-1-2u3");
  });
});

Deno.test("isKubernetesName() accepts RFC 1123 subdomains of at most 63 characters", async (t) => {
  for (const name of ["dcoa-rb06u31", "a", "a.b-c", "0abc"]) {
    await t.step(`accepts ${name}`, () => assertEquals(isKubernetesName(name), true));
  }
  for (const name of ["", "-abc", "abc-", "ABC", "a_b", "a..b", "a".repeat(64)]) {
    await t.step(
      `rejects ${JSON.stringify(name)}`,
      () => assertEquals(isKubernetesName(name), false),
    );
  }
});
