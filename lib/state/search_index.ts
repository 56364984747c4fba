/** The small per-record index entries behind filtered lists and search, written with the record. */
import type { Registration } from "../domain/registration.ts";
import type { StateAtomic } from "./backend.ts";
import { keys } from "./keys.ts";

/** Bumped whenever the index entries change shape; `ensureIndex` rewrites them once. */
export const INDEX_VERSION = 2;

/** What a filtered list reads instead of the record. */
export interface SearchEntry {
  /** Device name, lower case. */
  name: string;
  mac: string;
  ip?: string;
  status: string;
  /** The Netbox site once resolved: the same for a request that named it by id, slug or name. */
  site_id?: number;
  /** The site as requested and, once resolved, its slug and name (lower case). */
  sites: string[];
}

/** The `site` filter of a list: the resolved Netbox site, or only the text as written. */
export interface SiteFilter {
  id?: number;
  /** Lower-case names the site goes by (as written, slug, name), for unresolved records. */
  names: string[];
}

export function searchEntry(r: Registration): SearchEntry {
  const sites = [r.request.site, r.resolved?.siteSlug, r.resolved?.siteName]
    .filter((s) => s !== undefined).map((s) => String(s).toLowerCase());
  return {
    name: r.device_name.toLowerCase(),
    mac: r.bmc_mac,
    ...(r.bmc_ip ? { ip: r.bmc_ip } : {}),
    status: r.status,
    ...(r.resolved ? { site_id: r.resolved.siteId } : {}),
    sites: [...new Set(sites)],
  };
}

export function siteMatches(entry: SearchEntry, filter: SiteFilter): boolean {
  if (filter.id !== undefined && entry.site_id !== undefined) return entry.site_id === filter.id;
  return entry.sites.some((s) => filter.names.includes(s.toLowerCase()));
}

/** Letters and digits only: the form terms are stored and looked up in. */
const termOf = (s: string) => s.toLowerCase().replace(/[^0-9a-z]/g, "");
/** Longer queries look up their first 12 characters; the entry check does the rest. */
const TERM_MAX = 12;
/** Name parts after this many separators are not indexed (bounds the entries per record). */
const NAME_PARTS_MAX = 6;

/** Where the name's parts start: 0 and after each separator, at most NAME_PARTS_MAX more. */
function partStarts(name: string): number[] {
  const starts = [0];
  for (const m of name.matchAll(/[^0-9a-z](?=[0-9a-z])/g)) {
    if (starts.length > NAME_PARTS_MAX) break;
    starts.push(m.index + 1);
  }
  return starts;
}

/**
 * The terms a search can look a record up by: every prefix (up to TERM_MAX) of the device name
 * from its start and from each part after a separator (`-r12` finds `dcoa-r120u5`), of the BMC IP,
 * and the MAC's last 4 to 12 hex digits (a label's MAC in any form, or its end). About 35 entries
 * per record, all written in the record's own atomic commit.
 */
export function searchTerms(r: Registration): Set<string> {
  const out = new Set<string>();
  const prefixes = (t: string) => {
    for (let k = 1; k <= Math.min(t.length, TERM_MAX); k++) out.add(t.slice(0, k));
  };
  const name = r.device_name.toLowerCase();
  for (const b of partStarts(name)) prefixes(termOf(name.slice(b)));
  if (r.bmc_ip) prefixes(termOf(r.bmc_ip));
  const hex = termOf(r.bmc_mac);
  for (let k = 4; k <= hex.length; k++) out.add(hex.slice(-k));
  return out;
}

/** A free-text query: what it looks up, and the exact check of each entry found. */
export function textQuery(q: string): { term: string; matches: (e: SearchEntry) => boolean } {
  const text = q.trim().toLowerCase();
  const part = text.replace(/^[^0-9a-z]+/, "");
  // A MAC as printed on a label (3CECEF…, 3c-ec-ef…, 3cec.ef…), or its last digits.
  const hex = text.replace(/[-:.\s]/g, "");
  const mac = /^[0-9a-f]{4,12}$/.test(hex) ? hex : undefined;
  return {
    term: termOf(text).slice(0, TERM_MAX),
    matches: (e) => {
      if (e.ip?.startsWith(text)) return true;
      if (mac && termOf(e.mac).endsWith(mac)) return true;
      return part !== "" && partStarts(e.name).some((b) => e.name.startsWith(part, b));
    },
  };
}

function sameEntry(a: SearchEntry, b: SearchEntry): boolean {
  return a.name === b.name && a.mac === b.mac && a.ip === b.ip && a.status === b.status &&
    a.site_id === b.site_id && a.sites.length === b.sites.length &&
    a.sites.every((s, i) => s === b.sites[i]);
}

/** Adds the index writes for `next` (and removes what `prev` had and `next` has not) to an atomic op. */
export function indexRecord(op: StateAtomic, next: Registration, prev?: Registration) {
  if (prev && prev.status !== next.status) op.delete(keys.byStatus(prev.status, next.id));
  const entry = searchEntry(next);
  if (!prev || !sameEntry(searchEntry(prev), entry)) {
    op.set(keys.search(next.id), entry).set(keys.byStatus(next.status, next.id), entry);
  }
  // The terms come from the name, the IP and the MAC alone; most updates change none of them.
  if (
    prev && prev.device_name === next.device_name && prev.bmc_ip === next.bmc_ip &&
    prev.bmc_mac === next.bmc_mac
  ) return;
  const before = prev ? searchTerms(prev) : new Set<string>();
  const after = searchTerms(next);
  for (const t of before) if (!after.has(t)) op.delete(keys.byTerm(t, next.id));
  for (const t of after) if (!before.has(t)) op.set(keys.byTerm(t, next.id), 1);
}
