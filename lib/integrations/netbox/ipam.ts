/** Netbox IP addresses (ipam): allocate from a prefix, assign a given one, delete. */
import { Conflict, IntegrationError } from "../../domain/errors.ts";
import { ipInPrefix } from "../../domain/ipv4.ts";
import type { NetboxCore } from "./core.ts";
import type { NetboxClient, NetboxIp } from "./types.ts";
import { type ApiIp, type ApiPrefix, INTERFACE_HINT_MS, toIp } from "./wire.ts";

/** At most this many addresses in one allocation request. */
export const ALLOCATION_BATCH = 50;

/** One allocation waiting for its request: the object to create and where its answer goes. */
interface Waiting {
  body: Record<string, unknown>;
  resolve: (ip: ApiIp) => void;
  reject: (error: unknown) => void;
}

/** IP addresses: allocate from a prefix, assign a given one, delete. */
export function ipamOps(
  core: NetboxCore,
): Pick<NetboxClient, "allocateIp" | "assignIp" | "deleteIp" | "ipsIn"> {
  const { api, get, send, remove, list, createChecked, freshInterfaces, interfaceIps } = core;

  /**
   * Allocations per prefix while a request for it is in flight: Netbox allocates under one lock
   * (for every prefix), so allocations one by one cap a whole import at one per lock hold.
   * Netbox's available-ips POST takes a list and allocates it under one lock, in one
   * transaction: allocations that arrive while one is in flight wait for it and then go together.
   */
  const waiting = new Map<number, Waiting[]>();

  /** One attempt at allocating `body` from the prefix, alone or with others that wait. */
  function allocateOnce(prefixId: number, body: Record<string, unknown>): Promise<ApiIp> {
    return new Promise((resolve, reject) => {
      const queue = waiting.get(prefixId);
      if (queue) return void queue.push({ body, resolve, reject });
      waiting.set(prefixId, [{ body, resolve, reject }]);
      sendNext(prefixId);
    });
  }

  function sendNext(prefixId: number): void {
    const queue = waiting.get(prefixId)!;
    if (!queue.length) return void waiting.delete(prefixId);
    postAllocations(prefixId, queue.splice(0, ALLOCATION_BATCH)).finally(() => sendNext(prefixId));
  }

  /** Sends one request for `batch`; done when its answer is in (each member settled or sent on). */
  async function postAllocations(prefixId: number, batch: Waiting[]): Promise<void> {
    const path = `ipam/prefixes/${prefixId}/available-ips`;
    const alone = (w: Waiting) =>
      send<ApiIp>("allocate IP", "POST", path, w.body, false).then(w.resolve, w.reject);
    if (batch.length === 1) return await alone(batch[0]);
    let created: ApiIp[];
    try {
      created = await send<ApiIp[]>("allocate IP", "POST", path, batch.map((w) => w.body), false);
    } catch (e) {
      // One transaction: a full prefix (409) or one member's invalid object (400) refuses the
      // whole list. Alone, each gets its own answer. Anything else is every member's answer (a
      // lost one included: each caller then looks at its own interface before trying again).
      const refused = e instanceof IntegrationError && (e.status === 409 || e.status === 400);
      for (const w of batch) refused ? alone(w) : w.reject(e);
      return;
    }
    // Netbox answers a list with the created objects in the order asked.
    if (!Array.isArray(created) || created.length !== batch.length) {
      const e = new IntegrationError({
        integration: "netbox",
        operation: "allocate IP",
        method: "POST",
        url: api(path),
        status: 201,
        message:
          `netbox allocate IP: asked for ${batch.length} addresses, the answer is not a list of ${batch.length}`,
      });
      for (const w of batch) w.reject(e);
      return;
    }
    batch.forEach((w, i) => w.resolve(created[i]));
  }

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
        () => allocateOnce(prefixId, body),
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
