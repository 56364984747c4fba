/**
 * Micro benchmarks for `deno bench --allow-all bench/`: MAC parsing, import item validation and
 * one page of the registration store out of 10,000 records.
 */
import { canonicalMac } from "../lib/domain/mac.ts";
import { importItemSchema } from "../lib/domain/schemas.ts";
import {
  newRegistrationId,
  pendingSteps,
  type Registration,
  RegistrationStore,
} from "../lib/state/store.ts";
import { benchMac, bmcIpItems } from "./harness.ts";

const MACS = ["3C:EC:EF:A1:9C:E8", "3cec.efa1.9cf0", "3c-ec-ef-a1-9c-e9", "3cecefa19cea"];

Deno.bench("canonicalMac() on four notations", { group: "mac" }, () => {
  for (const m of MACS) canonicalMac(m);
});

const items = bmcIpItems(100);
Deno.bench("importItemSchema.safeParse() of 100 import items", { group: "schema" }, () => {
  for (const item of items) {
    if (!importItemSchema.safeParse(item).success) throw new Error("bench item is invalid");
  }
});

const kv = await Deno.openKv(":memory:");
const store = new RegistrationStore(kv);
for (let i = 0; i < 10_000; i += 100) {
  await Promise.all(Array.from({ length: 100 }, (_, k) => {
    const n = i + k;
    const now = new Date(Date.UTC(2025, 0, 1) + n * 60_000).toISOString();
    const record: Registration = {
      id: newRegistrationId().slice(0, 9) + String(n).padStart(12, "0"),
      device_name: `dcoa-r${String(n / 40 | 0).padStart(3, "0")}u${n % 40 + 1}`,
      status: n % 20 === 0 ? "failed" : "ok",
      source: "import",
      bmc_mac: benchMac(n, "3c:ec:ef"),
      bmc_username: "ADMIN",
      bmc_ip: `10.${16 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`,
      request: {},
      steps: pendingSteps(),
      created: {},
      warnings: [],
      actor: "bench",
      created_at: now,
      updated_at: now,
    };
    return store.create(record);
  }));
}

Deno.bench("RegistrationStore.list() newest 50 of 10,000", { group: "store" }, async () => {
  await store.list({ limit: 50 });
});

Deno.bench("RegistrationStore.list() status=failed, 50 of 500", { group: "store" }, async () => {
  await store.list({ limit: 50, status: "failed" });
});

Deno.bench("RegistrationStore.list() q=-r12 (reads the term r12)", { group: "store" }, async () => {
  await store.list({ limit: 50, q: "-r12" });
});

globalThis.addEventListener("unload", () => kv.close());
