/** The server list's search and drop-down filters (their choices come from the data). */

export interface Option {
  value: string;
  label: string;
}

/** The drop-down filters, in the order shown; `source` picks registrations, Netbox or both. */
export const FILTERS = [
  ["site", "Site"],
  ["location", "Location"],
  ["rack", "Rack"],
  ["device_type", "Type"],
  ["role", "Role"],
  ["status", "Status"],
] as const;
export type FilterName = typeof FILTERS[number][0] | "source" | "q";
export type Filters = Record<FilterName, string>;
export const NO_FILTERS: Filters = {
  q: "",
  source: "",
  site: "",
  location: "",
  rack: "",
  device_type: "",
  role: "",
  status: "",
};
const SOURCES: Option[] = [
  { value: "", label: "Registered and Netbox" },
  { value: "ours", label: "Registered here" },
  { value: "netbox", label: "Netbox devices" },
];

export function FilterBar(
  props: {
    filters: Filters;
    choices: Record<string, Option[]>;
    set: (name: FilterName, value: string) => void;
  },
) {
  /** A filter's choices: from the data, plus the current value when the data lacks it. */
  const optionsFor = (name: FilterName) => {
    const list = name === "source" ? SOURCES.slice(1) : props.choices[name] ?? [];
    const value = props.filters[name];
    return value && !list.some((o) => o.value === value)
      ? [...list, { value, label: value }]
      : list;
  };

  const chosen = FILTERS.filter(([name]) => props.filters[name]).length;
  return (
    <>
      <label for="q">Search</label>
      <input
        id="q"
        type="search"
        placeholder="name, MAC or IP"
        value={props.filters.q}
        onInput={(e) => props.set("q", e.currentTarget.value)}
      />
      <label for="filter-source">Show</label>
      <select
        id="filter-source"
        value={props.filters.source}
        onChange={(e) => props.set("source", e.currentTarget.value)}
      >
        <option value="">{SOURCES[0].label}</option>
        {optionsFor("source").map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
      </select>
      <details class="filters" open={chosen > 0}>
        <summary>Filters{chosen ? ` (${chosen})` : ""}</summary>
        <div class="grid2">
          {FILTERS.map(([name, label]) => (
            <div key={name}>
              <label for={`filter-${name}`}>{label}</label>
              <select
                id={`filter-${name}`}
                value={props.filters[name]}
                onChange={(e) => props.set(name, e.currentTarget.value)}
              >
                <option value="">any</option>
                {optionsFor(name).map((o) => (
                  <option key={o.value} value={o.value}>{o.label}</option>
                ))}
              </select>
            </div>
          ))}
        </div>
        <p class="hint">Decommissioned servers are listed only when chosen under Status.</p>
      </details>
    </>
  );
}
