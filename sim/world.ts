/**
 * A whole simulated datacenter: Netbox, OpenBao, Kea, Kubernetes/Metal3 and the BMCs, with clients
 * wired to them in-process. The demo, the tests and the benchmarks all run on this.
 */
import type { RetryPolicy } from "../lib/integrations/http.ts";
import type { Integrations } from "../lib/integrations/mod.ts";
import { createKeaClient } from "../lib/integrations/kea/api.ts";
import { createKubernetesClient } from "../lib/integrations/kubernetes.ts";
import { type Logger, silentLogger } from "../lib/observability/log.ts";
import type { Metrics } from "../lib/observability/metrics.ts";
import { createNetboxClient } from "../lib/integrations/netbox.ts";
import { createOpenBaoClient } from "../lib/integrations/openbao.ts";
import { createRedfishClient } from "../lib/integrations/redfish.ts";
import { asFetch, type Handler } from "./faults.ts";
import { createFakeKea, type FakeKea } from "./kea.ts";
import { createFakeKubernetes, type FakeKubernetes } from "./kubernetes/mod.ts";
import { createFakeNetbox, type FakeNetbox } from "./netbox/mod.ts";
import { seedNetbox } from "./netbox/seed.ts";
import { createFakeOpenBao, type FakeOpenBao } from "./openbao/mod.ts";
import {
  freeUdpPort,
  keaVersion,
  type LocalKeaWithDatabase,
  missingKeaDependency,
  startKeaWithDatabase,
} from "./real_kea.ts";
import { createFakeRedfish, type FakeRedfish } from "./redfish/mod.ts";

export const SIM_URLS = {
  netbox: "http://netbox.sim",
  openbao: "http://openbao.sim:8200",
  kea: ["http://kea1.sim:8000/", "http://kea2.sim:8000/"],
  kubernetes: "http://kubernetes.sim:6443",
};

/** BMCs on the simulated BMC network, by IP; each answers Redfish like a real one. */
export class BmcFleet {
  readonly bmcs = new Map<string, FakeRedfish>();
  /** When true, an IP nobody added gets a BMC whose password is the first one tried — like a
   * new server whose label password is real. When false, unknown IPs are unreachable. */
  constructor(readonly autoCreate = false) {}

  add(ip: string, bmc: FakeRedfish): void {
    this.bmcs.set(ip, bmc);
  }

  readonly handler: Handler = (req) => {
    const host = new URL(req.url).hostname;
    let bmc = this.bmcs.get(host);
    if (!bmc && this.autoCreate) {
      const auth = req.headers.get("authorization");
      if (!auth) {
        return Response.json({
          "@odata.id": "/redfish/v1/",
          RedfishVersion: "1.11.0",
          Systems: { "@odata.id": "/redfish/v1/Systems" },
          Vendor: "Supermicro",
        });
      }
      const [username, password] = atob(auth.replace(/^Basic /, "")).split(/:(.*)/s);
      const last = host.split(".").map(Number).at(-1) ?? 0;
      const nic = (n: number) =>
        `3c:ec:ef:00:${last.toString(16).padStart(2, "0")}:${n.toString(16).padStart(2, "0")}`;
      bmc = createFakeRedfish({
        username,
        password,
        serial: `S42SIM${String(last).padStart(6, "0")}`,
        nicMacs: [nic(0x10), nic(0x11)],
      });
      this.bmcs.set(host, bmc);
    }
    if (!bmc) throw new TypeError(`error sending request: connection refused (${host})`);
    return bmc.handler(req);
  };
}

export interface SimWorld {
  netbox: FakeNetbox;
  openbao: FakeOpenBao;
  kea: FakeKea[];
  kubernetes: FakeKubernetes;
  bmcs: BmcFleet;
  /** Every simulator behind one handler, chosen by the request's host (see `SIM_URLS`). */
  handler: Handler;
  /** Clients talking to the simulators in-process; `latencyMs` delays every answer. */
  integrations(options?: SimIntegrationOptions): Integrations;
  close(): void;
}

export interface SimIntegrationOptions {
  metrics?: Metrics;
  latencyMs?: number;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Wraps the world's handler, e.g. to record or serialise calls (the bench). */
  through?: (handler: Handler) => Handler;
  /** Include the Redfish client (default true), like `ONBOARDING_BMC_CHECK`. */
  bmcCheck?: boolean;
}

/** Routes each request to the simulator named by its host. */
function router(world: Omit<SimWorld, "handler" | "integrations" | "close">): Handler {
  const byHost = new Map<string, Handler>([
    [new URL(SIM_URLS.netbox).host, world.netbox.handler],
    [new URL(SIM_URLS.openbao).host, world.openbao.handler],
    [new URL(SIM_URLS.kubernetes).host, world.kubernetes.handler],
    ...SIM_URLS.kea.map((u, i) => [new URL(u).host, world.kea[i].handler] as [string, Handler]),
  ]);
  return (req) => {
    const handler = byHost.get(new URL(req.url).host) ?? world.bmcs.handler;
    return handler(req);
  };
}

export function createSimulatedWorld(options: {
  netboxVersion?: string;
  provisioningStepMs?: number;
  /** How long the simulated operator keeps its finalizer on a deleted host (default one step). */
  deprovisionMs?: number;
  autoBmcs?: boolean;
} = {}): SimWorld {
  const netbox = createFakeNetbox({ version: options.netboxVersion });
  seedNetbox(netbox);
  const openbao = createFakeOpenBao();
  const subnets = [{ id: 1, subnet: "10.16.28.0/24" }, { id: 2, subnet: "172.16.0.0/22" }];
  const kea = SIM_URLS.kea.map(() => createFakeKea({ subnets }));
  const kubernetes = createFakeKubernetes(
    options.provisioningStepMs
      ? {
        provisioning: { stepMs: options.provisioningStepMs, deleteMs: options.deprovisionMs },
      }
      : {},
  );
  const bmcs = new BmcFleet(options.autoBmcs ?? false);
  const parts = { netbox, openbao, kea, kubernetes, bmcs };
  const route = router(parts);
  return {
    ...parts,
    handler: route,
    integrations(o = {}) {
      const delayed: Handler = o.latencyMs
        ? async (req) => {
          await new Promise((r) => setTimeout(r, o.latencyMs));
          return route(req);
        }
        : route;
      const fetch = asFetch(o.through ? o.through(delayed) : delayed);
      const common = { fetch, metrics: o.metrics, timeoutMs: o.timeoutMs, retry: o.retry };
      return {
        netbox: createNetboxClient({ url: SIM_URLS.netbox, token: netbox.token, ...common }),
        openbao: createOpenBaoClient({
          url: SIM_URLS.openbao,
          roleId: openbao.roleId,
          secretId: openbao.secretId,
          ...common,
        }),
        kea: createKeaClient({ mode: "api", servers: SIM_URLS.kea, port: 8000, ...common }),
        kubernetes: createKubernetesClient({ server: SIM_URLS.kubernetes, ...common }),
        redfish: o.bmcCheck === false
          ? undefined
          : createRedfishClient({ ...common, scheme: "http", timeoutMs: o.timeoutMs ?? 2000 }),
      };
    },
    close() {
      kubernetes.close();
    },
  };
}

/** The running demo: simulated systems, with a real Kea when one is installed. */
export interface Demo {
  world: SimWorld;
  integrations: Integrations;
  /** What runs behind the clients, for the demo banner. */
  description: string;
  /** The real Kea the kea client talks to, or null when the simulated Kea serves. */
  realKea: RealDemoKea | null;
  /** Stops the real Kea and its PostgreSQL (nothing to do for the simulators). */
  close(): Promise<void>;
  /**
   * Stops them when the process exits without `close()` (a failed start, `Deno.exit`); the
   * server's SIGTERM/SIGINT shutdown calls `close()` itself.
   */
  closeOnExit(): void;
}

/** Where the demo's real Kea listens. */
export interface RealDemoKea {
  version: string;
  /** kea-dhcp4's UDP port on 127.0.0.1. */
  dhcpPort: number;
  /** The giaddr that selects the BMC subnet 10.16.28.0/24 (id 1). */
  relay: string;
  ctrlUrl: string;
  /** Its PostgreSQL host database, user and password included: `migrate-kea --db` works on it. */
  dbUrl: string;
}

const DEMO_KEA_SUBNET = { id: 1, subnet: "10.16.28.0/24" };
/** The PXE subnet too, as in the simulated world and SPEC §9, selected by the next relay address. */
const DEMO_PXE_SUBNET = { id: 2, subnet: "172.16.0.0/22" };

function nextAddress(ip: string): string {
  const parts = ip.split(".").map(Number);
  parts[3] = (parts[3] % 254) + 1;
  return parts.join(".");
}

/** Why the demo cannot run a real Kea here, or null when it can try. */
function realKeaUnavailable(env: Record<string, string | undefined>): string | null {
  if (env.ONBOARDING_DEMO_KEA === "simulated") return "ONBOARDING_DEMO_KEA=simulated";
  const missing = missingKeaDependency();
  if (missing) return `${missing} is not installed`;
  // Asked, not requested: a run without these permissions keeps the simulator and never prompts.
  const tmp = env.TMPDIR || "/tmp";
  const needs: [Deno.PermissionDescriptor, string][] = [
    [{ name: "run" }, "--allow-run"],
    [{ name: "sys", kind: "uid" }, "--allow-sys=uid"],
    [{ name: "write", path: tmp }, `--allow-write=${tmp}`],
  ];
  for (const [descriptor, flag] of needs) {
    if (Deno.permissions.querySync(descriptor).state !== "granted") return `${flag} is not granted`;
  }
  return null;
}

function demoKeaSettings(env: Record<string, string | undefined>) {
  const port = env.ONBOARDING_DEMO_KEA_DHCP_PORT;
  const dhcpPort = port ? Number(port) : freeUdpPort();
  if (!Number.isInteger(dhcpPort) || dhcpPort < 1 || dhcpPort > 65535) {
    throw new RangeError(`ONBOARDING_DEMO_KEA_DHCP_PORT must be a port number, not ${port}`);
  }
  const relay = env.ONBOARDING_DEMO_KEA_RELAY || "127.0.0.1";
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(relay)) {
    throw new RangeError(`ONBOARDING_DEMO_KEA_RELAY must be a 127.x.y.z address, not ${relay}`);
  }
  return { dhcpPort, relay };
}

/**
 * The demo (`deno task demo`): a simulated world with operator progress and BMCs that answer.
 * When kea-dhcp4, kea-ctrl-agent, kea-admin and PostgreSQL are installed, reservations go to a real
 * Kea on loopback (subnets 10.16.28.0/24 id 1 and 172.16.0.0/22 id 2, PostgreSQL host database, UDP port
 * ONBOARDING_DEMO_KEA_DHCP_PORT or a free one, relay ONBOARDING_DEMO_KEA_RELAY or 127.0.0.1);
 * otherwise, or when it fails to start, the simulated Kea serves. Logs which Kea runs.
 */
export async function demoIntegrations(
  metrics: Metrics,
  options: { env?: Record<string, string | undefined>; log?: Logger } = {},
): Promise<Demo> {
  const env = options.env ?? {};
  const log = options.log ?? silentLogger;
  // Deprovisioning a deleted host takes a while, as on a real cluster (minutes there).
  const world = createSimulatedWorld({
    provisioningStepMs: 4000,
    deprovisionMs: 20_000,
    autoBmcs: true,
  });
  const integrations = world.integrations({ metrics });
  const simulated = (): Demo => ({
    world,
    integrations,
    description: "simulated Netbox, OpenBao and Metal3, simulated Kea",
    realKea: null,
    close: () => Promise.resolve(),
    closeOnExit() {},
  });
  const unavailable = realKeaUnavailable(env);
  if (unavailable) {
    log.info(`Demo uses the simulated Kea (${unavailable})`, { kea: "simulated" });
    return simulated();
  }
  const { dhcpPort, relay } = demoKeaSettings(env);
  let running: LocalKeaWithDatabase;
  let version: string;
  try {
    version = await keaVersion();
    running = await startKeaWithDatabase({
      subnets: [{ ...DEMO_KEA_SUBNET, relay }, { ...DEMO_PXE_SUBNET, relay: nextAddress(relay) }],
      database: "kea_demo",
      dhcpPort,
    });
  } catch (e) {
    log.warn("Real Kea did not start: the demo uses the simulated Kea", {
      kea: "simulated",
      error: e,
    });
    return simulated();
  }
  const { kea, dbUrl } = running;
  integrations.kea = createKeaClient({
    mode: "auto",
    servers: [kea.ctrlUrl],
    port: 0,
    dbUrl,
    metrics,
  });
  const minor = version.split(".").slice(0, 2).join(".");
  log.info(
    `Demo uses real Kea ${version}: kea-dhcp4 on 127.0.0.1 UDP port ${dhcpPort}, subnet ` +
      `${DEMO_KEA_SUBNET.subnet} relayed via ${relay}, reservations in its PostgreSQL host database`,
    {
      kea: "real",
      version,
      dhcpPort,
      relay,
      ctrlUrl: kea.ctrlUrl,
      check: `a relayed DISCOVER (giaddr ${relay}) from a registered BMC MAC is offered its ` +
        `reserved IP; as root: deno eval 'import { discover } from "./tests/dhcp_client.ts"; ` +
        `console.log(await discover({ port: ${dhcpPort}, giaddr: "${relay}", mac: "3c:ec:ef:a1:9c:e8" }))'`,
    },
  );
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (log.info("Stopping the demo's Kea and PostgreSQL"), running.stop());
  return {
    world,
    integrations,
    description: `simulated Netbox, OpenBao and Metal3, real Kea ${minor}`,
    realKea: { version, dhcpPort, relay, ctrlUrl: kea.ctrlUrl, dbUrl },
    close,
    closeOnExit() {
      // Any exit without close() (e.g. the port is taken): no event loop left, so stop synchronously.
      globalThis.addEventListener("unload", () => {
        if (!closing) running.stopSync();
      });
    },
  };
}

/**
 * The demo's "make some drift" control: as a person with kubectl or the Kea API would, it edits a
 * registered BareMetalHost's bmc.address, puts another password in a Secret and deletes a Kea
 * reservation (on the second simulated server, or in the real Kea's database). Says what it did.
 */
export async function makeDemoDrift(demo: Demo, namespace: string): Promise<string[]> {
  const { world } = demo;
  const ours = world.kubernetes.state.bareMetalHosts(namespace).filter((h) =>
    h.metadata.labels?.["app.kubernetes.io/managed-by"] === "bare-metal-onboarding" &&
    !h.metadata.deletionTimestamp
  );
  if (!ours.length) return ["Nothing to break yet: register a server first"];
  const done: string[] = [];
  const pick = (i: number) => ours[i % ours.length];
  const host = pick(0);
  world.kubernetes.update("BareMetalHost", namespace, host.metadata.name, (o) => {
    o.spec.bmc.address = o.spec.bmc.address.replace(/\/\/[^/]+/, "//192.0.2.1");
  }, "kubectl-edit");
  done.push(`Edited bmc.address of BareMetalHost ${host.metadata.name}`);
  const secretHost = pick(1);
  const secretName = secretHost.spec.bmc?.credentialsName;
  if (secretName && world.kubernetes.state.secret(namespace, secretName)) {
    world.kubernetes.update("Secret", namespace, secretName, (o) => {
      o.data.password = btoa("typed-by-hand");
    }, "kubectl-edit");
    done.push(`Put another password in Secret ${secretName}`);
  }
  const keaHost = pick(2);
  const mac = world.openbao.latest(`bmc/${keaHost.metadata.name}`)?.bmc_mac;
  if (typeof mac === "string") {
    if (demo.realKea) {
      await demo.integrations.kea!.release(mac, 1);
      done.push(
        `Deleted the Kea reservation of ${mac} (${keaHost.metadata.name}) from the host database`,
      );
    } else {
      const i = world.kea[1].hosts.findIndex((h) => h["hw-address"] === mac);
      if (i >= 0) world.kea[1].hosts.splice(i, 1);
      done.push(`Deleted the Kea reservation of ${mac} (${keaHost.metadata.name}) on kea2`);
    }
  }
  return done;
}
