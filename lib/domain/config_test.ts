import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { bmcNetworks, ConfigError, loadConfig } from "./config.ts";

Deno.test("loadConfig() gives the documented defaults for an empty environment", () => {
  const c = loadConfig({});
  assertEquals([c.PORT, c.HOSTNAME, c.KV_PATH, c.OPENBAO_MOUNT_POINT, c.KEA_PORT, c.KEA_MODE], [
    8000,
    "0.0.0.0",
    "./data/onboarding.kv",
    "secret",
    8000,
    "auto",
  ]);
  assertEquals([
    c.METAL3_NAMESPACE,
    c.BMC_DRIVER,
    c.BMC_USERNAME,
    c.DEVICE_NAME_TEMPLATE,
    c.OIDC_GROUPS_CLAIM,
  ], [
    "metal3",
    "ipmi",
    "ADMIN",
    "{site}-{rack}u{position}",
    "groups",
  ]);
  assertEquals([c.KEA_SERVERS, c.IMPORT_CONCURRENCY, c.BMC_CHECK, c.OIDC_ISSUER], [
    [],
    8,
    true,
    undefined,
  ]);
});

Deno.test("loadConfig() parses typed values", () => {
  const c = loadConfig({
    ONBOARDING_PORT: "9000",
    ONBOARDING_KEA_SERVERS: '["10.0.0.2","10.0.0.3"]',
    ONBOARDING_KEA_SUBNET_ID: "1",
    ONBOARDING_BMC_CHECK: "false",
    ONBOARDING_OIDC_ISSUER: "",
  });
  assertEquals([c.PORT, c.KEA_SERVERS, c.KEA_SUBNET_ID, c.BMC_CHECK, c.OIDC_ISSUER], [
    9000,
    ["10.0.0.2", "10.0.0.3"],
    1,
    false,
    undefined,
  ]);
});

Deno.test("loadConfig() stops on a bad value with a one-line message naming the variable, never the value", async (t) => {
  const cases: [string, string][] = [
    ["ONBOARDING_PORT", "eighty"],
    ["ONBOARDING_KEA_SERVERS", "kea1,kea2"],
    ["ONBOARDING_KEA_MODE", "magic"],
    ["ONBOARDING_NETBOX_URL", "not a url"],
    ["ONBOARDING_BMC_PREFIX", "10.16.28.0"],
    ["ONBOARDING_BMC_DRIVER", "irmc"],
    ["ONBOARDING_BMC_NETWORKS", "10.16.28.0/24,bmc-net"],
    ["ONBOARDING_KEA_DB_URL", "mysql://u:hunter2@db/kea"],
    ["ONBOARDING_DATABASE_URL", "mysql://u:hunter2@db/onboarding"],
    ["ONBOARDING_STATE_LEASE", "1"],
  ];
  for (const [name, value] of cases) {
    await t.step(name, () => {
      throws(() => loadConfig({ [name]: value }), (e: Error) => {
        assert(e instanceof ConfigError);
        assert(e.message.startsWith(`Invalid ${name}:`), e.message);
        assert(!e.message.includes("hunter2") && !e.message.includes("\n"));
        return true;
      });
    });
  }
});

Deno.test("bmcNetworks(): ONBOARDING_BMC_NETWORKS, else ONBOARDING_BMC_PREFIX, else none", () => {
  const networks = (env: Record<string, string>) => bmcNetworks(loadConfig(env));
  assertEquals(networks({ ONBOARDING_BMC_NETWORKS: "10.16.28.0/24, 10.16.29.0/24" }), [
    "10.16.28.0/24",
    "10.16.29.0/24",
  ]);
  assertEquals(networks({ ONBOARDING_BMC_NETWORKS: '["10.16.28.0/24"]' }), ["10.16.28.0/24"]);
  assertEquals(networks({ ONBOARDING_BMC_PREFIX: "10.16.28.0/24" }), ["10.16.28.0/24"]);
  assertEquals(
    networks({ ONBOARDING_BMC_PREFIX: "10.16.28.0/24", ONBOARDING_BMC_NETWORKS: "10.0.0.0/16" }),
    ["10.0.0.0/16"],
  );
  assertEquals(networks({}), []);
});
