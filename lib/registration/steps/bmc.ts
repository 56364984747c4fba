/**
 * The BMC check (SPEC §6.2, beyond the original): the scanned credentials are tried over Redfish
 * before Metal3 gets them, the system and the boot NIC are read, and an opted-in password
 * rotation replaces the scanned password.
 */
import type { Registration } from "../../state/store.ts";
import type { Rotator } from "../rotation.ts";
import { type EngineDeps, StepEnd } from "../step.ts";

/** Which of a registration's BareMetalHost and Secret exist (and are ours to apply over). */
export type Ours = { host: boolean; secret: boolean };

/** What the check found for the Metal3 objects; `ours` when the ownership was read already. */
export interface BmcFindings {
  password: string;
  bootMac?: string;
  systemPath?: string;
  ours?: Ours;
}

/**
 * Checks the BMC with `password` and records what it says on the registration. A wrong password
 * fails the step, a BMC with several systems and none chosen blocks it; a BMC that does not
 * answer Redfish only adds a warning. `ownership` is asked, and `secretSafe` awaited, before a
 * rotation changes the BMC; a drift `repair` never rotates.
 *
 * `onSystem` is called (once) with the system path as soon as the BMC has accepted the password,
 * when nothing the rest of the check finds can change what Metal3 gets: the boot MAC was scanned
 * and no rotation replaces the password. The rest of the check then only records and warns.
 */
export async function checkBmc(
  d: EngineDeps,
  rotator: Rotator,
  r: Registration,
  password: string,
  ownership: () => Promise<Ours>,
  secretSafe: Promise<void>,
  repair: boolean,
  onSystem: (systemPath: string) => void,
): Promise<BmcFindings> {
  const { store, redfish } = d;
  const found: BmcFindings = { password, bootMac: r.boot_mac };
  if (!redfish) return found;
  // The scanned password is replaced before Metal3 gets one (opt-in; lib/rotation.ts).
  const rotates = !repair && rotator.wanted(r) && r.rotation?.status !== "ok";
  let handedOver = false;
  const early = r.boot_mac && !rotates
    ? (path: string) => {
      handedOver = true;
      onSystem(path);
    }
    : undefined;
  const checkWith = (password: string) =>
    redfish.checkBmc({
      host: r.bmc_ip!,
      username: r.bmc_username,
      password,
      bmcMac: r.bmc_mac,
      system: r.bmc_system,
      onSystem: early,
    });
  let check = await checkWith(password);
  // Once handed over, the BMC had accepted the password: a later refusal (a lapsed session, a
  // privilege) is a warning below, not a wrong password.
  if (check.outcome === "wrong-password" && !handedOver) throw new Error(check.message);
  if (check.outcome === "ok" && rotates) {
    // A host or Secret of someone else's under this name stops us before the BMC changes.
    found.ours = await ownership();
    await secretSafe; // the rotation starts from the password OpenBao holds
    found.password = (await rotator.rotate(r.id, r.actor)).password;
    // A BMC that wanted a new password shows its system only now.
    if (check.passwordChangeRequired) check = await checkWith(found.password);
  }
  if (check.outcome === "pick-system") {
    // Neither the system path nor a boot MAC is chosen for the operator.
    store.later(r.id, (x) => {
      x.bmc = {
        vendor: "",
        model: "",
        serial: "",
        systemId: "",
        systemPath: "",
        systems: check.systems,
      };
    });
    throw new StepEnd("blocked", check.message);
  }
  if (check.outcome !== "ok") {
    const after = handedOver ? "it accepted the password, then: " : "";
    store.later(r.id, (x) => x.warnings.push(`BMC check: ${after}${check.message}`));
    return found;
  }
  found.systemPath = check.systemPath || undefined;
  found.bootMac ??= check.bootMac || undefined;
  store.later(r.id, (x) => {
    x.bmc = {
      vendor: check.vendor,
      model: check.model,
      serial: check.serial,
      systemId: check.systemId,
      systemPath: check.systemPath,
      nics: check.nics,
      bootMac: check.bootMac,
      bootReason: check.bootReason,
    };
    if (!r.boot_mac && check.bootMac) {
      x.warnings.push(
        `Boot MAC ${check.bootMac} was discovered over Redfish, not scanned ` +
          `(${check.bootReason}): check that it is the NIC on the provisioning network, ` +
          "or Retry with the right one (boot_mac)",
      );
    } else if (!r.boot_mac && check.nics.length > 1) {
      x.warnings.push(
        `The BMC does not say which of its ${check.nics.length} NICs boots ` +
          `(${check.bootReason}): pick one on the server's page and Retry with it`,
      );
    }
    if (check.passwordChangeRequired) {
      x.warnings.push("The BMC asks for a password change before it can be managed");
    }
  });
  return found;
}
