/** Scan flow island: BMC MAC, password, location, Go. */
import { useState } from "preact/hooks";
import { canonicalMac, MAC_MESSAGES, macProblem, macVendor } from "../lib/mac.ts";

export interface ScanFlowProps {
  /** URL of the self-hosted ZXing WebAssembly (from the asset manifest). */
  wasmUrl?: string;
  [key: string]: unknown;
}

/** Step 1 of registration: enter or scan the BMC MAC. */
export default function ScanFlow(_props: ScanFlowProps) {
  const [mac, setMac] = useState("");
  const [checked, setChecked] = useState<string | null>(null);
  const check = () => {
    const problem = macProblem(mac);
    if (problem) return setChecked(MAC_MESSAGES[problem]);
    const c = canonicalMac(mac)!;
    setChecked(`${c} · ${macVendor(c) ?? "unknown vendor"}`);
  };
  return (
    <section class="card" aria-labelledby="scan-title">
      <h1 id="scan-title">Scan the BMC MAC</h1>
      <label for="bmc-mac">BMC MAC</label>
      <input
        id="bmc-mac"
        name="bmc_mac"
        inputMode="text"
        autoComplete="off"
        value={mac}
        onInput={(e) => setMac(e.currentTarget.value)}
      />
      <button type="button" class="primary" onClick={check}>Check MAC</button>
      <p role="status" data-testid="mac-result">{checked}</p>
    </section>
  );
}
