/**
 * Netbox client: reference lookups, device/BMC interface/MAC/IP registration and undo, for both
 * MAC models (interface field before 4.2, `dcim.MACAddress` objects from 4.2). The parts live in
 * `netbox/` by concern; this module is the one the rest of the service imports.
 */
import type { NetboxClient, NetboxSettings } from "./netbox/types.ts";
import { createNetboxCore } from "./netbox/core.ts";
import { referenceOps } from "./netbox/reference.ts";
import { deviceOps } from "./netbox/devices.ts";
import { interfaceOps } from "./netbox/interfaces.ts";
import { ipamOps } from "./netbox/ipam.ts";

export * from "./netbox/types.ts";

/** Builds the Netbox client; every call goes through the shared HTTP layer. */
export function createNetboxClient(settings: NetboxSettings): NetboxClient {
  const core = createNetboxCore(settings);
  return {
    status: core.status,
    ...referenceOps(core),
    ...deviceOps(core),
    ...interfaceOps(core),
    ...ipamOps(core),
    async health() {
      await core.get("health", "status");
    },
  };
}
