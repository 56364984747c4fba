/** In-process Redfish BMC fake: ServiceRoot, Systems (one, or several on a blade chassis) with their
 * EthernetInterfaces, boot order and BootOptions, NetworkDeviceFunctions, HTTP Basic and session
 * authentication, the AccountService and DSP0266 password-change-required handling.
 *
 * Shapes follow the DMTF schemas (ComputerSystem.Boot, BootOption, EthernetInterface,
 * NetworkDeviceFunction, Session) and what real BMCs do with them: NIC lists in no particular order,
 * boot options whose UEFI device path carries the NIC's MAC (HPE iLO, AMI), Dell's
 * `NIC.Integrated.1-1-1` names, a host-side `ToManager` interface. */
import { logRequest } from "../faults.ts";
import { addAccounts } from "./accounts.ts";
import { createBmc } from "./bmc.ts";
import { route } from "./http.ts";
import { addSystem } from "./systems.ts";
import type { FakeRedfish, FakeRedfishOptions } from "./types.ts";

export type * from "./types.ts";

export function createFakeRedfish(options: FakeRedfishOptions): FakeRedfish {
  const bmc = createBmc(options);
  bmc.resources.set("/redfish/v1/Systems", () => ({
    "@odata.id": "/redfish/v1/Systems",
    "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
    Name: "Computer System Collection",
    "Members@odata.count": bmc.systemPaths.length,
    Members: bmc.systemPaths.map((p) => ({ "@odata.id": p })),
  }));
  bmc.systemIds.forEach((id, k) => addSystem(bmc, id, k));
  addAccounts(bmc);
  return {
    handler: async (req: Request) => {
      logRequest(bmc.state.requests, `${req.method} ${new URL(req.url).pathname}`);
      const faulted = await bmc.faults.apply(req);
      if (faulted) return faulted;
      return await route(bmc, req);
    },
    faults: bmc.faults,
    state: bmc.state,
    systemPath: bmc.systemPaths[0],
    macsBySystem: bmc.macsBySystem,
  };
}
