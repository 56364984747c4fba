/**
 * BMC password rotation: a generated password replaces the current one on the BMC's account, in
 * an order that survives a crash at any point (README "BMC password rotation").
 *
 * 1. Log in with the current password (OpenBao's latest version V) and find the account.
 * 2. Key metadata `rotation=pending, previous_version=V`, then the new password as version V+1
 *    (check-and-set V): from here OpenBao holds both passwords.
 * 3. PATCH `Password` on the account; log in with the new one to prove it.
 * 4. Proven: metadata `rotation=current`. Refused: the old password is written again as a newer
 *    version (`rotation=rolled-back`). Unknown: one login with the old, then the new password.
 * 5. The Metal3 Secret is applied from OpenBao's latest version.
 *
 * A run that ends without knowing which password the BMC has (no answer) keeps the record's
 * rotation `running`; `resume` (at start-up, or the next rotation) converges it the same way.
 */
import type { Config } from "../domain/config.ts";
import { Conflict } from "../domain/errors.ts";
import type { KubernetesClient } from "../integrations/kubernetes.ts";
import type { Logger } from "../observability/log.ts";
import { bmcSecret } from "../domain/metal3.ts";
import type { OpenBaoClient, SecretVersion } from "../integrations/openbao.ts";
import type { PasswordLimits, RedfishClient } from "../integrations/redfish.ts";
import { BUSY, type Registration, type RegistrationStore } from "../state/store.ts";

export interface RotationDeps {
  config: Config;
  store: RegistrationStore;
  log: Logger;
  openbao?: OpenBaoClient;
  redfish?: RedfishClient;
  kubernetes?: KubernetesClient;
}

/** A rotation that did not happen; the old password is current. The message says why. */
export class RotationFailed extends Error {}

export interface PasswordPolicy {
  length: number;
  /** Symbols to draw from; empty: letters and digits only. */
  symbols: string;
  /** Characters never used. */
  refused: string;
}

export function policyFrom(config: Config): PasswordPolicy {
  return {
    length: config.BMC_PASSWORD_LENGTH,
    symbols: config.BMC_PASSWORD_SYMBOLS,
    refused: config.BMC_PASSWORD_REFUSED,
  };
}

/**
 * A random password with at least one lower-case letter, upper-case letter, digit and (when
 * symbols are allowed) symbol, never a refused character; its length within the BMC's limits.
 */
export function generatePassword(policy: PasswordPolicy, limits: PasswordLimits = {}): string {
  const keep = (chars: string) => [...chars].filter((c) => !policy.refused.includes(c)).join("");
  const classes = [
    keep("abcdefghijkmnopqrstuvwxyz"),
    keep("ABCDEFGHJKLMNPQRSTUVWXYZ"),
    keep("23456789"),
    keep(policy.symbols),
  ].filter(Boolean);
  if (classes.length < 3) {
    throw new RotationFailed(
      "The password policy leaves fewer than three character classes: check ONBOARDING_BMC_PASSWORD_REFUSED",
    );
  }
  const length = Math.min(
    Math.max(policy.length, limits.min ?? 0, classes.length),
    limits.max ?? Infinity,
  );
  const all = classes.join("");
  const chars = classes.map(pick).concat(
    Array.from({ length: length - classes.length }, () => pick(all)),
  );
  // Fisher–Yates, so the class representatives are not always first.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomBelow(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join("");
}

function pick(chars: string): string {
  return chars[randomBelow(chars.length)];
}

/** Uniform in [0, n) without modulo bias. */
function randomBelow(n: number): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  do crypto.getRandomValues(buf); while (buf[0] >= limit);
  return buf[0] % n;
}

const secretPath = (name: string) => `bmc/${name}`;

export class Rotator {
  readonly #d: RotationDeps;
  /** One rotation per registration at a time in this process. */
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(deps: RotationDeps) {
    this.#d = deps;
  }

  /** Whether a registration's request (or the configuration) asks for rotation. */
  wanted(r: Registration): boolean {
    return r.rotate ?? this.#d.config.BMC_ROTATE;
  }

  /**
   * Rotates the BMC password of a registration; resolves with the new password once it is
   * proven and current in OpenBao (and the Metal3 Secret, when there is one). Throws
   * RotationFailed, with the old password current, when it did not happen.
   */
  rotate(id: string, actor: string): Promise<{ password: string; version: number }> {
    if (this.#busy.has(id)) {
      return Promise.reject(new Conflict("A password rotation of this server is already running"));
    }
    // One rotation per server across replicas too (PostgreSQL): the other's is running.
    const p = this.#d.store.coordination.exclusive(`rotation:${id}`, () => this.#rotate(id, actor))
      .then((r) => {
        if (r === BUSY) throw new Conflict("A password rotation of this server is already running");
        return r;
      }).finally(() => this.#busy.delete(id));
    this.#busy.set(id, p);
    return p;
  }

  /** Converges every rotation a previous process left unfinished. */
  async resumeUnfinished(): Promise<void> {
    for (const r of await this.#d.store.byRotation("running")) {
      if (this.#busy.has(r.id)) continue;
      const p = this.#d.store.coordination.exclusive(`rotation:${r.id}`, () => this.#resume(r))
        .catch((e) => this.#d.log.warn("rotation not resumed yet", { id: r.id, error: e })).finally(
          () => this.#busy.delete(r.id),
        );
      this.#busy.set(r.id, p);
      await p;
    }
  }

  async #rotate(id: string, actor: string): Promise<{ password: string; version: number }> {
    const { openbao, redfish, store } = this.#d;
    let r = await store.mustGet(id);
    if (!openbao) {
      throw new RotationFailed(
        "Rotation needs OpenBao: the new password must be stored before the BMC gets it",
      );
    }
    if (!redfish) {
      throw new RotationFailed("Rotation needs Redfish: set ONBOARDING_BMC_CHECK=true");
    }
    if (!r.bmc_ip) throw new RotationFailed("No BMC IP is known: the BMC cannot be reached");
    if (r.status === "decommissioned") throw new Conflict(`${r.device_name} was decommissioned`);
    const path = secretPath(r.device_name);
    // A rotation a crash interrupted is finished first.
    if (r.rotation?.status === "running") {
      await this.#resume(r);
      r = await store.mustGet(id);
    }
    const current = await openbao.readSecret(path);
    if (!current?.data.password) {
      throw new RotationFailed(`OpenBao has no password at ${path}: nothing to rotate`);
    }
    const host = r.bmc_ip;
    if (!host) throw new RotationFailed("No BMC IP is known: the BMC cannot be reached");
    const username = r.bmc_username;
    const account = await redfish.openAccount({
      host,
      username,
      password: current.data.password,
    });
    if (!("setPassword" in account)) {
      return await this.#failed(
        r,
        `The current password does not open the BMC: ${account.message}`,
      );
    }
    try {
      const password = generatePassword(policyFrom(this.#d.config), account.limits);
      await this.#record(r.id, { status: "running", message: "Rotating the BMC password" });
      await openbao.writeMetadata(path, {
        rotation: "pending",
        previous_version: String(current.version),
        started_at: new Date().toISOString(),
        actor,
      });
      const { version } = await openbao.writeSecret(path, { ...current.data, password }, {
        cas: current.version,
      });
      const set = await account.setPassword(password);
      if (set.outcome === "refused" || set.outcome === "denied") {
        // Certainly not applied: the old password is made current again.
        await this.#rollBack(r, current, version, set.message);
        return await this.#failed(r, set.message);
      }
      if (set.outcome === "ok") {
        const proof = await redfish.tryLogin({ host, username, password });
        if (proof.outcome === "ok") {
          await this.#commit(r, version, actor);
          return { password, version };
        }
        if (proof.outcome === "refused") {
          // The new one was refused once already: only the old one is worth a login (lock-outs).
          const old = await redfish.tryLogin({ host, username, password: current.data.password });
          const why = "The BMC accepted the new password but refused it at login";
          if (old.outcome === "ok") {
            await this.#rollBack(r, current, version, why);
            return await this.#failed(r, why);
          }
          const message = `${why}, and refuses the old one too (the account may be locked): ` +
            "unlock it on the BMC, then rotate again (README, recovering a host by hand)";
          await this.#record(r.id, { status: "running", message });
          throw new RotationFailed(message);
        }
      }
      // Unknown whether the BMC has the new password: ask it, once per password.
      const outcome = await this.#resume(await store.mustGet(id));
      if (outcome === "new") return { password, version };
      return await this.#failed(
        r,
        set.outcome === "ok"
          ? "The BMC accepted the new password but refused it at login"
          : set.message,
      );
    } finally {
      await account.close();
    }
  }

  /**
   * Converges a pending rotation: which of the previous and the pending password opens the BMC
   * (one login each, the old first); that one becomes current and goes to the Metal3 Secret.
   * No answer leaves it pending (rotation `running`) and throws.
   */
  async #resume(r: Registration): Promise<"old" | "new"> {
    const { openbao, redfish } = this.#d;
    if (!openbao || !redfish || !r.bmc_ip) throw new RotationFailed("OpenBao or Redfish is off");
    const path = secretPath(r.device_name);
    const meta = await openbao.readMetadata(path);
    const latest = await openbao.readSecret(path);
    if (!meta || !latest) throw new RotationFailed(`OpenBao has no password at ${path}`);
    const previous = Number(meta.customMetadata.previous_version);
    if (meta.customMetadata.rotation !== "pending" || !(previous > 0)) {
      // Nothing pending in OpenBao (a crash after the commit): the Secret and record follow it.
      await this.#applySecret(r, latest);
      await this.#record(r.id, {
        status: "ok",
        message: "Rotation finished",
        version: latest.version,
      });
      return "new";
    }
    const old = latest.version === previous ? latest : await openbao.readVersion(path, previous);
    if (!old) throw new RotationFailed(`OpenBao no longer has version ${previous} of ${path}`);
    if (latest.version === previous || latest.data.password === old.data.password) {
      // The new password was never written (or already superseded): the old one stands.
      await this.#settle(r, latest, "rolled-back", "The new password never reached the BMC");
      return "old";
    }
    const login = (password: string) =>
      redfish.tryLogin({ host: r.bmc_ip!, username: r.bmc_username, password });
    const first = await login(old.data.password);
    if (first.outcome === "ok") {
      await this.#rollBack(r, old, latest.version, "The BMC kept the old password");
      return "old";
    }
    if (first.outcome === "refused") {
      const second = await login(latest.data.password);
      if (second.outcome === "ok") {
        await this.#commit(r, latest.version, "resume");
        return "new";
      }
      const message = second.outcome === "refused"
        ? "The BMC refuses both the old and the new password (the account may be locked): " +
          "unlock it on the BMC, then rotate again (README, recovering a host by hand)"
        : second.message;
      await this.#record(r.id, { status: "running", message });
      throw new RotationFailed(message);
    }
    const message = `Not known yet whether the BMC took the new password: ${first.message}; ` +
      "it is resumed at the next start or rotation";
    await this.#record(r.id, { status: "running", message });
    throw new RotationFailed(message);
  }

  /** The old password written again as the newest version (check-and-set on the pending one). */
  async #rollBack(r: Registration, old: SecretVersion, pending: number, why: string) {
    const path = secretPath(r.device_name);
    const { version } = await this.#d.openbao!.writeSecret(path, old.data, { cas: pending });
    await this.#settle(r, { ...old, version }, "rolled-back", why);
  }

  async #settle(r: Registration, current: SecretVersion, state: string, why: string) {
    await this.#d.openbao!.writeMetadata(secretPath(r.device_name), {
      rotation: state,
      reason: why.slice(0, 500),
      at: new Date().toISOString(),
    });
    await this.#applySecret(r, current);
    await this.#record(r.id, { status: "failed", message: why, version: current.version });
  }

  /** The proven password is current: metadata, Metal3 Secret, record, audit. */
  async #commit(r: Registration, version: number, actor: string) {
    const { openbao, store } = this.#d;
    const path = secretPath(r.device_name);
    await openbao!.writeMetadata(path, {
      rotation: "current",
      version: String(version),
      rotated_at: new Date().toISOString(),
    });
    const latest = await openbao!.readSecret(path);
    if (latest) await this.#applySecret(r, latest);
    await this.#record(r.id, {
      status: "ok",
      message: `Rotated (OpenBao version ${version})`,
      version,
    });
    await store.audit(r.id, {
      at: new Date().toISOString(),
      actor,
      action: "rotate credentials",
      detail: `OpenBao version ${version}`,
    });
    this.#d.log.info("BMC password rotated", { id: r.id, device: r.device_name, version });
  }

  /** Ironic's copy: the Metal3 Secret follows OpenBao's current version (when it exists). */
  async #applySecret(r: Registration, current: SecretVersion) {
    const { kubernetes, config, store } = this.#d;
    const name = (await store.mustGet(r.id)).created.metal3_secret;
    if (!kubernetes || !name) return;
    await kubernetes.apply(bmcSecret({
      name,
      namespace: config.METAL3_NAMESPACE,
      username: current.data.username ?? r.bmc_username,
      password: current.data.password,
    }));
  }

  async #failed(r: Registration, message: string): Promise<never> {
    this.#d.log.warn("BMC password not rotated", { id: r.id, device: r.device_name, message });
    const now = await this.#d.store.mustGet(r.id);
    if (now.rotation?.status !== "failed" || now.rotation.message !== message) {
      await this.#record(r.id, { status: "failed", message, version: now.rotation?.version });
    }
    throw new RotationFailed(message);
  }

  async #record(id: string, rotation: Omit<NonNullable<Registration["rotation"]>, "at">) {
    await this.#d.store.update(id, (x) => {
      x.rotation = { ...rotation, at: new Date().toISOString() };
    });
  }
}
