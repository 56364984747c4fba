/** Tests of merge-import: lib/domain/merge_import.ts and the `deno task merge-import` command. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  bmcReservations,
  hasErrors,
  hostnameCandidates,
  mergeImport,
  type MergeResult,
} from "../lib/domain/merge_import.ts";
import { parseKeaJson } from "../lib/domain/kea_json.ts";
import { importItemSchema } from "../lib/domain/schemas.ts";

const DATA = new URL("./testdata/merge/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(name, DATA));
const BMC_DOMAIN = ".bmc.platform.sunet.se";

function kinds(result: MergeResult, severity: "error" | "warning" = "error"): string[] {
  return result.problems.filter((p) => p.severity === severity).map((p) =>
    `${p.kind}:${p.device_name ?? ""}`
  );
}

function assertIncludes(text: string, part: string) {
  assert(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

/** Every emitted item must be accepted as-is by the import API. */
function assertValidItems(result: MergeResult) {
  for (const item of result.items) assertEquals(importItemSchema.parse(item), item);
}

Deno.test("hostnameCandidates() strips domains and name affixes", async (t) => {
  await t.step("configured domains, longest first, case-insensitive", () => {
    const opts = { domains: ["platform.sunet.se", BMC_DOMAIN], prefixes: [], suffixes: [] };
    assertEquals(hostnameCandidates("DCOA-RB06U31.BMC.Platform.Sunet.SE.", opts), [
      "dcoa-rb06u31.bmc.platform.sunet.se",
      "dcoa-rb06u31",
    ]);
  });

  await t.step("without domains the first label is used", () => {
    assertEquals(hostnameCandidates("dcoa-rb06u31.example.org", { prefixes: [], suffixes: [] }), [
      "dcoa-rb06u31.example.org",
      "dcoa-rb06u31",
    ]);
  });

  await t.step("a hostname outside the configured domains keeps its name", () => {
    assertEquals(
      hostnameCandidates("dcoa-rb06u31.pxe.example.org", { domains: [".mgmt"], suffixes: [] }),
      ["dcoa-rb06u31.pxe.example.org"],
    );
  });

  await t.step("default prefixes and suffixes, exact name first", () => {
    assertEquals(hostnameCandidates("bmc-dcoa-rb06u31-ipmi.mgmt", { domains: [".mgmt"] }), [
      "bmc-dcoa-rb06u31-ipmi.mgmt",
      "bmc-dcoa-rb06u31-ipmi",
      "dcoa-rb06u31-ipmi",
      "bmc-dcoa-rb06u31",
      "dcoa-rb06u31",
    ]);
  });

  await t.step("custom affixes replace the defaults; empty ones turn them off", () => {
    assertEquals(hostnameCandidates("oob-x1", { prefixes: ["OOB-"], suffixes: [""] }), [
      "oob-x1",
      "x1",
    ]);
    assertEquals(hostnameCandidates("bmc-x1-bmc", { prefixes: [""], suffixes: [""] }), [
      "bmc-x1-bmc",
    ]);
  });
});

Deno.test("mergeImport() merges the README example", async (t) => {
  const expected = [
    {
      device_name: "dcoa-rb06u31",
      bmc_mac: "3c:ec:ef:a1:9c:e8",
      bmc_password: "S3cr3t!pass",
      bmc_ip: "10.16.28.31",
    },
    {
      device_name: "dcoa-rb06u32",
      bmc_mac: "3c:ec:ef:a1:9c:f2",
      bmc_password: "An0ther-pass",
      bmc_ip: "10.16.28.32",
      bmc_username: "root",
    },
  ];

  await t.step("with the BMC domain configured", () => {
    const result = mergeImport(read("servers.yaml"), read("bmc-reservations.json"), {
      domains: [BMC_DOMAIN],
    });
    assertEquals(result.items, expected);
    assertEquals(result.problems, []);
    assertEquals(result.unmatchedReservations.map((r) => r.hostname), [
      "dcoa-rb07u01.bmc.platform.sunet.se",
    ]);
    assertValidItems(result);
  });

  await t.step("with no domain configured (first label)", () => {
    const result = mergeImport(read("servers.yaml"), read("bmc-reservations.json"));
    assertEquals(result.items, expected);
    assert(!hasErrors(result));
  });

  await t.step("from a plain list, with a -bmc suffix and a bare MAC", () => {
    const result = mergeImport(read("servers.yaml"), read("reservations-list.json"));
    assertEquals(result.items, expected);
  });
});

Deno.test("mergeImport() reads a whole Kea config with comments", async (t) => {
  const kea = read("kea-dhcp4.conf");

  await t.step("all three comment styles, and // and # inside strings", () => {
    const doc = parseKeaJson(kea) as { Dhcp4: Record<string, Record<string, unknown>> };
    assertEquals(doc.Dhcp4["lease-database"].password, "kea//pw#1");
    const hosts = bmcReservations(doc).map((r) => r.hostname);
    assertEquals(hosts, [
      "bmc-dcoa-rb06u41.mgmt",
      "dcoa-rb06u31.bmc.platform.sunet.se",
      "dcoa-rb06u33-ipmi.bmc.platform.sunet.se",
      "switch-mgmt-1.bmc.platform.sunet.se",
      "dcoa-rb06u31-pxe.platform.sunet.se",
    ]);
  });

  await t.step("global and subnet reservations, prefix and suffix, overrides", () => {
    const result = mergeImport(read("servers-kea-config.yaml"), kea, {
      domains: [BMC_DOMAIN, ".mgmt"],
    });
    assertEquals(result.problems, []);
    assertEquals(result.items, [
      {
        device_name: "dcoa-rb06u31",
        bmc_mac: "3c:ec:ef:a1:9c:e8",
        bmc_password: "S3cr3t!pass",
        bmc_ip: "10.16.28.31",
        site: "dcoa",
        location: "dcoa-hall-1",
        rack: "B06",
        position: 31,
        device_type: "supermicro-as-1115hs-tnr",
        device_role: "compute",
        bmc_prefix: "10.16.28.0/24",
      },
      {
        device_name: "dcoa-rb06u33",
        bmc_mac: "3c:ec:ef:a1:9c:f3",
        // Written unquoted in YAML: kept as typed, not read as the number 123.
        bmc_password: "0123",
        bmc_ip: "10.16.28.33",
        bmc_username: "root",
      },
      {
        device_name: "dcoa-rb06u41",
        bmc_mac: "3c:ec:ef:a1:9d:01",
        bmc_password: "Pa55#word",
        bmc_ip: "10.16.28.41",
        boot_mac: "3c:ec:ef:a1:77:41",
      },
    ]);
    // The client-id reservation and the PXE NIC stay unmatched instead of failing the merge.
    assertEquals(result.unmatchedReservations.length, 2);
    assertValidItems(result);
  });

  await t.step("a comment marker inside a string on a reservation's line", () => {
    const text = `[ // BMCs
      {"hw-address": "3c:ec:ef:a1:9c:e8", "ip-address": "10.16.28.31", "hostname": "dcoa-rb06u31",
       "user-context": {"doc": "https://wiki.example.org/bmc#rack-b06 /* not a comment */"}} # end
    ]`;
    const result = mergeImport("- {device_name: dcoa-rb06u31, bmc_password: pw-1234}", text);
    assertEquals(result.problems, []);
    assertEquals(result.items.map((i) => i.bmc_ip), ["10.16.28.31"]);
  });

  await t.step("text that is not Kea JSON is reported, not thrown", () => {
    const result = mergeImport(read("servers.yaml"), '{"reservations": [ {"hw-address": }');
    assertEquals(kinds(result), ["invalid_kea:"]);
    assertEquals(result.items, []);
  });
});

Deno.test("mergeImport() reports problems and leaves bad devices out", async (t) => {
  const result = mergeImport(read("servers-problems.yaml"), read("reservations-problems.json"));
  const message = (kind: string, device: string) =>
    result.problems.find((p) => p.kind === kind && p.device_name === device)?.message ?? "";

  await t.step("only the good device is emitted", () => {
    assertEquals(result.items.map((i) => i.device_name), ["dcoa-rb06u31"]);
    assert(hasErrors(result));
    assertValidItems(result);
  });

  await t.step("missing password", () => {
    assertIncludes(message("missing_password", "dcoa-rb06u32"), "dcoa-rb06u32 has no bmc_password");
  });

  await t.step("same device twice in the YAML", () => {
    assertIncludes(message("duplicate_device", "dcoa-rb06u34"), "listed 2 times");
    assertIncludes(message("duplicate_device", "dcoa-rb06u34"), "entries 3, 4");
  });

  await t.step("two different reservations for one device", () => {
    const m = message("duplicate_reservation", "dcoa-rb06u35");
    assertIncludes(m, "10.16.28.35");
    assertIncludes(m, "10.16.28.135");
  });

  await t.step("an identical reservation listed twice is only a warning", () => {
    assertEquals(kinds(result, "warning"), ["duplicate_reservation:dcoa-rb06u31"]);
  });

  await t.step("unusable MAC", () => {
    assertIncludes(message("invalid_mac", "dcoa-rb06u36"), "multicast");
  });

  await t.step("device without reservation, and the unmatched reservation", () => {
    assertIncludes(message("unmatched_device", "dcoa-rb06u37"), "no BMC reservation");
    assertEquals(result.unmatchedReservations.map((r) => r.hostname), ["dcoa-rb06u38"]);
  });

  await t.step("exactly these errors", () => {
    assertEquals(kinds(result).sort(), [
      "duplicate_device:dcoa-rb06u34",
      "duplicate_reservation:dcoa-rb06u35",
      "invalid_mac:dcoa-rb06u36",
      "missing_password:dcoa-rb06u32",
      "unmatched_device:dcoa-rb06u37",
    ]);
  });

  await t.step("no problem message shows a password", () => {
    const all = result.problems.map((p) => p.message).join("\n");
    for (const pw of ["S3cr3t!pass", "Dup1-pass", "Dup2-pass", "Two-reservations"]) {
      assert(!all.includes(pw), `password ${pw} in messages`);
    }
  });
});

Deno.test("mergeImport() checks entries and the merged items", async (t) => {
  const kea = JSON.stringify([
    { "hw-address": "3c:ec:ef:a1:9c:e8", "ip-address": "10.16.28.31", hostname: "bmc-a1" },
    { "hw-address": "3c:ec:ef:a1:9c:e8", "ip-address": "10.16.28.32", hostname: "a2" },
    { "hw-address": "3c:ec:ef:a1:9c:e9", "ip-address": "10.16.28.33", hostname: "a3-bmc" },
  ]);

  await t.step("an exact name wins over a prefix match", () => {
    const yaml = "- {device_name: bmc-a1, bmc_password: pw-one}\n" +
      "- {device_name: a1, bmc_password: pw-two}\n";
    const result = mergeImport(yaml, kea);
    assertEquals(result.items.map((i) => i.device_name), ["bmc-a1"]);
    assertEquals(kinds(result), ["unmatched_device:a1"]);
  });

  await t.step("two devices on one BMC MAC are both refused", () => {
    const yaml = "- {device_name: a1, bmc_password: pw-one}\n" +
      "- {device_name: a2, bmc_password: pw-two}\n";
    const result = mergeImport(yaml, kea);
    assertEquals(result.items, []);
    assertEquals(kinds(result), ["duplicate_mac:a1"]);
    assertIncludes(
      result.problems[0].message,
      "a1 and a2 would share the BMC MAC 3c:ec:ef:a1:9c:e8",
    );
  });

  await t.step("an item the import API would reject", () => {
    const yaml = "- {device_name: a3, bmc_password: pw-three, bmc_prefix: 10.16.29.0/24}\n";
    const result = mergeImport(yaml, kea);
    assertEquals(result.items, []);
    assertIncludes(
      result.problems[0].message,
      "bmc_ip: 10.16.28.33 is not inside the BMC prefix 10.16.29.0/24",
    );
  });

  await t.step("unknown fields, entries without a name, and a YAML that is not a list", () => {
    const bad = mergeImport(
      "- {device_name: a3, bmc_password: pw, bmc_pasword: typo}\n- {bmc_password: pw}\n- just-a-string\n",
      kea,
    );
    assertEquals(kinds(bad), ["invalid_entry:a3", "invalid_entry:", "invalid_entry:"]);
    assertIncludes(bad.problems[0].message, "unknown field 'bmc_pasword'");
    assertEquals(kinds(mergeImport("device_name: a3\n", kea)), ["invalid_yaml:"]);
    assertEquals(kinds(mergeImport("- [unclosed\n", kea)), ["invalid_yaml:"]);
  });
});

/** Runs the script exactly as `deno task merge-import` does. */
async function mergeCommand(args: string[]) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env=LOG_TOKENS,LOG_STREAM",
      new URL("../scripts/merge_import.ts", import.meta.url).pathname,
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const path = (name: string) => new URL(name, DATA).pathname;

Deno.test("scripts/merge_import.ts run as a command", async (t) => {
  await t.step("README example: JSON on stdout, summary on stderr, exit 0", async () => {
    const r = await mergeCommand([
      path("servers.yaml"),
      path("bmc-reservations.json"),
      "--domain",
      BMC_DOMAIN,
    ]);
    assertEquals(r.code, 0, r.stderr);
    const items = JSON.parse(r.stdout);
    assertEquals(items.map((i: { device_name: string }) => i.device_name), [
      "dcoa-rb06u31",
      "dcoa-rb06u32",
    ]);
    assertIncludes(r.stderr, "Merged 2 devices");
    assertIncludes(r.stderr, "1 reservation matched no device (--verbose lists them)");
    assert(!r.stderr.includes("S3cr3t!pass"));
  });

  await t.step("several domains and --verbose on a Kea config", async () => {
    const r = await mergeCommand([
      path("servers-kea-config.yaml"),
      path("kea-dhcp4.conf"),
      "--domain",
      "bmc.platform.sunet.se",
      "--domain",
      ".mgmt",
      "--verbose",
    ]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout).length, 3);
    assertIncludes(
      r.stderr,
      "unmatched reservation: dcoa-rb06u31-pxe.platform.sunet.se 3c:ec:ef:a1:77:10 → 172.16.0.31",
    );
  });

  await t.step("--prefix replaces the defaults", async () => {
    const args = [path("servers-kea-config.yaml"), path("kea-dhcp4.conf"), "--domain", ".mgmt"];
    const withDefaults = await mergeCommand([...args, "--domain", BMC_DOMAIN]);
    assertEquals(withDefaults.code, 0, withDefaults.stderr);
    const names = (r: { stdout: string }) =>
      JSON.parse(r.stdout).map((i: { device_name: string }) => i.device_name);
    assertEquals(names(withDefaults).at(-1), "dcoa-rb06u41");
    // Without bmc- as a BMC prefix, bmc-dcoa-rb06u41 is a longer name ending in the YAML's
    // dcoa-rb06u41: it still matches, and Kea's name is emitted unless --names yaml.
    const without = await mergeCommand([...args, "--domain", BMC_DOMAIN, "--prefix", "oob-"]);
    assertEquals(without.code, 0, without.stderr);
    assertEquals(names(without).at(-1), "bmc-dcoa-rb06u41");
    const yamlNames = await mergeCommand([
      ...args,
      "--domain",
      BMC_DOMAIN,
      "--prefix",
      "oob-",
      "--names",
      "yaml",
    ]);
    assertEquals(names(yamlNames).at(-1), "dcoa-rb06u41");
  });

  await t.step("problems: errors on stderr, valid items still on stdout, exit 1", async () => {
    const r = await mergeCommand([
      path("servers-problems.yaml"),
      path("reservations-problems.json"),
      "--verbose",
    ]);
    assertEquals(r.code, 1);
    assertEquals(JSON.parse(r.stdout).map((i: { device_name: string }) => i.device_name), [
      "dcoa-rb06u31",
    ]);
    assertIncludes(r.stderr, "error: dcoa-rb06u32 has no bmc_password");
    assertIncludes(r.stderr, "error: dcoa-rb06u34 is listed 2 times");
    assertIncludes(r.stderr, "error: dcoa-rb06u37 has no BMC reservation");
    assertIncludes(r.stderr, "warning: dcoa-rb06u31: reservation");
    assertIncludes(r.stderr, "unmatched reservation: dcoa-rb06u38");
    assertIncludes(r.stderr, "5 errors");
    for (const pw of ["S3cr3t!pass", "Dup1-pass", "Two-reservations"]) {
      assert(!r.stderr.includes(pw));
    }
  });

  await t.step("--output writes an owner-only file", async () => {
    const dir = await Deno.makeTempDir();
    try {
      const out = `${dir}/import.json`;
      const r = await mergeCommand([
        path("servers.yaml"),
        path("bmc-reservations.json"),
        "--output",
        out,
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout, "");
      assertEquals(JSON.parse(await Deno.readTextFile(out)).length, 2);
      assertEquals((await Deno.stat(out)).mode! & 0o777, 0o600);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("bad usage and unreadable input exit 2", async () => {
    const one = await mergeCommand([path("servers.yaml")]);
    assertEquals(one.code, 2);
    assertIncludes(one.stderr, "Usage: deno task merge-import");
    const missing = await mergeCommand([path("servers.yaml"), path("nope.json")]);
    assertEquals(missing.code, 2);
    assertIncludes(missing.stderr, "Cannot read");
    const notKea = await mergeCommand([path("servers.yaml"), path("servers.yaml")]);
    assertEquals(notKea.code, 2);
    assertIncludes(notKea.stderr, "servers.yaml: The reservation file is not Kea JSON");
  });

  await t.step("--help documents the defaults", async () => {
    const r = await mergeCommand(["--help"]);
    assertEquals(r.code, 0);
    assertIncludes(r.stdout, "Default: bmc-, ipmi-");
    assertIncludes(r.stdout, "Default: -bmc, -ipmi");
  });
});

Deno.test("the original workflow: short YAML names, Kea hostnames with the site", async (t) => {
  const original = (name: string) => read(`original/${name}`);
  const yaml = original("servers.yaml");
  const kea = original("bmc-reservations.json");
  const expected = [
    {
      device_name: "dcoa-ra07u01",
      bmc_mac: "3c:ec:ef:a1:07:01",
      bmc_password: "Wq7#pLm2xR",
      bmc_ip: "10.16.28.71",
    },
    {
      device_name: "dcoa-ra07u02",
      bmc_mac: "3c:ec:ef:a1:07:02",
      bmc_password: "8TzK4vNq1c",
      bmc_ip: "10.16.28.72",
    },
    {
      device_name: "dcoa-ra07u03",
      bmc_mac: "3c:ec:ef:a1:07:03",
      bmc_password: "Hs9!dF3kLp",
      bmc_ip: "10.16.28.73",
      bmc_username: "root",
    },
    {
      device_name: "dcoa-ra07u05",
      bmc_mac: "3c:ec:ef:a1:17:05",
      bmc_password: "Mn4$wQ8zTe",
      bmc_ip: "10.16.28.75",
    },
  ];

  await t.step("Kea's full names by default, with or without the domain option", () => {
    for (const options of [{}, { domains: [BMC_DOMAIN] }]) {
      const result = mergeImport(yaml, kea, options);
      assertEquals(result.items, expected);
      assertEquals(kinds(result), []);
      assertEquals(result.unmatchedReservations.map((r) => r.hostname), [
        "dcoa-ra07-pdu1.bmc.platform.sunet.se",
        "dcoa-ra07-sw1.bmc.platform.sunet.se",
      ]);
      assertValidItems(result);
    }
  });

  await t.step("the list's bmc_mac overrides the reservation's, with a warning", () => {
    const result = mergeImport(yaml, kea);
    assertEquals(kinds(result, "warning"), ["bmc_mac_override:dcoa-ra07u05"]);
    assertIncludes(result.problems[0].message, "replaces 3c:ec:ef:a1:07:05");
    assertIncludes(result.problems[0].message, "it holds 10.16.28.75 for the old MAC");
  });

  await t.step("--names yaml keeps the names as written", () => {
    const result = mergeImport(yaml, kea, { names: "yaml" });
    assertEquals(
      result.items.map((i) => i.device_name),
      ["ra07u01", "ra07u02", "ra07u03", "ra07u05"],
    );
  });

  await t.step("a short name under two Kea names is reported, never guessed", () => {
    // The same rack label at another site, in the same Kea config.
    const both = kea.replace(
      '"reservations": [',
      `"reservations": [{"hw-address": "3c:ec:ef:b1:07:01", "ip-address": "10.16.28.171",
        "hostname": "dcob-ra07u01-bmc.bmc.platform.sunet.se"},`,
    );
    const result = mergeImport(yaml, both);
    assertEquals(kinds(result), ["ambiguous_device:ra07u01"]);
    assertIncludes(result.problems.find((p) => p.severity === "error")!.message, "10.16.28.171");
    assertEquals(result.items.map((i) => i.device_name), [
      "dcoa-ra07u02",
      "dcoa-ra07u03",
      "dcoa-ra07u05",
    ]);
    // The full name settles it.
    const full = mergeImport(
      yaml.replace("device_name: ra07u01", "device_name: dcoa-ra07u01"),
      both,
    );
    assertEquals(kinds(full), []);
    assertEquals(full.items[0].bmc_ip, "10.16.28.71");
  });

  await t.step("an exact name and a site-prefixed one for the same short name: ambiguous", () => {
    const list = JSON.stringify([
      { "hw-address": "3c:ec:ef:a1:07:01", "ip-address": "10.16.28.71", hostname: "ra07u01" },
      { "hw-address": "3c:ec:ef:a1:07:02", "ip-address": "10.16.28.72", hostname: "dcoa-ra07u01" },
    ]);
    const result = mergeImport("- {device_name: ra07u01, bmc_password: pw-1234}", list);
    assertEquals(kinds(result), ["ambiguous_device:ra07u01"]);
  });

  await t.step("a YAML entry overrides any import field, and bmc_mac needs no reservation", () => {
    const result = mergeImport(
      "- device_name: ra07u01\n  bmc_password: pw-1234\n  bmc_ip: 10.16.28.171\n" +
        "  site: dcoa\n  location: ra07\n  rack: RA07\n  position: 1\n" +
        "  device_type: supermicro-1u\n  device_role: k8s-worker\n  bmc_prefix: 10.16.28.0/24\n" +
        "  tenant: platform\n  boot_mac: 3c:ec:ef:a1:77:01\n" +
        "- device_name: ra09u01\n  bmc_password: pw-5678\n  bmc_mac: 001122334455\n",
      kea,
    );
    assertEquals(kinds(result), []);
    assertEquals(result.items, [
      {
        device_name: "dcoa-ra07u01",
        bmc_mac: "3c:ec:ef:a1:07:01",
        bmc_password: "pw-1234",
        bmc_ip: "10.16.28.171",
        site: "dcoa",
        location: "ra07",
        rack: "RA07",
        position: 1,
        device_type: "supermicro-1u",
        device_role: "k8s-worker",
        bmc_prefix: "10.16.28.0/24",
        tenant: "platform",
        boot_mac: "3c:ec:ef:a1:77:01",
      },
      // Digits only: read as written, not as the number 1122334455.
      { device_name: "ra09u01", bmc_mac: "00:11:22:33:44:55", bmc_password: "pw-5678" },
    ]);
    assertEquals(kinds(result, "warning"), ["unmatched_device:ra09u01"]);
  });

  await t.step("through the command, Kea's names and --names yaml", async () => {
    const args = [path("original/servers.yaml"), path("original/bmc-reservations.json")];
    const r = await mergeCommand(args);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(JSON.parse(r.stdout), expected);
    assertIncludes(r.stderr, "Merged 4 devices");
    assertIncludes(r.stderr, "warning: dcoa-ra07u05: the bmc_mac from the device list replaces");
    const yamlNames = await mergeCommand([...args, "--names", "yaml"]);
    assertEquals(
      JSON.parse(yamlNames.stdout).map((i: { device_name: string }) => i.device_name),
      ["ra07u01", "ra07u02", "ra07u03", "ra07u05"],
    );
    const bad = await mergeCommand([...args, "--names", "netbox"]);
    assertEquals(bad.code, 2);
    assertIncludes(bad.stderr, "--names must be kea or yaml");
  });
});
