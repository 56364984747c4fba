/**
 * Bench section: the Servers inventory (our registrations merged with Netbox's devices) and the
 * Drift view, at 100,000 registrations beside a simulated Netbox holding a site of that size.
 */
import { cpuUsage } from "node:process";
import { loadConfig } from "../lib/domain/config.ts";
import { silentLogger } from "../lib/observability/log.ts";
import type { Registration } from "../lib/state/store.ts";
import { createApp, createServices } from "../app.ts";
import { NETBOX_SEED } from "../sim/netbox/seed.ts";
import { createSimulatedWorld, type SimWorld } from "../sim/world.ts";
import { BENCH_CONFIG, median, percentile } from "./harness.ts";
import { finishedRecord } from "./list.ts";
import { fmtMs, fmtS, results, row } from "./report.ts";

const UNITS = 40;
/** Devices in Netbox that were never registered here (spare racks), beside the registered ones. */
const SPARE = 5_000;
/** Every Netbox call answers after this long (in-process simulator, a quick Netbox). */
const NETBOX_MS = 20;

/**
 * The site: a rack of 40 servers per 40 registrations (as `finishedRecord` places them), each
 * registration's device in Netbox with the id the record holds, and SPARE more devices in racks
 * of their own, unregistered.
 */
function buildSite(world: SimWorld, count: number): { records: Registration[]; rackIds: number[] } {
  const nb = world.netbox;
  const site = [...nb.sites.values()].find((s) => s.slug === NETBOX_SEED.site.slug)!;
  const location = [...nb.locations.values()].find((l) => l.slug === NETBOX_SEED.location.slug)!;
  const type = [...nb.deviceTypes.values()].find((t) => t.slug === "sys-1029u")!;
  const role = [...nb.roles.values()].find((r) => r.slug === "server")!;
  const racks = Math.ceil((count + SPARE) / UNITS);
  const rackIds: number[] = [];
  for (let r = 0; r < racks; r++) {
    rackIds.push(
      nb.addRack({ name: `R${r}`, siteId: site.id, locationId: location.id, uHeight: 42 }).id,
    );
  }
  const records: Registration[] = [];
  const inputs = [];
  for (let i = 0; i < count + SPARE; i++) {
    const rack = i / UNITS | 0;
    const unit = i % UNITS + 1;
    const name = i < count ? finishedRecord(i, rack, unit).device_name : `spare-r${rack}u${unit}`;
    inputs.push({
      name,
      siteId: site.id,
      locationId: location.id,
      rackId: rackIds[rack],
      position: unit,
      face: "front" as const,
      deviceTypeId: type.id,
      roleId: role.id,
      status: i % 20 === 0 ? "planned" : "active",
    });
  }
  const devices = nb.addDevices(inputs);
  for (let i = 0; i < count; i++) {
    const r = finishedRecord(i, i / UNITS | 0, i % UNITS + 1);
    r.resolved = {
      ...r.resolved!,
      siteId: site.id,
      locationId: location.id,
      rackId: rackIds[i / UNITS | 0],
      deviceTypeId: type.id,
      roleId: role.id,
    };
    r.created.netbox_device_id = devices[i].id;
    records.push(r);
  }
  return { records, rackIds };
}

export async function benchViews() {
  const count = 100_000;
  const section = `Inventory and drift views (${count.toLocaleString("en")} registrations)`;
  const world = createSimulatedWorld();
  const built = performance.now();
  const { records, rackIds } = buildSite(world, count);
  const buildMs = performance.now() - built;
  const kv = await Deno.openKv(":memory:");
  try {
    const { netbox } = world.integrations({ latencyMs: NETBOX_MS, bmcCheck: false });
    const deps = await createServices({
      config: loadConfig({ ...BENCH_CONFIG, ONBOARDING_NETBOX_URL: "http://netbox.sim" }),
      kv,
      integrations: { netbox },
      log: silentLogger,
    });
    const app = createApp(deps);
    for (let i = 0; i < count; i += 100) {
      await Promise.all(records.slice(i, i + 100).map((r) => deps.store.create(r)));
    }
    const netboxCalls = () => world.netbox.requestLog.length;
    const measure = async (path: string | ((n: number) => string), requests: number) => {
      const times: number[] = [];
      let items = 0;
      const calls = netboxCalls();
      let cpu = { user: 0, system: 0 };
      for (let n = 0; n < requests + 10; n++) {
        if (n === 10) cpu = cpuUsage();
        const started = performance.now();
        const url = typeof path === "string" ? path : path(n);
        const res = await app.request(url);
        if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status} ${await res.text()}`);
        const body = await res.json() as { items?: unknown[]; findings?: unknown[] };
        if (n >= 10) times.push(performance.now() - started); // the first 10 warm up
        items = (body.items ?? body.findings ?? Object.keys(body)).length;
      }
      const spent = cpuUsage(cpu);
      // This process's CPU time per timed request: the work itself, whatever else the machine runs.
      const cpuMs = (spent.user + spent.system) / 1000 / requests;
      const perRequest = (netboxCalls() - calls) / (requests + 10);
      return { median: median(times), p95: percentile(times, 95), cpuMs, items, perRequest };
    };
    // The first request of all: nothing cached yet.
    const cold = performance.now();
    const first = await app.request("/api/v1/servers?source=all&limit=50");
    if (first.status !== 200) throw new Error(`first page: HTTP ${first.status}`);
    await first.body?.cancel();
    const coldMs = performance.now() - cold;
    // The inventory loads behind that page; what follows is measured once it is stored.
    await deps.reference!.inventory({ roles: [], sites: [] });
    const loadedMs = performance.now() - cold;
    const cases: [string, Awaited<ReturnType<typeof measure>>][] = [
      [
        "inventory source=all, first page of 50 (100 requests)",
        await measure("/api/v1/servers?source=all&limit=50", 100),
      ],
      [
        "inventory source=all&site=dcoa&status=failed (100 requests)",
        await measure("/api/v1/servers?source=all&limit=50&site=dcoa&status=failed", 100),
      ],
      [
        "inventory source=all&q=-r12 (100 requests)",
        await measure("/api/v1/servers?source=all&limit=50&q=-r12", 100),
      ],
      [
        "inventory source=netbox, first page of 50 (100 requests)",
        await measure("/api/v1/servers?source=netbox&limit=50", 100),
      ],
      [
        "inventory filters (/servers/filters, 50 requests)",
        await measure("/api/v1/servers/filters?source=all", 50),
      ],
      [
        "inventory filters narrowed to another rack each time (nothing memoised, 50 requests)",
        await measure((n) => `/api/v1/servers/filters?source=all&rack=${rackIds[n]}`, 50),
      ],
    ];
    const checked = performance.now();
    const report = await deps.drift.check();
    const checkMs = performance.now() - checked;
    cases.push(
      [
        "drift view, first page (100 requests)",
        await measure("/api/v1/drift", 100),
      ],
      [
        "drift view, kind=netbox_interface_missing (100 requests)",
        await measure("/api/v1/drift?kind=netbox_interface_missing", 100),
      ],
    );
    results.views = {
      count,
      devices: count + SPARE,
      netboxMs: NETBOX_MS,
      buildMs,
      coldMs,
      loadedMs,
      drift: { checkMs, findings: report.findings.length },
      cases: Object.fromEntries(cases),
    };
    for (const [what, m] of cases) {
      row({
        section,
        measure: `${what}: median / p95`,
        value: `${fmtMs(m.median)} / ${fmtMs(m.p95)} (${
          fmtMs(m.cpuMs)
        } CPU per request; ${m.items} items, ${m.perRequest.toFixed(2)} Netbox calls per request)`,
        target: "p95 ≤ 25 ms",
        met: m.p95 <= 25,
      });
    }
    row({
      section,
      measure: `first inventory page with nothing stored yet (${
        (count + SPARE).toLocaleString("en")
      } Netbox devices, every call ${NETBOX_MS} ms); the inventory stored behind it`,
      value: `${fmtMs(coldMs)}; ${fmtS(loadedMs)}`,
    });
    row({
      section,
      measure: "the drift check behind the view (Netbox only)",
      value: `${fmtS(checkMs)}, ${report.findings.length.toLocaleString("en")} findings`,
    });
  } finally {
    kv.close();
    world.close();
  }
}
