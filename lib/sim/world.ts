/**
 * A whole simulated datacenter: Netbox, OpenBao, Kea, Kubernetes/Metal3 and the BMCs, with clients
 * wired to them in-process. The demo, the tests and the benchmarks all run on this.
 */
import type { RetryPolicy } from "../http.ts";
import type { Integrations } from "../integrations.ts";
import { createKeaClient } from "../kea.ts";
import { createKubernetesClient } from "../kubernetes.ts";
import type { Metrics } from "../metrics.ts";
import { createNetboxClient } from "../netbox.ts";
import { createOpenBaoClient } from "../openbao.ts";
import { createRedfishClient } from "../redfish.ts";
import { asFetch, type Handler } from "./faults.ts";
import { createFakeKea, type FakeKea } from "./kea.ts";
import { createFakeKubernetes, type FakeKubernetes } from "./kubernetes.ts";
import { createFakeNetbox, type FakeNetbox } from "./netbox.ts";
import { seedNetbox } from "./netbox_seed.ts";
import { createFakeOpenBao, type FakeOpenBao } from "./openbao.ts";
import { createFakeRedfish, type FakeRedfish } from "./redfish.ts";

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
  /** Clients talking to the simulators in-process; `latencyMs` delays every answer. */
  integrations(
    options?: {
      metrics?: Metrics;
      latencyMs?: number;
      timeoutMs?: number;
      retry?: Partial<RetryPolicy>;
    },
  ): Integrations;
  close(): void;
}

/** Routes each request to the simulator named by its host. */
function router(world: Omit<SimWorld, "integrations" | "close">): Handler {
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

export function createSimWorld(options: {
  netboxVersion?: string;
  provisioningStepMs?: number;
  autoBmcs?: boolean;
} = {}): SimWorld {
  const netbox = createFakeNetbox({ version: options.netboxVersion });
  seedNetbox(netbox);
  const openbao = createFakeOpenBao();
  const subnets = [{ id: 1, subnet: "10.16.28.0/24" }, { id: 2, subnet: "172.16.0.0/22" }];
  const kea = SIM_URLS.kea.map(() => createFakeKea({ subnets }));
  const kubernetes = createFakeKubernetes(
    options.provisioningStepMs ? { provisioning: { stepMs: options.provisioningStepMs } } : {},
  );
  const bmcs = new BmcFleet(options.autoBmcs ?? false);
  const parts = { netbox, openbao, kea, kubernetes, bmcs };
  const route = router(parts);
  return {
    ...parts,
    integrations(o = {}) {
      const handler: Handler = o.latencyMs
        ? async (req) => {
          await new Promise((r) => setTimeout(r, o.latencyMs));
          return route(req);
        }
        : route;
      const fetch = asFetch(handler);
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
        redfish: createRedfishClient({ ...common, scheme: "http", timeoutMs: o.timeoutMs ?? 2000 }),
      };
    },
    close() {
      kubernetes.close();
    },
  };
}

/** The demo: a simulated world with operator progress and BMCs that answer, for `deno task demo`. */
export function demoIntegrations(
  metrics: Metrics,
): { world: SimWorld; integrations: Integrations } {
  const world = createSimWorld({ provisioningStepMs: 4000, autoBmcs: true });
  return { world, integrations: world.integrations({ metrics }) };
}
