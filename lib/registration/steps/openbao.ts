/**
 * The OpenBao step: the BMC password stored at `{mount}/data/bmc/{device}`, and read back for
 * later steps. A password not (yet) safe in OpenBao is held in the engine's memory only.
 */
import type { Registration } from "../../state/store.ts";
import { actionable, type EngineDeps, secretPath, setStep, StepEnd } from "../step.ts";

/** Passwords not (yet) safe in OpenBao, by registration id; never persisted. */
export type Passwords = Map<string, string>;

/** Stores the password; run while the request is still open so the password is never queued. */
export async function storeSecret(
  d: EngineDeps,
  passwords: Passwords,
  record: Registration,
  password: string,
): Promise<void> {
  const { openbao } = d;
  if (!openbao) {
    passwords.set(record.id, password);
    await setStep(
      d,
      record.id,
      "openbao",
      "skipped",
      "OpenBao is not configured: the password is kept in memory only until the Metal3 Secret is written",
    );
    return;
  }
  await setStep(d, record.id, "openbao", "running");
  const started = performance.now();
  try {
    const res = await openbao.putIfChanged(secretPath(record.device_name), {
      username: record.bmc_username,
      password,
      bmc_mac: record.bmc_mac,
    });
    await setStep(
      d,
      record.id,
      "openbao",
      "done",
      res.changed
        ? `Password stored (version ${res.version})`
        : `Password already stored (version ${res.version})`,
      (r) => {
        r.created.openbao_path = `${d.config.OPENBAO_MOUNT_POINT}/data/${
          secretPath(record.device_name)
        }`;
        r.created.openbao_version = res.version;
      },
    );
    passwords.delete(record.id);
  } catch (e) {
    // Keep it in memory so a retry from this process can store it without a rescan.
    passwords.set(record.id, password);
    await setStep(d, record.id, "openbao", "failed", actionable(e));
  } finally {
    d.metrics.stepDuration("openbao", "run", performance.now() - started);
  }
}

/** The openbao step of the run: stores a password submit could not store (retry, failure). */
export async function retryOpenbao(
  d: EngineDeps,
  passwords: Passwords,
  r: Registration,
): Promise<string | void> {
  const password = passwords.get(r.id);
  if (!d.openbao) throw new StepEnd("skipped", "OpenBao is not configured");
  if (!password) {
    throw new Error(
      "The BMC password is no longer held by the service: retry with the password (rescan the label)",
    );
  }
  await storeSecret(d, passwords, r, password);
  const after = await d.store.mustGet(r.id);
  if (after.steps.openbao.status === "failed") throw new Error(after.steps.openbao.message);
  return after.steps.openbao.message;
}

/** The password for the Metal3 Secret: read back from OpenBao (memory only without OpenBao). */
/** Throws unless OpenBao (when configured) holds the registration's password. */
export async function mustBeInOpenBao(d: EngineDeps, id: string): Promise<void> {
  if (!d.openbao) return;
  const r = await d.store.mustGet(id);
  if (r.steps.openbao.status !== "done") {
    throw new Error("The BMC password must be in OpenBao first: Retry once OpenBao is reachable");
  }
}

export async function readPassword(
  d: EngineDeps,
  passwords: Passwords,
  id: string,
): Promise<string> {
  const r = await d.store.mustGet(id);
  const { openbao } = d;
  if (openbao) {
    if (r.steps.openbao.status !== "done") {
      throw new Error(
        "The BMC password must be in OpenBao first: Retry once OpenBao is reachable",
      );
    }
    const secret = await openbao.readSecret(secretPath(r.device_name));
    if (secret?.data.password) return secret.data.password;
    throw new Error(
      `OpenBao has no password at ${secretPath(r.device_name)}: retry with the password`,
    );
  }
  const mem = passwords.get(id);
  if (mem) return mem;
  throw new Error("The BMC password is no longer held by the service: retry with the password");
}

/**
 * Waits (bounded) while the OpenBao step is `running` without this process writing it: submit on
 * another replica is storing the password, and the run must not fail it for lack of the password.
 * A writer that died leaves it `running`; after the bound the run goes on and says so.
 */
export async function writtenElsewhere(d: EngineDeps, id: string, boundMs = 15_000): Promise<void> {
  const end = Date.now() + boundMs;
  while (Date.now() < end && (await d.store.mustGet(id)).steps.openbao.status === "running") {
    await new Promise((r) => setTimeout(r, 100));
  }
}
