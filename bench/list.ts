/** Bench section: `GET /api/v1/servers`, a page of 50 out of 100,000 registrations. */
import { loadConfig } from "../lib/domain/config.ts";
import { newRegistrationId, pendingSteps, type Registration } from "../lib/state/store.ts";
import { silentLogger } from "../lib/observability/log.ts";
import { createApp, createServices } from "../app.ts";
import { BENCH_CONFIG, benchMac, median, percentile } from "./harness.ts";
import { fmtMs, fmtS, results, row } from "./report.ts";

/** A finished registration as the engine leaves it, in rack `rack` at unit `unit`. */
export function finishedRecord(i: number, rack: number, unit: number): Registration {
  const name = `dcoa-r${String(rack).padStart(3, "0")}u${unit}`;
  const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString();
  const failed = i % 20 === 0;
  const ip = `10.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const steps = pendingSteps();
  for (const [k, s] of Object.entries(steps)) {
    s.status = failed && k === "metal3" ? "failed" : "done";
    s.startedAt = at;
    s.endedAt = at;
    s.message = failed && k === "metal3"
      ? "kubernetes is failing (HTTP 503) during apply BareMetalHost: press Retry when it is back"
      : `${k} finished for ${name}`;
  }
  return {
    id: newRegistrationId().slice(0, 9) + String(i).padStart(12, "0"),
    device_name: name,
    status: failed ? "failed" : "ok",
    source: "import",
    bmc_mac: benchMac(i, "3c:ec:ef"),
    bmc_username: "ADMIN",
    boot_mac: benchMac(i, "3c:ec:ee"),
    bmc_ip: ip,
    request: {
      site: "dcoa",
      location: "hall-a",
      rack: `R${rack}`,
      position: unit,
      device_type: "sys-1029u",
      device_role: "server",
      bmc_prefix: "10.16.0.0/12",
    },
    resolved: {
      siteId: 1,
      siteSlug: "dcoa",
      locationId: 1,
      rackId: 100 + rack,
      rackName: `R${rack}`,
      rackHeight: 42,
      deviceTypeId: 1,
      uHeight: 1,
      roleId: 1,
      prefixId: 1,
    },
    steps,
    created: {
      netbox_device_id: 1000 + i,
      netbox_interface_id: 5000 + i,
      netbox_mac_id: 9000 + i,
      netbox_ip_id: 20000 + i,
      openbao_path: `secret/data/bmc/${name}`,
      openbao_version: 1,
      kea_subnet_id: 1,
      kea_servers: [{ server: "kea1", outcome: "added" }, { server: "kea2", outcome: "added" }],
      metal3_secret: `${name}-bmc-secret`,
      metal3_bmh: name,
    },
    warnings: [],
    ...(failed ? { error: steps.metal3.message } : {}),
    bmc: {
      vendor: "Supermicro",
      model: "SYS-1029U-TRT",
      serial: `S42SIM${String(i).padStart(6, "0")}`,
      systemId: "1",
      systemPath: "/redfish/v1/Systems/1",
    },
    provisioning: {
      state: "available",
      operationalStatus: "OK",
      poweredOn: false,
      errorMessage: "",
      updatedAt: at,
    },
    actor: "bench",
    created_at: at,
    updated_at: at,
    slot: { rackId: 100 + rack, units: [unit] },
  };
}

export async function benchList() {
  const count = 100_000;
  const section = `Server list (${count.toLocaleString("en")} registrations)`;
  const kv = await Deno.openKv(":memory:");
  try {
    const deps = await createServices({
      config: loadConfig(BENCH_CONFIG),
      kv,
      integrations: {},
      log: silentLogger,
    });
    const app = createApp(deps);
    const fill = performance.now();
    const records: Registration[] = [];
    for (let i = 0; i < count; i += 100) {
      const batch = Array.from(
        { length: 100 },
        (_, k) => finishedRecord(i + k, (i + k) / 40 | 0, (i + k) % 40 + 1),
      );
      await Promise.all(batch.map((r) => deps.store.create(r)));
      records.push(...batch);
    }
    const fillMs = performance.now() - fill;
    const measure = async (path: string, requests: number) => {
      const times: number[] = [];
      let items = 0;
      for (let n = 0; n < requests + 10; n++) {
        const started = performance.now();
        const res = await app.request(path);
        const body = await res.json() as { items: unknown[] };
        if (n >= 10) times.push(performance.now() - started); // the first 10 warm up
        items = body.items.length;
      }
      return { path, median: median(times), p95: percentile(times, 95), items };
    };
    const r12 = records.filter((r) => /-r12/.test(r.device_name));
    const okR12 = r12.filter((r) => r.status === "ok").length;
    const label = records[count / 2].bmc_mac.replaceAll(":", "").toUpperCase().slice(-6);
    const cases = [
      ["page of 50 (200 requests)", await measure("/api/v1/servers?limit=50", 200)],
      // 5% of the records have failed, spread evenly.
      [
        "status=failed (100 requests)",
        await measure("/api/v1/servers?limit=50&status=failed", 100),
      ],
      [
        `q=-r12, ${r12.length.toLocaleString("en")} matches (100 requests)`,
        await measure("/api/v1/servers?limit=50&q=-r12", 100),
      ],
      [
        `status=ok&q=-r12, ${okR12.toLocaleString("en")} matches (100 requests)`,
        await measure("/api/v1/servers?limit=50&status=ok&q=-r12", 100),
      ],
      [
        `q=${label} (a MAC's last digits as on a label, 100 requests)`,
        await measure(`/api/v1/servers?limit=50&q=${label}`, 100),
      ],
    ] as const;
    results.list = { count, fillMs, cases: Object.fromEntries(cases) };
    for (const [what, m] of cases) {
      row({
        section,
        measure: `${what}: median / p95`,
        value: `${fmtMs(m.median)} / ${fmtMs(m.p95)} (${m.items} items)`,
        target: "p95 ≤ 25 ms",
        met: m.p95 <= 25,
      });
    }
    // What start-up indexing of records from an older version costs per record, too.
    row({
      section,
      measure: "writing the records with their index entries, 100 side by side",
      value: `${fmtS(fillMs)} (${(fillMs / count).toFixed(2)} ms per record)`,
    });
  } finally {
    kv.close();
  }
}
