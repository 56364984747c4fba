/** Drift in OpenBao: each server's BMC secret and its MAC. */
import type { Registration } from "../../state/store.ts";
import { type Add, type DriftDeps, pool, type ReadSecret } from "./types.ts";

export async function checkOpenBao(
  d: DriftDeps,
  readSecret: ReadSecret,
  all: Registration[],
  add: Add,
): Promise<void> {
  const stored = all.filter((r) => r.status === "ok" && r.steps.openbao.status === "done");
  await pool(stored, d.config.IMPORT_CONCURRENCY, async (r) => {
    const path = `bmc/${r.device_name}`;
    const secret = await readSecret(r.device_name);
    if (!secret?.data.password) {
      add(r, "openbao_secret_missing", {
        where: path,
        expected: "the BMC credentials",
        found: secret ? "no password" : "no secret",
        repair: "None: the password is not held anywhere else the service may read; Retry with it",
      });
    } else if (secret.data.bmc_mac !== r.bmc_mac) {
      add(r, "openbao_mac_changed", {
        where: path,
        expected: r.bmc_mac,
        found: secret.data.bmc_mac ?? "no bmc_mac",
        repair: "Write the secret again with the recorded MAC (same password)",
        step: "openbao",
      });
    }
  });
}
