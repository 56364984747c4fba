/** Metal3 object builders: the objects validate against the real BareMetalHost CRD schema, and BMC
 * addresses follow the operator's URL schemes. */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import {
  bareMetalHost,
  bmcAddress,
  bmcSecret,
  FIELD_MANAGER,
  hostLabels,
  LABEL_MANAGED_BY,
  LABEL_NETBOX_DEVICE_ID,
  LABEL_RACK,
  LABEL_SITE,
  labelValue,
  needsBootMac,
  statusView,
} from "../lib/domain/metal3.ts";
import {
  bareMetalHostAdmission,
  BMH_CRD_URL,
  loadBareMetalHostValidator,
} from "../sim/kubernetes/mod.ts";

function assertThrows(fn: () => unknown, type: ErrorConstructor, includes: string) {
  throws(fn, (e: unknown) => e instanceof type && (e as Error).message.includes(includes));
}

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function sampleHost(bootMac?: string) {
  return bareMetalHost({
    name: "dcoa-rb06u31",
    namespace: "metal3",
    bmcAddress: bmcAddress("ipmi", "10.16.28.31"),
    credentialsName: "dcoa-rb06u31-bmc-secret",
    bootMac,
    labels: hostLabels({ site: "DCOA", rack: "RB06 / row 2", netboxDeviceId: 4711 }),
  });
}

Deno.test("bareMetalHost() builds an object the BareMetalHost CRD schema accepts", async (t) => {
  // The CRD must really be there: a fallback validator would make this test meaningless.
  await Deno.stat(BMH_CRD_URL);
  const validate = await loadBareMetalHostValidator();

  await t.step("with a boot MAC", () => {
    const host = sampleHost("0C:C4:7A:11:22:33");
    assertEquals(validate(host), { causes: [], unknownFields: [] });
    assertEquals(host.spec.online, false);
    assertEquals(host.spec.automatedCleaningMode, "disabled");
    assertEquals(host.spec.bootMACAddress, "0c:c4:7a:11:22:33");
    assertEquals(host.spec.bmc, {
      address: "ipmi://10.16.28.31",
      credentialsName: "dcoa-rb06u31-bmc-secret",
    });
  });

  await t.step("without a boot MAC the field is absent, not empty", () => {
    const host = sampleHost();
    assert(!("bootMACAddress" in host.spec));
    assertEquals(validate(host).causes, []);
  });

  await t.step("labels are ours and valid label values", () => {
    const labels = sampleHost().metadata.labels!;
    assertEquals(labels[LABEL_SITE], "DCOA");
    assertEquals(labels[LABEL_RACK], "RB06-row-2");
    assertEquals(labels[LABEL_NETBOX_DEVICE_ID], "4711");
    assertEquals(labels[LABEL_MANAGED_BY], FIELD_MANAGER);
    for (const v of Object.values(labels)) assert(LABEL_VALUE.test(v) && v.length <= 63, v);
    assert(Object.keys(labels).every((k) => !k.includes("metal3.io")));
  });

  await t.step("the validator rejects what the CRD rejects", () => {
    const bad = sampleHost() as unknown as { spec: Record<string, unknown> };
    bad.spec.bootMACAddress = "not-a-mac";
    bad.spec.automatedCleaningMode = "sometimes";
    bad.spec.online = "no";
    const fields = validate(bad).causes.map((c) => c.field).sort();
    assertEquals(fields, ["spec.automatedCleaningMode", "spec.bootMACAddress", "spec.online"]);
    const noAddress = sampleHost() as unknown as { spec: { bmc: Record<string, unknown> } };
    delete noAddress.spec.bmc.address;
    assertEquals(validate(noAddress).causes.map((c) => c.field), ["spec.bmc.address"]);
    const extra = sampleHost() as unknown as { spec: Record<string, unknown> };
    extra.spec.bootMac = "0c:c4:7a:11:22:33";
    assertEquals(validate(extra).unknownFields, ["spec.bootMac"]);
  });
});

Deno.test("bmcSecret() builds the credentials Secret Metal3 reads", () => {
  const secret = bmcSecret({
    name: "dcoa-rb06u31-bmc-secret",
    namespace: "metal3",
    username: "ADMIN",
    password: "s3cret!",
  });
  assertEquals(secret.apiVersion, "v1");
  assertEquals(secret.kind, "Secret");
  assertEquals(secret.type, "Opaque");
  assertEquals(secret.stringData, { username: "ADMIN", password: "s3cret!" });
  assertEquals(secret.metadata.labels?.["environment.metal3.io"], "baremetal");
  assertEquals(secret.metadata.labels?.[LABEL_MANAGED_BY], FIELD_MANAGER);
});

Deno.test("bmcAddress() writes the URL scheme of each driver", async (t) => {
  const ip = "10.16.28.31";
  const cases: [string, string | undefined, string][] = [
    ["ipmi", undefined, "ipmi://10.16.28.31"],
    ["libvirt", undefined, "libvirt://10.16.28.31"],
    ["redfish", "/redfish/v1/Systems/1", "redfish://10.16.28.31/redfish/v1/Systems/1"],
    ["redfish", "redfish/v1/Systems/1", "redfish://10.16.28.31/redfish/v1/Systems/1"],
    ["redfish", undefined, "redfish://10.16.28.31"],
    ["redfish+http", "/redfish/v1/Systems/1", "redfish+http://10.16.28.31/redfish/v1/Systems/1"],
    [
      "redfish-virtualmedia",
      "/redfish/v1/Systems/1",
      "redfish-virtualmedia://10.16.28.31/redfish/v1/Systems/1",
    ],
    ["redfish-uefihttp", undefined, "redfish-uefihttp://10.16.28.31"],
    [
      "idrac-virtualmedia",
      undefined,
      "idrac-virtualmedia://10.16.28.31/redfish/v1/Systems/System.Embedded.1",
    ],
    [
      "idrac-redfish",
      undefined,
      "idrac-redfish://10.16.28.31/redfish/v1/Systems/System.Embedded.1",
    ],
  ];
  for (const [driver, path, expected] of cases) {
    await t.step(`${driver} ${path ?? "(no system path)"}`, () => {
      assertEquals(bmcAddress(driver, ip, path), expected);
    });
  }
  await t.step("IPv6 hosts are bracketed", () => {
    assertEquals(bmcAddress("ipmi", "fd00::31"), "ipmi://[fd00::31]");
  });
  await t.step("removed and unknown drivers are refused", () => {
    assertThrows(() => bmcAddress("irmc", ip), RangeError, "removed");
    assertThrows(() => bmcAddress("idrac", ip), RangeError, "removed");
    assertThrows(() => bmcAddress("bogus", ip), RangeError, "Unknown");
  });
  await t.step("every address passes the operator's scheme check in the fake", async () => {
    const validate = await loadBareMetalHostValidator();
    for (const [driver, path] of cases) {
      const host = bareMetalHost({
        name: "h",
        namespace: "metal3",
        bmcAddress: bmcAddress(driver, ip, path),
        credentialsName: "h-bmc-secret",
        bootMac: "0c:c4:7a:11:22:33",
        labels: {},
      });
      assertEquals(validate(host).causes, []);
      assertEquals(bareMetalHostAdmission(host), null);
    }
    const bad = bareMetalHost({
      name: "h",
      namespace: "metal3",
      bmcAddress: "irmc://10.16.28.31",
      credentialsName: "h-bmc-secret",
      labels: {},
    });
    assert(bareMetalHostAdmission(bad)?.includes("Unknown BMC type 'irmc'"));
  });
});

// SPEC §6.2 (corrected 2026-12-06): the operator's NeedsMAC() is true for libvirt only.
Deno.test("needsBootMac() is true for libvirt only, as the operator's NeedsMAC()", () => {
  assert(needsBootMac("libvirt"));
  for (
    const d of [
      "ipmi",
      "redfish",
      "idrac-redfish",
      "redfish+https",
      "redfish-virtualmedia",
      "idrac-virtualmedia",
      "redfish-virtualmedia+http",
    ]
  ) {
    assert(!needsBootMac(d), d);
  }
});

Deno.test("labelValue() makes any string a valid label value", () => {
  assertEquals(labelValue("DC OA/B"), "DC-OA-B");
  assertEquals(labelValue("-x-"), "x");
  assertEquals(labelValue(42), "42");
  const long = labelValue("a".repeat(62) + "-b");
  assert(long.length <= 63 && LABEL_VALUE.test(long));
  assertEquals(labelValue("ok_value.1"), "ok_value.1");
});

Deno.test("statusView() reads the provisioning status, with empty defaults", () => {
  assertEquals(statusView({}), {
    state: "",
    operationalStatus: "",
    poweredOn: false,
    errorMessage: "",
  });
  assertEquals(
    statusView({
      status: {
        operationalStatus: "error",
        poweredOn: true,
        errorMessage: "BMC unreachable",
        provisioning: { state: "registering", ID: "x" },
      },
    }),
    {
      state: "registering",
      operationalStatus: "error",
      poweredOn: true,
      errorMessage: "BMC unreachable",
    },
  );
});
