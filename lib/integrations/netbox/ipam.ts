/** Netbox IP addresses (ipam): allocate from a prefix, assign a given one, delete. */
import { Conflict } from "../../domain/errors.ts";
import { ipInPrefix } from "../../domain/ipv4.ts";
import type { NetboxCore } from "./core.ts";
import type { NetboxClient, NetboxIp } from "./types.ts";
import { type ApiIp, type ApiPrefix, INTERFACE_HINT_MS, toIp } from "./wire.ts";

/** IP addresses: allocate from a prefix, assign a given one, delete. */
export function ipamOps(
  core: NetboxCore,
): Pick<NetboxClient, "allocateIp" | "assignIp" | "deleteIp" | "ipsIn"> {
  const { get, send, remove, list, createChecked, freshInterfaces, interfaceIps } = core;
  return {
    async ipsIn(prefix) {
      return (await list<ApiIp>("list IPs", "ipam/ip-addresses", { parent: prefix })).map(toIp);
    },

    async allocateIp(prefixId, interfaceId, opts = {}) {
      // The prefix itself is only needed when the interface already has addresses to sort out.
      let prefix: Promise<ApiPrefix> | undefined;
      const inPrefix = async () => {
        const ips = await interfaceIps(interfaceId);
        if (!ips.length) return null;
        prefix ??= get<ApiPrefix>("get prefix", `ipam/prefixes/${prefixId}`);
        const cidr = (await prefix).prefix;
        return ips.find((ip) => ipInPrefix(ip.address.split("/")[0], cidr)) ?? null;
      };
      const createdAt = freshInterfaces.get(interfaceId);
      freshInterfaces.delete(interfaceId);
      const fresh = createdAt !== undefined && Date.now() - createdAt <= INTERFACE_HINT_MS;
      const existing = fresh ? null : await inPrefix();
      if (existing) return existing;
      const body: Record<string, unknown> = {
        status: "active",
        assigned_object_type: "dcim.interface",
        assigned_object_id: interfaceId,
      };
      if (opts.dnsName) body.dns_name = opts.dnsName;
      if (opts.description) body.description = opts.description;
      if (opts.tenantId !== undefined) body.tenant = opts.tenantId;
      const { value } = await createChecked<ApiIp | NetboxIp>(
        "allocate IP",
        `ipam/prefixes/${prefixId}/available-ips`,
        body,
        inPrefix,
      );
      return "assigned_object_type" in value ? toIp(value) : value;
    },

    async assignIp(address, interfaceId, opts = {}) {
      const [host, maskText] = address.trim().split("/");
      const found = await list<ApiIp>("find IP", "ipam/ip-addresses", { address: host });
      const current = found[0];
      if (current) {
        if (current.assigned_object_type === "dcim.interface") {
          if (current.assigned_object_id === interfaceId) return toIp(current);
          const other = current.assigned_object?.device?.name ??
            `interface ${current.assigned_object_id}`;
          throw new Conflict(`Cannot use ${host}: already assigned to ${other} in Netbox`);
        }
        if (current.assigned_object_type) {
          throw new Conflict(
            `Cannot use ${host}: already assigned to a ${current.assigned_object_type} in Netbox`,
          );
        }
        const patched = await send<ApiIp>("assign IP", "PATCH", `ipam/ip-addresses/${current.id}`, {
          assigned_object_type: "dcim.interface",
          assigned_object_id: interfaceId,
        });
        return toIp(patched);
      }
      let mask = maskText;
      if (!mask) {
        const containing = await list<ApiPrefix>("find prefix", "ipam/prefixes", {
          contains: host,
        });
        const longest = containing.map((p) => Number(p.prefix.split("/")[1])).sort((a, b) => b - a);
        mask = String(longest[0] ?? 32);
      }
      const { value } = await createChecked<ApiIp | NetboxIp>(
        "create IP",
        "ipam/ip-addresses",
        {
          address: `${host}/${mask}`,
          status: "active",
          assigned_object_type: "dcim.interface",
          assigned_object_id: interfaceId,
          ...(opts.tenantId !== undefined ? { tenant: opts.tenantId } : {}),
        },
        async () =>
          (await interfaceIps(interfaceId)).find((ip) => ip.address.startsWith(`${host}/`)) ?? null,
      );
      return "assigned_object_type" in value ? toIp(value) : value;
    },

    deleteIp: (id) => remove("delete IP", `ipam/ip-addresses/${id}`),
  };
}
