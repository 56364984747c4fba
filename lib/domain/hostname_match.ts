/** Which device a Kea reservation hostname stands for (merge-import): domain, BMC prefixes and
 * suffixes removed, or a short device name the Kea name extends with a site prefix. */

/** Name affixes tried when no `--prefix` / `--suffix` is given; an exact name always wins. */
export const DEFAULT_PREFIXES: readonly string[] = ["bmc-", "ipmi-"];
export const DEFAULT_SUFFIXES: readonly string[] = ["-bmc", "-ipmi"];

export interface MatchOptions {
  /** Domain suffixes removed from reservation hostnames, e.g. `.bmc.platform.sunet.se`. When
   * empty, the hostname's first label is used (`dcoa-rb06u31.example.org` → `dcoa-rb06u31`). */
  domains?: readonly string[];
  /** Name prefixes the BMC hostname may carry (`bmc-dcoa-rb06u31`); default `DEFAULT_PREFIXES`. */
  prefixes?: readonly string[];
  /** Name suffixes the BMC hostname may carry (`dcoa-rb06u31-bmc`); default `DEFAULT_SUFFIXES`. */
  suffixes?: readonly string[];
  /** The emitted device name when a short YAML name (`ra07u01`) matched a longer Kea name
   * (`dcoa-ra07u01`): Kea's (default) or the YAML list's. */
  names?: "kea" | "yaml";
}

/** Lower-cased domain suffixes with a leading dot, longest first. */
function normalizeDomains(domains: readonly string[]): string[] {
  return [...new Set(domains.map((d) => d.trim().toLowerCase().replace(/\.+$/, "")))]
    .filter((d) => d && d !== ".")
    .map((d) => d.startsWith(".") ? d : `.${d}`)
    .sort((a, b) => b.length - a.length);
}

/** Device names a reservation hostname may stand for, most specific first. */
export function hostnameCandidates(hostname: string, options: MatchOptions = {}): string[] {
  const full = hostname.trim().toLowerCase().replace(/\.$/, "");
  if (!full) return [];
  const domains = normalizeDomains(options.domains ?? []);
  const bases = [full];
  if (domains.length) {
    const domain = domains.find((d) => full.endsWith(d) && full.length > d.length);
    if (domain) bases.push(full.slice(0, -domain.length));
  } else if (full.includes(".")) {
    bases.push(full.slice(0, full.indexOf(".")));
  }
  const prefixes = (options.prefixes ?? DEFAULT_PREFIXES).map((p) => p.toLowerCase()).filter(
    Boolean,
  );
  const suffixes = (options.suffixes ?? DEFAULT_SUFFIXES).map((s) => s.toLowerCase()).filter(
    Boolean,
  );
  const out: string[] = [];
  const add = (name: string) => {
    if (name && !out.includes(name)) out.push(name);
  };
  for (const base of bases) add(base);
  // Affixes belong to the host part, so they are removed from the shortest base only.
  const host = bases[bases.length - 1];
  const unprefixed = prefixes.filter((p) => host.startsWith(p) && host.length > p.length)
    .map((p) => host.slice(p.length));
  for (const stem of unprefixed) add(stem);
  for (const stem of [host, ...unprefixed]) {
    for (const s of suffixes) {
      if (stem.endsWith(s) && stem.length > s.length) add(stem.slice(0, -s.length));
    }
  }
  return out;
}

/**
 * The YAML name a reservation hostname matches, and the name Kea gives that device: an exact
 * candidate first, else a short YAML name that the Kea name extends with a prefix such as the
 * site (`ra07u01` in `dcoa-ra07u01`, the longest such YAML name first).
 */
export function matchHostname(
  hostname: string,
  names: { has(name: string): boolean },
  options: MatchOptions = {},
): { device: string; kea: string } | null {
  const candidates = hostnameCandidates(hostname, options);
  const exact = candidates.find((c) => names.has(c));
  if (exact) return { device: exact, kea: exact };
  // Most stripped first, so the Kea name keeps neither the domain nor a BMC affix.
  for (const c of candidates.toReversed()) {
    if (c.includes(".")) continue;
    for (let i = c.indexOf("-"); i > 0; i = c.indexOf("-", i + 1)) {
      const short = c.slice(i + 1);
      if (names.has(short)) return { device: short, kea: c };
    }
  }
  return null;
}
