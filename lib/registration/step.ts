/**
 * What the engine and its step modules share: their dependencies, the step outcome that is not a
 * failure, step state updates with their live events, and the technician-facing error message.
 */
import { bmcNetworks, type Config } from "../domain/config.ts";
import {
  BootMacRequired,
  Conflict,
  MacAlreadyRegistered,
  NotFound,
  RackSlotTaken,
  ValidationFailed,
} from "../domain/errors.ts";
import type { StepName, StepStatus } from "../domain/model.ts";
import { IntegrationError } from "../integrations/http.ts";
import type { KeaClient } from "../integrations/kea/api.ts";
import type { KubernetesClient } from "../integrations/kubernetes.ts";
import type { NetboxClient } from "../integrations/netbox.ts";
import type { OpenBaoClient } from "../integrations/openbao.ts";
import type { RedfishClient } from "../integrations/redfish.ts";
import type { Logger } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { EventBus } from "../state/events.ts";
import { publicView } from "../state/events.ts";
import type { Registration, RegistrationStore } from "../state/store.ts";
import { bmcIpProblem } from "./preflight.ts";

export interface EngineDeps {
  config: Config;
  store: RegistrationStore;
  events: EventBus;
  log: Logger;
  metrics: Metrics;
  netbox?: NetboxClient;
  openbao?: OpenBaoClient;
  kea?: KeaClient;
  kubernetes?: KubernetesClient;
  redfish?: RedfishClient;
}

/** A step outcome that is neither done nor failed. */
export class StepEnd extends Error {
  constructor(readonly status: "skipped" | "blocked", message: string) {
    super(message);
  }
}

/** The OpenBao KV path of a device's BMC credentials. */
export const secretPath = (name: string) => `bmc/${name}`;

/** Runs one step unless it is already done or skipped; records timing, outcome and events. */
export async function runStep(
  d: EngineDeps,
  id: string,
  step: StepName,
  fn: (r: Registration) => Promise<string | void>,
): Promise<void> {
  const record = await d.store.mustGet(id);
  const state = record.steps[step].status;
  if (state === "done" || state === "skipped") return;
  // Written with the step's next write, not on its own: a step found running after a crash is run
  // again all the same. The live view hears of it at once.
  const now = new Date().toISOString();
  d.store.later(id, (r) => {
    const s = r.steps[step];
    if (s.status === "done" || s.status === "skipped") return;
    s.status = "running";
    s.message = undefined;
    s.startedAt = now;
    s.endedAt = undefined;
  });
  d.events.publish({ type: "step", id, device_name: record.device_name, step, status: "running" });
  const started = performance.now();
  let status: StepStatus = "done";
  let message: string | undefined;
  try {
    message = (await fn(record)) ?? undefined;
  } catch (e) {
    if (e instanceof StepEnd) {
      status = e.status;
      message = e.message;
    } else if (e instanceof BootMacRequired) {
      status = "blocked";
      message = e.message;
    } else {
      status = "failed";
      message = actionable(e);
      d.log.warn("step failed", { id, device: record.device_name, step, error: e });
    }
  }
  d.metrics.stepDuration(step, status, performance.now() - started);
  await setStep(d, id, step, status, message);
}

/** Sets a step's status and message (with `also`, in the same write), and tells the live view. */
export async function setStep(
  d: EngineDeps,
  id: string,
  step: StepName,
  status: StepStatus,
  message?: string,
  also?: (r: Registration) => void,
): Promise<void> {
  const now = new Date().toISOString();
  const r = await d.store.update(id, (r) => {
    also?.(r);
    const s = r.steps[step];
    s.status = status;
    s.message = message;
    if (status === "running") {
      s.startedAt = now;
      s.endedAt = undefined;
    } else s.endedAt = now;
    if (status === "skipped" && message) r.warnings.push(message);
  });
  d.events.publish({ type: "step", id, device_name: r.device_name, step, status, message });
}

/** Updates a running step's message (a visible wait) without changing its status. */
export async function stepProgress(
  d: EngineDeps,
  id: string,
  step: StepName,
  message: string,
): Promise<void> {
  const r = await d.store.update(id, (x) => {
    x.steps[step].message = message;
  });
  d.events.publish({
    type: "step",
    id,
    device_name: r.device_name,
    step,
    status: r.steps[step].status,
    message,
  });
}

/** Tells the live view a registration changed. */
export function publish(d: EngineDeps, r: Registration): void {
  d.events.publish({ type: "registration", registration: publicView(r) });
}

/**
 * The last word before an IP is written to Kea or given the BMC password (the BMC check and
 * Metal3): it lies in the BMC networks. Pre-flight refuses such items; this catches an allocated
 * IP and records made before the networks were configured.
 */
export function mustBeBmcIp(config: Config, ip: string): void {
  const problem = bmcIpProblem(ip, bmcNetworks(config));
  if (problem) throw new ValidationFailed({ bmc_ip: problem }, `bmc_ip: ${problem}`);
}

/** Turns an error into a message that tells the technician what to do next; never a secret. */
export function actionable(e: unknown): string {
  if (e instanceof IntegrationError) {
    const what = e.status === 0
      ? `${e.integration} did not answer`
      : e.status === 401 || e.status === 403
      ? `${e.integration} refused our credentials (HTTP ${e.status})`
      : e.status >= 500 || e.status === 429
      ? `${e.integration} is failing (HTTP ${e.status})`
      : `${e.integration} rejected the request (HTTP ${e.status})`;
    const hint = e.status === 0 || e.status >= 500 || e.status === 429
      ? "press Retry when it is back"
      : e.status === 401 || e.status === 403
      ? "ask the platform team to check the service's credentials, then Retry"
      : "correct the data in the system named and Retry";
    return `${what} during ${e.operation}: ${e.message.replace(/^[^:]*failed: /, "")} — ${hint}`;
  }
  if (
    e instanceof Conflict || e instanceof MacAlreadyRegistered || e instanceof RackSlotTaken ||
    e instanceof NotFound
  ) {
    return e.message;
  }
  return (e as Error)?.message ?? String(e);
}
