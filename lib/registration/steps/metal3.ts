/**
 * The Metal3 step: the BMC check, then the BMC Secret and the BareMetalHost by server-side apply,
 * after making sure neither name belongs to someone else.
 */
import { BootMacRequired, Conflict } from "../../domain/errors.ts";
import {
  bareMetalHost,
  type BareMetalHostObject,
  bmcAddress,
  bmcSecret,
  bmcSecretName,
  foreignOwner,
  hostLabels,
  needsBootMac,
  type SecretObject,
} from "../../domain/metal3.ts";
import { sleep } from "../../integrations/http.ts";
import type { Registration } from "../../state/store.ts";
import type { Rotator } from "../rotation.ts";
import { type EngineDeps, mustBeBmcIp, StepEnd, stepProgress } from "../step.ts";
import { checkBmc, type Ours } from "./bmc.ts";

/** SPEC §6.2: without a boot MAC the host is still created (only libvirt needs one). */
const NO_BOOT_MAC_WARNING = "No boot MAC is known: the BareMetalHost was created without " +
  "bootMACAddress and Metal3's inspection will discover the NICs. To set it, Retry with the " +
  "boot NIC's MAC (boot_mac)";

/** The warnings the Metal3 step writes (BMC check and boot MAC). */
const METAL3_WARNINGS =
  /^(No boot MAC is known|Boot MAC \S+ was discovered|The BMC does not say which|BMC check: |The BMC asks for a password change)/;

/** A registration's BareMetalHost and Secret as read from the API (null when absent). */
type Metal3Objects = [BareMetalHostObject | null, SecretObject | null];

const optionalString = (v: string | number | undefined) => v === undefined ? undefined : String(v);

/**
 * Checks the BMC, then applies the Secret and the BareMetalHost once `secretSafe` resolves (OpenBao
 * holds the password). With a scanned boot MAC and no rotation they are applied as soon as the BMC
 * has accepted the password and named its system, while the rest of the check goes on (it can
 * then only add findings and warnings); the step ends when both have. `repair`: a drift repair,
 * which re-applies the objects and never rotates the password.
 */
export async function metal3Step(
  d: EngineDeps,
  rotator: Rotator,
  r: Registration,
  passwordRead: Promise<string>,
  secretSafe: Promise<void>,
  repair = false,
): Promise<string> {
  const { kubernetes, config, store } = d;
  if (!r.bmc_ip) throw new StepEnd("skipped", "Metal3 step skipped: no BMC IP is known");
  if (!kubernetes) {
    throw new StepEnd("skipped", "Kubernetes is not configured: no BareMetalHost was created");
  }
  mustBeBmcIp(config, r.bmc_ip);
  // What exists under these names is read while the BMC is checked.
  const existing = readMetal3Objects(d, r);
  existing.catch(() => {}); // awaited (and thrown) below
  const scanned = await passwordRead;
  // A re-run (e.g. Retry with the boot MAC) replaces what an earlier run of this step warned.
  store.later(r.id, (x) => {
    x.warnings = x.warnings.filter((w) => !METAL3_WARNINGS.test(w));
  });
  const ownership = () => metal3Ownership(d, r, existing);
  const handOver = async (objects: HostObjects, known?: Ours) => {
    const ours = known ?? await ownership();
    await secretSafe;
    await applyMetal3Objects(d, r, objects, ours);
    return `Handed to Metal3 as ${r.device_name}, with its BMC credentials`;
  };
  let early: Promise<string> | undefined;
  const onSystem = (systemPath: string) => {
    early = handOver({ password: scanned, bootMac: r.boot_mac, systemPath });
    early.catch(() => {}); // awaited below, once the check is over
  };
  const { password, bootMac, systemPath, ours } = await checkBmc(
    d,
    rotator,
    r,
    scanned,
    ownership,
    secretSafe,
    repair,
    onSystem,
  ).catch(async (e) => {
    await early?.catch(() => {});
    throw e;
  });
  if (early) return await early;
  const driver = config.BMC_DRIVER;
  if (!bootMac) {
    if (needsBootMac(driver)) throw new BootMacRequired(driver);
    store.later(r.id, (x) => x.warnings.push(NO_BOOT_MAC_WARNING));
  }
  return await handOver({ password, bootMac, systemPath }, ours);
}

/** What the Secret and the BareMetalHost carry beyond the registration itself. */
interface HostObjects {
  password: string;
  bootMac?: string;
  systemPath?: string;
}

/** Applies the Secret and the BareMetalHost (over our own objects only) and records them. */
async function applyMetal3Objects(
  d: EngineDeps,
  r: Registration,
  { password, bootMac, systemPath }: HostObjects,
  ours: Ours,
): Promise<void> {
  const { kubernetes, config, store } = d;
  const ns = config.METAL3_NAMESPACE;
  const secretName = bmcSecretName(r.device_name);
  const labels = hostLabels({
    site: r.resolved?.siteSlug ?? optionalString(r.request.site),
    location: optionalString(r.request.location),
    rack: r.resolved?.rackName ?? optionalString(r.request.rack),
    netboxDeviceId: r.created.netbox_device_id,
  });
  await Promise.all([
    kubernetes!.apply(
      bmcSecret({
        name: secretName,
        namespace: ns,
        username: r.bmc_username,
        password,
        registrationId: r.id,
      }),
      { force: ours.secret },
    ),
    kubernetes!.apply(
      bareMetalHost({
        name: r.device_name,
        namespace: ns,
        bmcAddress: bmcAddress(config.BMC_DRIVER, r.bmc_ip!, systemPath),
        credentialsName: secretName,
        bootMac,
        labels,
        registrationId: r.id,
      }),
      { force: ours.host },
    ),
  ]);
  // Written with the step's end: a re-run applies the same objects again.
  store.later(r.id, (x) => {
    x.created.metal3_secret = secretName;
    x.created.metal3_bmh = r.device_name;
  });
}

/**
 * Reads the BareMetalHost and its Secret before anything is applied. While either is being
 * deleted (a deletionTimestamp, the operator's finalizer still on it) the step waits, bounded
 * by METAL3_DELETE_WAIT and shown in the step message; either existing and not ours is a
 * conflict naming its owner, and nothing is changed. Says which exist (and are ours).
 */
async function metal3Ownership(
  d: EngineDeps,
  r: Registration,
  firstRead: Promise<Metal3Objects>,
): Promise<Ours> {
  const ns = d.config.METAL3_NAMESPACE;
  const secretName = bmcSecretName(r.device_name);
  const waitMs = d.config.METAL3_DELETE_WAIT * 1000;
  const deadline = Date.now() + waitMs;
  for (let read = firstRead;; read = readMetal3Objects(d, r)) {
    const [host, secret] = await read;
    const found = [
      { kind: "BareMetalHost", object: host, recorded: r.created.metal3_bmh === r.device_name },
      { kind: "Secret", object: secret, recorded: r.created.metal3_secret === secretName },
    ];
    const deleting = found.find((f) => f.object?.metadata.deletionTimestamp);
    if (!deleting) {
      for (const { kind, object, recorded } of found) {
        const owner = object && foreignOwner({ ...object, kind }, { id: r.id, recorded });
        if (owner) {
          throw new Conflict(
            `${owner}: nothing was changed. Choose another device name, or have its owner remove it, then Retry`,
          );
        }
      }
      return { host: host !== null, secret: secret !== null };
    }
    const what = `${deleting.kind} ${ns}/${deleting.object!.metadata.name}`;
    const since = deleting.object!.metadata.deletionTimestamp;
    if (Date.now() >= deadline) {
      throw new Error(
        `${what} is still being deleted (since ${since}; its finalizer is kept until the ` +
          `operator has deprovisioned it). Check it with kubectl -n ${ns} get ${deleting.kind.toLowerCase()} ` +
          `${deleting.object!.metadata.name}, and Retry once it is gone`,
      );
    }
    await stepProgress(
      d,
      r.id,
      "metal3",
      `Waiting for the previous host to be deleted: ${what} is being deleted since ${since}`,
    );
    await sleep(Math.min(2000, Math.max(20, waitMs / 20)));
  }
}

/** The BareMetalHost and the Secret of a registration's names, as they are now (or null). */
function readMetal3Objects(d: EngineDeps, r: Registration): Promise<Metal3Objects> {
  const { kubernetes, config } = d;
  const ns = config.METAL3_NAMESPACE;
  return Promise.all([
    kubernetes!.getBareMetalHost(ns, r.device_name),
    kubernetes!.getSecret(ns, bmcSecretName(r.device_name)),
  ]);
}
