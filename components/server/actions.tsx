/** The server page's actions apart from Retry: rotate the BMC password, decommission. */
import { useState } from "preact/hooks";
import { api, errorMessage } from "../../client/api.ts";
import { formatTime } from "../../client/format.ts";

/** Rotation of the BMC password, behind a confirmation. */
export function RotationCard(
  props: {
    id: string;
    deviceName: string;
    rotation?: { status: string; message: string; at: string };
    onDone: () => void;
  },
) {
  const [rotating, setRotating] = useState<"confirm" | "running" | "">("");
  const [result, setResult] = useState("");
  const rotateNow = async () => {
    setRotating("running");
    try {
      const a = await api("POST", `/api/v1/servers/${props.id}/rotate-credentials`);
      setResult(a.ok ? "BMC password replaced" : errorMessage(a));
      props.onDone();
    } catch {
      setResult("No network: try again when online.");
    }
    setRotating("");
  };
  return (
    <section class="card" aria-labelledby="rotation-title">
      <h2 id="rotation-title">BMC password</h2>
      <p class="hint">
        Replaces it with a generated one; OpenBao and the Metal3 Secret get the new password.
      </p>
      {props.rotation && (
        <p class="hint" data-testid="rotation">
          Last rotation ({formatTime(props.rotation.at)}): {props.rotation.message}
        </p>
      )}
      <div class="actions" role="group" aria-label="Rotate the BMC password">
        {rotating === "confirm"
          ? (
            <>
              <button type="button" onClick={() => setRotating("")}>Cancel</button>
              <button type="button" onClick={rotateNow}>
                Rotate the password of {props.deviceName}
              </button>
            </>
          )
          : (
            <button
              type="button"
              disabled={rotating === "running"}
              onClick={() => setRotating("confirm")}
            >
              {rotating === "running" ? "Rotating…" : "Rotate BMC password…"}
            </button>
          )}
      </div>
      {result && <p role="status" class="hint" data-testid="rotation-result">{result}</p>}
    </section>
  );
}

/** Decommission, apart at the end of the page and behind a confirmation. */
export function DecommissionCard(
  props: { id: string; deviceName: string; onResult: (text: string) => void },
) {
  const [confirming, setConfirming] = useState(false);
  const decommissionNow = async () => {
    setConfirming(false);
    try {
      const a = await api("DELETE", `/api/v1/servers/${props.id}`);
      props.onResult(a.ok ? "Decommissioned" : errorMessage(a));
    } catch {
      props.onResult("No network: try again when online.");
    }
  };
  return (
    <section class="card danger-zone" aria-labelledby="decommission-title">
      <h2 id="decommission-title">Decommission</h2>
      <p class="hint">
        Removes its BareMetalHost, Secret, DHCP reservation, stored credentials and Netbox records.
      </p>
      {confirming
        ? (
          <div class="actions" role="group" aria-label="Confirm decommission">
            <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
            <button type="button" class="danger" onClick={decommissionNow}>
              Decommission {props.deviceName}
            </button>
          </div>
        )
        : (
          <div class="actions">
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Decommission…
            </button>
          </div>
        )}
    </section>
  );
}
