/**
 * Retry of a registration, with what it may ask for: a rescanned BMC password (the BMC rejected the
 * one given), the boot NIC MAC (libvirt is blocked on it, or the host was created without one: a
 * NIC the BMC listed can be picked), or which system of a multi-system BMC is this server. Retry
 * comes before the camera: after a failure it is the one main action.
 */
import { useState } from "preact/hooks";
import { MAC_MESSAGES, macProblem } from "../lib/domain/mac.ts";
import { api, errorMessage } from "../client/api.ts";
import { Camera } from "./camera.tsx";
import { scannedMac, scannedPassword } from "../client/scan_payload.ts";

/** The parts of a registration the form looks at. */
export interface RetryTarget {
  id: string;
  status: string;
  boot_mac?: string;
  steps?: Record<string, { status: string; message?: string }>;
  bmc?: {
    bootMac?: string;
    nics?: { id: string; mac: string; link: string }[];
    systems?: { id: string; path: string; name: string; serial: string }[];
  };
}

/**
 * What a Retry of `r` asks for ("retry": nothing, just Retry), or null when there is nothing to
 * retry. The password only when the BMC refused it: any other failure keeps the stored one.
 */
export function retryAsks(r: RetryTarget): "system" | "boot-mac" | "password" | "retry" | null {
  if (r.status === "blocked" && r.bmc?.systems?.length) return "system";
  if (r.status === "blocked") return "boot-mac";
  if (r.status === "failed") {
    const failed = Object.values(r.steps ?? {}).filter((s) => s.status === "failed");
    return failed.some((s) => /password|credential/i.test(s.message ?? "")) ? "password" : "retry";
  }
  // Created without a boot MAC: one can be added later (the host is applied again with it).
  if (r.status === "ok" && !r.boot_mac && !r.bmc?.bootMac) return "boot-mac";
  return null;
}

const LINK: Record<string, string> = {
  LinkUp: "link up",
  LinkDown: "link down",
  NoLink: "no link",
};

export function RetryForm(
  props: {
    registration: RetryTarget;
    wasmUrl?: string;
    /** Called with "" once the retry is accepted, else with what went wrong. */
    onResult: (error: string) => void;
  },
) {
  const r = props.registration;
  const [password, setPassword] = useState("");
  const [bootMac, setBootMac] = useState("");
  const [system, setSystem] = useState("");
  const [busy, setBusy] = useState(false);
  const ask = retryAsks(r);
  if (!ask) return null;
  const bootIssue = bootMac ? macProblem(bootMac) : null;
  const optional = r.status === "ok";

  const retry = async () => {
    setBusy(true);
    const body = {
      ...(password ? { bmc_password: password } : {}),
      ...(bootMac ? { boot_mac: scannedMac(bootMac) ?? bootMac } : {}),
      ...(system ? { bmc_system: system } : {}),
    };
    try {
      const answer = await api("POST", `/api/v1/servers/${r.id}/retry`, { body });
      if (answer.ok) {
        setPassword("");
        setBootMac("");
      }
      props.onResult(answer.ok ? "" : errorMessage(answer));
    } catch {
      props.onResult("No network: Retry again when online.");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="retry" data-testid="retry-form">
      {ask === "system" && (
        <>
          <label for="retry-system">BMC system of this server</label>
          <select
            id="retry-system"
            value={system}
            onChange={(e) => setSystem(e.currentTarget.value)}
          >
            <option value="">Choose the system in this slot…</option>
            {r.bmc!.systems!.map((s) => (
              <option key={s.path} value={s.id}>
                {[s.id, s.name, s.serial && `serial ${s.serial}`].filter(Boolean).join(" · ")}
              </option>
            ))}
          </select>
          <p class="hint">
            This BMC manages several systems: nothing is chosen for you.
          </p>
        </>
      )}
      {ask === "boot-mac" && (
        <>
          {optional && (
            <p class="hint" data-testid="no-boot-mac">
              No boot MAC is known: the BareMetalHost was created without one and Metal3's
              inspection will find the NICs. You can add it now.
            </p>
          )}
          {r.bmc?.nics && r.bmc.nics.length > 1 && (
            <>
              <p class="hint">The BMC lists these NICs but does not say which one boots:</p>
              <ul class="steplist" data-testid="boot-nic-candidates">
                {r.bmc.nics.map((n) => (
                  <li key={n.mac}>
                    <span>{n.mac}</span>
                    <span class="hint">{n.id} · {LINK[n.link] ?? "link unknown"}</span>
                    <button type="button" onClick={() => setBootMac(n.mac)}>Use</button>
                  </li>
                ))}
              </ul>
            </>
          )}
          <label for="retry-boot-mac">Boot NIC MAC</label>
          <input
            id="retry-boot-mac"
            autoComplete="off"
            value={bootMac}
            aria-invalid={bootIssue ? "true" : "false"}
            onInput={(e) => setBootMac(e.currentTarget.value)}
          />
          {bootIssue && <p class="error">{MAC_MESSAGES[bootIssue]}</p>}
        </>
      )}
      {ask === "password" && (
        <>
          <label for="retry-password">BMC password (empty: keep the stored one)</label>
          <input
            id="retry-password"
            type="password"
            autoComplete="off"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </>
      )}
      <div class="actions">
        <button
          type="button"
          class="primary"
          disabled={busy || Boolean(bootIssue) || password.length > 128 ||
            (ask === "system" && !system) || (optional && !bootMac)}
          onClick={retry}
        >
          {optional ? "Add boot MAC" : "Retry"}
        </button>
      </div>
      {props.wasmUrl && (ask === "boot-mac" || ask === "password") && (
        <Camera
          wasmUrl={props.wasmUrl}
          label={ask === "boot-mac" ? "boot NIC MAC label" : "BMC password label"}
          secondary
          onCode={(value) => {
            const found = ask === "boot-mac" ? scannedMac(value) : scannedPassword(value);
            if (!found) return false;
            (ask === "boot-mac" ? setBootMac : setPassword)(found);
            return true;
          }}
        />
      )}
    </div>
  );
}
