/** The BMC interface (dcim) and its MAC, as an interface field or a `dcim.MACAddress`. */
import { IntegrationError } from "../http.ts";
import { canonicalMac } from "../../domain/mac.ts";
import type { NetboxCore } from "./core.ts";
import { BMC_INTERFACE_NAME, type NetboxClient } from "./types.ts";
import { type ApiInterface, type ApiMac, INTERFACE_HINT_MS, sameMac } from "./wire.ts";

/** The BMC interface and its MAC, for both MAC models. */
export function interfaceOps(
  core: NetboxCore,
): Pick<
  NetboxClient,
  | "bmcInterfaces"
  | "ensureBmcInterface"
  | "setInterfaceMac"
  | "deleteMac"
  | "deleteInterface"
  | "interfaceIps"
> {
  const {
    get,
    send,
    remove,
    list,
    createChecked,
    rememberInterface,
    takeInterfaceHint,
    freshInterfaces,
    status,
    interfaceIps,
    findMacObjects,
  } = core;
  return {
    async bmcInterfaces() {
      const found = await list<ApiInterface>("list BMC interfaces", "dcim/interfaces", {
        name: BMC_INTERFACE_NAME,
      });
      return found.map((i) => {
        const mac = i.primary_mac_address?.mac_address ?? i.mac_address;
        return {
          id: i.id,
          device_id: i.device.id,
          device_name: i.device.name ?? "",
          mac: mac ? canonicalMac(mac) ?? mac.toLowerCase() : null,
        };
      });
    },

    async ensureBmcInterface(deviceId) {
      const find = async () => {
        const found = await list<ApiInterface>("find BMC interface", "dcim/interfaces", {
          device_id: deviceId,
          name: BMC_INTERFACE_NAME,
        });
        return found[0] ?? null;
      };
      // Create first: a new device (the usual case) has no BMC interface, so one call does. An
      // existing one (a re-run, or a device type whose template has it) makes Netbox answer 400
      // for the duplicate device + name, and then it is looked up.
      let created: { created: boolean; value: ApiInterface };
      try {
        created = await createChecked<ApiInterface>(
          "create BMC interface",
          "dcim/interfaces",
          { device: deviceId, name: BMC_INTERFACE_NAME, type: "1000base-t", mgmt_only: true },
          find,
        );
      } catch (e) {
        if (!(e instanceof IntegrationError) || e.status !== 400) throw e;
        const existing = await find();
        if (!existing) throw e;
        created = { created: false, value: existing };
      }
      rememberInterface(created.value, created.created);
      if (created.created) {
        const now = Date.now();
        for (const [id, at] of freshInterfaces) {
          if (now - at > INTERFACE_HINT_MS) freshInterfaces.delete(id);
        }
        freshInterfaces.set(created.value.id, now);
      }
      return { id: created.value.id };
    },

    async setInterfaceMac(interfaceId, mac) {
      const canonical = canonicalMac(mac);
      if (!canonical) throw new RangeError(`Not a usable MAC address: "${mac}"`);
      const hint = takeInterfaceHint(interfaceId);
      const [{ macObjects }, iface] = await Promise.all([
        status(),
        hint?.iface ?? get<ApiInterface>("get interface", `dcim/interfaces/${interfaceId}`),
      ]);
      if (!macObjects) {
        if (!sameMac(iface.mac_address, canonical)) {
          await send("set interface MAC", "PATCH", `dcim/interfaces/${interfaceId}`, {
            mac_address: canonical,
          });
        }
        return { macId: null };
      }
      const previous = iface.primary_mac_address ?? null;
      if (previous && sameMac(previous.mac_address, canonical)) return { macId: previous.id };
      const find = async () => (await findMacObjects(interfaceId, canonical))[0] ?? null;
      // An interface this client created moments ago has no MAC objects yet: nothing to reuse.
      let macObject = hint?.created ? null : await find();
      if (!macObject) {
        macObject = (await createChecked<ApiMac>("create MAC address", "dcim/mac-addresses", {
          mac_address: canonical,
          assigned_object_type: "dcim.interface",
          assigned_object_id: interfaceId,
        }, find)).value;
      }
      await send("set primary MAC", "PATCH", `dcim/interfaces/${interfaceId}`, {
        primary_mac_address: macObject.id,
      });
      // The BMC interface has one MAC: a replaced one would still match lookups by MAC.
      if (previous) await remove("delete MAC address", `dcim/mac-addresses/${previous.id}`);
      return { macId: macObject.id };
    },

    interfaceIps,

    deleteMac: (id) => remove("delete MAC address", `dcim/mac-addresses/${id}`),
    deleteInterface: (id) => remove("delete interface", `dcim/interfaces/${id}`),
  };
}
