/** The import's input format, and the options of the YAML + Kea merge. */

export type Format = "json" | "merge";

const FORMATS: [Format, string][] = [["json", "JSON"], ["merge", "YAML + Kea"]];

/** JSON, or a YAML device list merged with Kea reservations. */
export function FormatToggle(props: { mode: Format; onChange: (mode: Format) => void }) {
  return (
    <div class="row" role="group" aria-label="Input format">
      {FORMATS.map(([mode, label]) => (
        <button
          key={mode}
          type="button"
          aria-pressed={props.mode === mode}
          class={props.mode === mode ? "primary" : ""}
          onClick={() => props.onChange(mode)}
        >
          {label}
        </button>
      ))}
    </div>
  );
}

/** The same options as `deno task merge-import --domain … --names …`. */
export function MergeOptions(
  props: {
    domain: string;
    setDomain: (domain: string) => void;
    names: "kea" | "yaml";
    setNames: (names: "kea" | "yaml") => void;
  },
) {
  return (
    <>
      <label for="merge-domain">BMC domain (optional)</label>
      <input
        id="merge-domain"
        value={props.domain}
        placeholder=".bmc.example.org"
        onInput={(e) => props.setDomain(e.currentTarget.value)}
      />
      <label for="merge-names">Device names</label>
      <select
        id="merge-names"
        value={props.names}
        onChange={(e) => props.setNames(e.currentTarget.value === "yaml" ? "yaml" : "kea")}
      >
        <option value="kea">Kea's full name (dcoa-ra07u01 for ra07u01)</option>
        <option value="yaml">as written in the YAML list</option>
      </select>
    </>
  );
}
