/** Every Deno KV key of the service, built in one place (except the login and session records of
 * lib/integrations/oidc.ts, which keeps its own until sessions move into lib/state). */
export const keys = {
  registration: (id: string) => ["registrations", id] as const,
  registrations: () => ["registrations"] as const,
  byName: (name: string) => ["registrations_by_name", name] as const,
  byMac: (mac: string) => ["registrations_by_mac", mac] as const,
  slot: (rackId: number, unit: number) => ["rack_slots", rackId, unit] as const,
  /** Every claimed unit of one rack. */
  rackSlots: (rackId: number) => ["rack_slots", rackId] as const,
  idempotency: (key: string) => ["idempotency_keys", key] as const,
  audit: (id: string, at: string) => ["audit", id, at] as const,
  auditFor: (id: string) => ["audit", id] as const,
  /** A cached Netbox list: its head, and its chunks under `[...reference(what), generation, i]`. */
  reference: (what: string) => ["reference_cache", what] as const,
  referenceChunk: (what: string, generation: string, i: number) =>
    ["reference_cache", what, generation, i] as const,
  /** Held by the replica reloading a stale cached list. */
  referenceRefresh: (what: string) => ["reference_refresh", what] as const,
  /** Small per-record index entries so filtered lists do not decode whole records. */
  search: (id: string) => ["registrations_search", id] as const,
  searchAll: () => ["registrations_search"] as const,
  byStatus: (status: string, id: string) => ["registrations_by_status", status, id] as const,
  withStatus: (status: string) => ["registrations_by_status", status] as const,
  /** Decommissioned records whose BareMetalHost is still being deleted. */
  hostDeletion: (id: string) => ["host_deletions", id] as const,
  hostDeletions: () => ["host_deletions"] as const,
  /** One entry per search term of a record (see `searchTerms`): a search reads one term's ids. */
  byTerm: (term: string, id: string) => ["registrations_by_term", term, id] as const,
  terms: (term: string) => ["registrations_by_term", term] as const,
  /** The latest full drift check's head (lib/registration/drift/stored.ts). */
  driftReport: () => ["drift_report"] as const,
  /** Its findings by system, kind and id, under the check's generation. */
  driftFinding: (generation: string, system: string, kind: string, id: string) =>
    ["drift_findings", generation, system, kind, id] as const,
  driftFindings: (generation: string, ...systemAndKind: string[]) =>
    ["drift_findings", generation, ...systemAndKind] as const,
  /** Its findings by (lower-cased) server and id. */
  driftFindingOfServer: (generation: string, server: string, id: string) =>
    ["drift_findings_by_server", generation, server, id] as const,
  driftFindingsOfServer: (generation: string, server?: string) =>
    ["drift_findings_by_server", generation, ...(server === undefined ? [] : [server])] as const,
  /** Which shape of the index entries above the stored records have (`ensureIndex`). */
  indexVersion: () => ["registrations_index_version"] as const,
  /** The key pair that encrypts BMC passwords waiting in the outbox. */
  outboxKey: () => ["outbox_key"] as const,
  /** Read (never written) by the readiness probe to see that KV answers. */
  readiness: () => ["readyz"] as const,
};
