/**
 * In-memory Netbox REST API for tests and the demo: DCIM, IPAM and MAC objects with Netbox's own
 * validation rules, error bodies, pagination and serialised IP allocation. The state lives in one
 * `NetboxDb` (db.ts); each concern is a module of functions over it.
 */
import { createDb } from "./db.ts";
import {
  addDevice,
  addDevices,
  addDeviceType,
  addLocation,
  addRack,
  addRole,
  addSite,
  addTenant,
} from "./dcim.ts";
import { createHandler } from "./http.ts";
import { addInterface } from "./interfaces.ts";
import { addIp, addIpamRole, addPrefix } from "./ipam.ts";
import { seedNetbox } from "./seed.ts";
import type { FakeNetbox, FakeNetboxOptions } from "./types.ts";

export { FAKE_NETBOX_TOKEN } from "./db.ts";
export type * from "./types.ts";

/** Creates the fake; pass `seed: true` for the sample datacenter used by the demo. */
export function createFakeNetbox(options: FakeNetboxOptions = {}): FakeNetbox {
  const db = createDb(options);
  const fake: FakeNetbox = {
    handler: createHandler(db),
    faults: db.faults,
    version: db.version,
    token: db.token,
    macObjects: db.macObjects,
    sites: db.sites,
    locations: db.locations,
    racks: db.racks,
    manufacturers: db.manufacturers,
    deviceTypes: db.deviceTypes,
    roles: db.roles,
    tenants: db.tenants,
    ipamRoles: db.ipamRoles,
    prefixes: db.prefixes,
    devices: db.devices,
    interfaces: db.interfaces,
    macAddresses: db.macAddresses,
    ipAddresses: db.ipAddresses,
    requestLog: db.requestLog,
    seedIds: null,
    addSite: (input) => addSite(db, input),
    addLocation: (input) => addLocation(db, input),
    addRack: (input) => addRack(db, input),
    addDeviceType: (input) => addDeviceType(db, input),
    addRole: (input) => addRole(db, input),
    addTenant: (input) => addTenant(db, input),
    addIpamRole: (input) => addIpamRole(db, input),
    addPrefix: (input) => addPrefix(db, input),
    addDevice: (input) => addDevice(db, input),
    addDevices: (inputs) => addDevices(db, inputs),
    addInterface: (input) => addInterface(db, input),
    addIp: (input) => addIp(db, input),
  };
  if (options.seed) fake.seedIds = seedNetbox(fake);
  return fake;
}
