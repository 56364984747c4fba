/** Drift repair (lib/registration/drift.ts) through the steps' own code. */
import type { StepName } from "../domain/model.ts";
import type { Rotator } from "./rotation.ts";
import { type EngineDeps, secretPath, StepEnd } from "./step.ts";
import { keaStep } from "./steps/kea.ts";
import { metal3Step } from "./steps/metal3.ts";
import { netboxStep } from "./steps/netbox.ts";
import { type Passwords, readPassword, storeSecret } from "./steps/openbao.ts";

/**
 * Re-runs the idempotent step that owns a drifted object (lib/registration/drift.ts), with the
 * step's own code so a repair writes exactly what registration writes. `recreateDevice` forgets
 * the Netbox ids first (the device the service created is gone). Throws what the step throws.
 */
export async function repairStep(
  d: EngineDeps,
  rotator: Rotator,
  passwords: Passwords,
  id: string,
  step: StepName,
  options: { recreateDevice?: boolean } = {},
): Promise<string> {
  const { store, openbao } = d;
  let r = await store.mustGet(id);
  if (options.recreateDevice && !r.created.netbox_device_preexisting) {
    r = await store.update(id, (x) => {
      for (const k of ["netbox_device_id", "netbox_interface_id", "netbox_mac_id"] as const) {
        delete x.created[k];
      }
    });
  }
  try {
    switch (step) {
      case "netbox":
        return await netboxStep(d, r, () => {});
      case "kea":
        return await keaStep(d, r);
      case "metal3":
        return await metal3Step(
          d,
          rotator,
          r,
          readPassword(d, passwords, id),
          Promise.resolve(),
          true,
        );
      case "openbao": {
        // The password stays the one OpenBao holds; the username and MAC are the record's.
        const current = await openbao?.readSecret(secretPath(r.device_name));
        if (!current?.data.password) {
          throw new Error(
            `OpenBao has no password at ${secretPath(r.device_name)}: Retry with the password`,
          );
        }
        await storeSecret(d, passwords, r, current.data.password);
        const after = await store.mustGet(id);
        if (after.steps.openbao.status !== "done") throw new Error(after.steps.openbao.message);
        return after.steps.openbao.message ?? "";
      }
    }
  } catch (e) {
    if (e instanceof StepEnd) throw new Error(e.message);
    throw e;
  } finally {
    // What the step left for its end's write (a run's runStep writes that end; a repair has none).
    await store.flush(id);
  }
}
