/**
 * Scan → Location → Go: the technician's registration flow. Scans (or types) the BMC MAC and
 * password, picks the rack slot on an elevation drawing (the next free unit above the last one
 * suggested), registers and follows the steps live; offline, the registration is queued in the
 * outbox with its password encrypted. Made for one gloved hand: 44 px targets, the step's main
 * button always on screen. The steps are in `components/scan/`.
 */
import { useState } from "preact/hooks";
import { macProblem } from "../lib/domain/mac.ts";
import { scannedMac } from "../client/scan_payload.ts";
import type { ComponentType } from "preact";
import {
  goBlocker,
  type Notice,
  registrationBody,
  rememberLocation,
} from "../components/scan/model.ts";
import { register } from "../components/scan/register.ts";
import { StepHeader } from "../components/scan/step_header.tsx";
import { useProgress } from "../components/scan/use_progress.ts";
import { useLocationPick } from "../components/scan/use_location.ts";
import { useMacCheck } from "../components/scan/use_mac_check.ts";
import { useSteps } from "../components/scan/use_steps.ts";
import { MacStep } from "../components/scan/mac_step.tsx";
import { PasswordStep } from "../components/scan/password_step.tsx";
import { LocationStep } from "../components/scan/location_step.tsx";
import type { GoStepProps } from "../components/scan/go_step.tsx";
import { OutboxCard, type Sent, SentCard, useOutbox } from "../components/scan/outbox_card.tsx";

export interface ScanFlowProps {
  /** URL of the self-hosted ZXing WebAssembly (from the asset manifest). */
  wasmUrl?: string;
  /** DEVICE_NAME_TEMPLATE, so the preview matches the server. */
  template?: string;
  /** The server's outbox public key (RSA-OAEP JWK) for offline queueing. */
  outboxKey?: JsonWebKey | null;
  /** NETBOX_URL, for links to the Netbox objects made. */
  netboxUrl?: string;
  [key: string]: unknown;
}

type GoStepView = ComponentType<GoStepProps>;

/** The registration flow island. */
export default function ScanFlow(props: ScanFlowProps) {
  const [password, setPassword] = useState("");
  const [bootMac, setBootMac] = useState("");
  // A notice belongs to one step and disappears when the flow moves on.
  const [notice, setNotice] = useState<Notice | null>(null);
  const [goError, setGoError] = useState("");
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<Sent[]>([]);
  // The camera stays open from the MAC to the password when the MAC came from it.
  const [cameraOn, setCameraOn] = useState(false);
  const { outbox, send } = useOutbox(setSent);
  const { progress, follow, reload } = useProgress();
  const check = useMacCheck(() => forward("password"));
  const { mac, setMac } = check;
  const steps = useSteps({ mac, password }, resetForNext);
  const { step } = steps;
  const pick = useLocationPick(step, props.template);
  const { loc, position, height, preview } = pick;

  const passwordReady = Boolean(password) && password.length <= 128 &&
    !(bootMac && macProblem(bootMac));
  const blocker = goBlocker({
    macOk: Boolean(mac) && !check.macIssue,
    macHeld: check.macHeld,
    password,
    loc,
    position,
    conflicts: pick.conflicts,
    overTop: Boolean(pick.overTop),
  });
  // The results step loads with Go: the scan page ships only what the first steps need.
  const [GoStep, setGoStep] = useState<GoStepView | null>(null);
  const loadGoStep = () =>
    import("../components/scan/go_step.tsx").then((m) => setGoStep(() => m.GoStep)).catch(() => {});

  function forward(next: "password" | "location") {
    setSent([]); // what the queue sent was said; the next server is under way
    steps.forward(next);
  }
  function resetForNext() {
    setMac("");
    setPassword("");
    setBootMac("");
    follow(null);
    setGoError("");
    setCameraOn(false);
    pick.nextServer();
    steps.replace("mac");
  }
  const onPassword = () => {
    setCameraOn(false);
    if (bootMac && macProblem(bootMac)) return;
    setNotice({ text: "Scanned the BMC password", step: "location" });
    forward("location");
  };

  const go = async () => {
    setBusy(true);
    setGoError("");
    rememberLocation(loc, position, height);
    loadGoStep();
    try {
      const body = registrationBody(mac, loc, position, bootMac);
      const done = await register(body, password, props.outboxKey, preview);
      if ("error" in done) return setGoError(done.error);
      if ("queued" in done) {
        setNotice({
          text: `No network: ${done.queued} is queued and will be sent when the network returns.`,
          step: "mac",
        });
        return resetForNext();
      }
      setPassword("");
      follow(done.progress);
      steps.replace("go");
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="stack">
      <StepHeader step={step} where={pick.where} onChoose={() => forward("location")} />
      {notice?.step === step && <p class="hint" role="status" data-testid="notice">{notice.text}
      </p>}
      {sent.length > 0 && <SentCard sent={sent} />}
      {step === "mac" && (
        <MacStep
          check={check}
          wasmUrl={props.wasmUrl ?? ""}
          cameraOn={cameraOn}
          notify={setNotice}
          onScanned={() => setCameraOn(true)}
          onNext={() => {
            setMac(scannedMac(mac) ?? mac);
            forward("password");
          }}
        />
      )}
      {step === "password" && (
        <PasswordStep
          mac={mac}
          vendor={check.vendor}
          wasmUrl={props.wasmUrl ?? ""}
          cameraOn={cameraOn}
          password={password}
          setPassword={setPassword}
          bootMac={bootMac}
          setBootMac={setBootMac}
          ready={passwordReady}
          notify={setNotice}
          onScanned={onPassword}
          onNext={() => forward("location")}
        />
      )}
      {step === "location" && (
        <LocationStep
          pick={pick}
          goError={goError}
          canGo={Boolean(mac && password)}
          goBlocker={blocker}
          busy={busy}
          onGo={go}
        />
      )}
      {step === "go" && progress && GoStep && (
        <GoStep
          progress={progress}
          goError={goError}
          wasmUrl={props.wasmUrl}
          netboxUrl={props.netboxUrl}
          onRetryResult={(error) => {
            setGoError(error);
            // Re-read: the retried run may already be over (its events came before this answer).
            if (!error) reload();
          }}
          onNext={resetForNext}
        />
      )}
      {outbox.length > 0 && <OutboxCard outbox={outbox} onSend={send} />}
    </div>
  );
}
