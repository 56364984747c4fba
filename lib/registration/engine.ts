/**
 * The registration engine: pre-flight checks, durable step execution through Deno KV queues,
 * retry, and decommission. The BMC password is kept in OpenBao; besides, only in this process's
 * memory: for the run it was given to (SPEC §6.2), until OpenBao holds it, or until the Metal3
 * Secret is written when OpenBao is not configured.
 */
import { Conflict, ShuttingDown, ValidationFailed } from "../domain/errors.ts";
import type { ReferenceMemo } from "./preflight.ts";
import type { RegistrationStatus, StepName } from "../domain/model.ts";
import { Rotator } from "./rotation.ts";
import { repairStep } from "./repair.ts";
import {
  checkSubmission,
  type MacHolders,
  macHolders,
  type SubmitContext,
  type SubmitInput,
} from "./submission.ts";
import { decommission, releaseDeletedHolders } from "./decommission.ts";
import { keaStep } from "./steps/kea.ts";
import { watchProvisioning } from "./provisioning.ts";
import { metal3Step } from "./steps/metal3.ts";
import { netboxStep } from "./steps/netbox.ts";
import * as vault from "./steps/openbao.ts";
import { type EngineDeps, publish, runStep } from "./step.ts";
import {
  BUSY,
  newRegistrationId,
  pendingSteps,
  type Registration,
  RunsElsewhere,
  type StateKv,
} from "../state/store.ts";

const TERMINAL: RegistrationStatus[] = ["ok", "failed", "blocked", "decommissioned"];
const WAIT_POLL_MS = 5000; // how often a waiting request reads the record again
/** How long single registrations reuse each other's Netbox look-ups. */
const REFERENCE_REUSE_MS = 60_000;

type QueueMessage = { kind: "run"; id: string };

export class Engine {
  readonly #d: EngineDeps;
  readonly #kv: StateKv;
  /** Passwords not (yet) safe in OpenBao, by registration id; never persisted. */
  readonly #passwords = new Map<string, string>();
  readonly #running = new Map<string, Promise<void | typeof BUSY>>();
  /** OpenBao writes still in flight from submit, which the worker's first phase waits for. */
  readonly #secretWrites = new Map<string, Promise<void>>();
  /** The password submitted or retried with, for the run it starts; never persisted. */
  readonly #given = new Map<string, string>();
  /** Registrations being decommissioned here now. */
  readonly #decommissioning = new Set<string>();
  readonly #rotator: Rotator;
  /** Netbox look-ups of the last minute, shared by single registrations (see #recentReferences). */
  #references: ReferenceMemo = new Map();
  #referencesSince = 0;
  #closed = false;

  constructor(deps: EngineDeps) {
    this.#d = deps;
    this.#rotator = new Rotator(deps);
    this.#kv = deps.store.kv;
  }

  /**
   * Validates against the live systems, records the registration (claiming name, MAC and rack
   * units atomically), stores the password in OpenBao and queues the remaining steps.
   */
  async submit(input: SubmitInput, ctx: SubmitContext): Promise<Registration> {
    if (this.#closed) throw new ShuttingDown();
    const { store } = this.#d;
    if (ctx.idempotencyKey) {
      const prior = await store.idByIdempotencyKey(ctx.idempotencyKey);
      if (prior) return await store.mustGet(prior);
    }
    const checked = await checkSubmission(
      this.#d,
      input,
      ctx.references ?? this.#recentReferences(),
    );
    if (checked.repeat) return await this.#resubmit(checked.repeat, input, ctx);
    const { name, request, resolved } = checked;
    const now = new Date().toISOString();
    const record: Registration = {
      id: newRegistrationId(),
      device_name: name,
      status: "queued",
      source: ctx.source,
      bmc_mac: input.bmc_mac,
      bmc_username: input.bmc_username ?? this.#d.config.BMC_USERNAME,
      boot_mac: input.boot_mac,
      bmc_system: input.bmc_system,
      bmc_ip: input.bmc_ip,
      rotate: input.rotate,
      request,
      resolved,
      steps: pendingSteps(),
      created: {},
      warnings: [],
      actor: ctx.actor,
      created_at: now,
      updated_at: now,
      slot: resolved
        ? {
          rackId: resolved.rackId,
          units: Array.from({ length: resolved.uHeight }, (_, k) => request.position! + k),
        }
        : undefined,
    };
    const detail = `${name} ${input.bmc_mac}`;
    const audit = { at: now, actor: ctx.actor, action: "register", detail }; // in the record's commit
    try {
      await store.create(record, ctx.idempotencyKey, audit).catch(async (e) => {
        // A decommissioned holder whose host is gone by now gives its claims up: try once more.
        if (await releaseDeletedHolders(this.#d, record)) {
          return await store.create(record, ctx.idempotencyKey, audit);
        }
        throw e;
      });
    } catch (e) {
      if (e instanceof Conflict) throw e;
      // Lost a race against an identical request: answer with the winner's registration.
      const winner = await store.idByName(name);
      const other = winner ? await store.get(winner) : null;
      if (other && other.bmc_mac === input.bmc_mac) return other;
      throw e;
    }
    await this.#queue(record, input.bmc_password);
    return (await store.get(record.id))!;
  }

  /**
   * Every read-only check of a submit, writing nothing: what `POST /servers/import?dry_run=true`
   * answers with, and what submit runs first.
   */
  async preflight(
    input: Omit<SubmitInput, "bmc_password">,
    references?: ReferenceMemo,
  ): Promise<{ device_name: string; existing_id?: string }> {
    const { name, repeat } = await checkSubmission(
      this.#d,
      input,
      references ?? this.#recentReferences(),
    );
    return { device_name: name, ...(repeat ? { existing_id: repeat.id } : {}) };
  }

  /**
   * Who already holds a BMC MAC, read-only: this service's live registration, and Netbox devices
   * or Kea reservations that are not that registration's own. The PWA asks at the scan.
   */
  macHolders(mac: string): Promise<MacHolders> {
    return macHolders(this.#d, mac);
  }

  /**
   * A technician fills a rack server after server: the site, rack, type, role and prefix they
   * name are looked up once a minute, not at every scan (two sequential Netbox round trips off
   * each registration). A failed look-up is never kept; a change in Netbox shows within a minute.
   */
  #recentReferences(): ReferenceMemo {
    if (Date.now() - this.#referencesSince > REFERENCE_REUSE_MS) {
      this.#references = new Map();
      this.#referencesSince = Date.now();
    }
    return this.#references;
  }

  async #resubmit(
    found: Registration,
    input: SubmitInput,
    ctx: SubmitContext,
  ): Promise<Registration> {
    const { store } = this.#d;
    // A run in this process (e.g. resumed after a restart) finishes first; then we decide. A run
    // that had already ended when this request came (only its bookkeeping still pending) does not
    // count: the server is submitted again.
    const wasRunning = found.status === "queued" || found.status === "running";
    const inFlight = this.#running.get(found.id);
    await inFlight?.catch(() => {});
    const existing = await store.mustGet(found.id);
    if (inFlight && wasRunning && existing.status === "ok") return existing;
    if (existing.status === "queued" || existing.status === "running") {
      // Queued here or running elsewhere: it may still need the password it lost with a crash.
      if (existing.steps.openbao.status !== "done") {
        this.#passwords.set(existing.id, input.bmc_password);
      }
      return existing;
    }
    // Held before the status says queued, so even a late queue message finds it.
    this.#passwords.set(existing.id, input.bmc_password);
    const updated = await store.update(existing.id, (r) => {
      r.status = "queued";
      r.steps = pendingSteps();
      r.error = undefined;
      r.warnings = [];
      if (input.boot_mac) r.boot_mac = input.boot_mac;
      if (input.bmc_system) r.bmc_system = input.bmc_system;
      if (input.bmc_username) r.bmc_username = input.bmc_username;
      if (input.rotate !== undefined) r.rotate = input.rotate;
    });
    await store.audit(existing.id, {
      at: new Date().toISOString(),
      actor: ctx.actor,
      action: "resubmit",
    });
    await this.#queue(updated, input.bmc_password);
    return (await store.get(existing.id))!;
  }

  /**
   * Starts the run here and queues it durably; a password given is written to OpenBao meanwhile
   * (the Netbox step does not need it, and the run's first phase waits for that write). The
   * message is queued once that write is over, so another replica taking it finds the password
   * in OpenBao; a crash before then leaves the record unfinished, queued again at the next start.
   */
  async #queue(record: Registration, password?: string): Promise<void> {
    if (password !== undefined) this.#given.set(record.id, password);
    const secret = password === undefined
      ? undefined
      : vault.storeSecret(this.#d, this.#passwords, record, password);
    if (secret) this.#secretWrites.set(record.id, secret);
    try {
      this.#startNow(record.id);
      await secret;
      await this.#enqueue(record.id);
    } finally {
      if (secret) this.#secretWrites.delete(record.id);
    }
  }

  async #enqueue(id: string): Promise<void> {
    await this.#kv.enqueue({ kind: "run", id } satisfies QueueMessage);
  }

  /** Consumes the queue and resumes whatever a previous process left unfinished. */
  async startWorker(): Promise<void> {
    this.#kv.listenQueue(async (msg: unknown) => {
      const m = msg as QueueMessage;
      if (m?.kind !== "run") return;
      // Shutting down: the message goes back to the queue for the next process (or replica).
      if (this.#closed) throw new RunsElsewhere(m.id);
      let outcome;
      try {
        outcome = await this.run(m.id);
      } catch (e) {
        // The message is redelivered by KV; the record keeps its state for that next attempt.
        if (!this.#closed) this.#d.log.error("registration run crashed", { id: m.id, error: e });
        if (!this.#closed) throw e;
      }
      // Another replica runs it now: the message comes back, and resumes it if that one dies.
      if (outcome === BUSY) throw new RunsElsewhere(m.id);
    });
    for (const r of await this.#d.store.unfinished()) await this.#enqueue(r.id);
    // Password rotations a crash interrupted: OpenBao, the BMC and the Secret made to agree.
    this.#rotator.resumeUnfinished().catch((e) =>
      this.#d.log.warn("rotation resume failed", { error: e })
    );
  }

  /** Rotates a registered server's BMC password now (admin action; lib/rotation.ts). */
  async rotateCredentials(id: string, actor: string): Promise<Registration> {
    const r = await this.#d.store.mustGet(id);
    if (r.status === "queued" || r.status === "running") {
      throw new Conflict(`${r.device_name} is being registered: rotate once that has finished`);
    }
    try {
      await this.#rotator.rotate(id, actor);
    } finally {
      publish(this.#d, await this.#d.store.mustGet(id));
    }
    return await this.#d.store.mustGet(id);
  }

  /**
   * Stops taking work and waits for the runs in progress (graceful shutdown, tests), at most
   * `timeoutMs`; true when none is left running. Unfinished runs resume on the next start.
   */
  async close(timeoutMs = Infinity): Promise<boolean> {
    this.#closed = true;
    const all = Promise.allSettled([...this.#running.values()]).then(() => true);
    if (!Number.isFinite(timeoutMs)) return await all;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<boolean>((r) => timer = setTimeout(() => r(false), timeoutMs));
    try {
      return await Promise.race([all, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** How many registrations run in this process now. */
  get runningCount(): number {
    return this.#running.size;
  }

  /** Starts a run in this process without waiting for the queue to deliver its message. */
  #startNow(id: string): void {
    if (this.#closed) return;
    this.run(id).catch((e) => this.#d.log.error("registration run crashed", { id, error: e }));
  }

  /**
   * Runs the pending steps of a registration, once at a time per id. Imports share a bounded
   * number of slots; a technician's registration never waits behind a bulk import.
   */
  run(id: string): Promise<void | typeof BUSY> {
    const current = this.#running.get(id);
    if (current) return current;
    const { store, config } = this.#d;
    const runHere = () => store.coordination.exclusive(id, () => this.#run(id));
    // Waiting for a slot before taking the registration: with several replicas, whichever gets a
    // slot first runs it, so the work spreads over them.
    const p = store.get(id)
      .then((r) =>
        r?.source === "import"
          ? store.coordination.importSlot(config.IMPORT_CONCURRENCY, runHere)
          : runHere()
      )
      .finally(() => {
        this.#running.delete(id);
        this.#given.delete(id);
      });
    this.#running.set(id, p);
    return p;
  }

  async #run(id: string): Promise<void> {
    const { store, log } = this.#d;
    const record = await store.get(id);
    // Only queued work (or work a crash interrupted) runs; a late duplicate message is a no-op.
    if (!record || (record.status !== "queued" && record.status !== "running")) return;
    publish(this.#d, await store.update(id, (r) => r.status = "running"));

    // Netbox and OpenBao first; Kea and Metal3 start as soon as the BMC IP is known (while the
    // Netbox step still sets the OOB IP), because they need nothing else from Netbox.
    const ipKnown = Promise.withResolvers<void>();
    const netbox = runStep(this.#d, id, "netbox", (r) => netboxStep(this.#d, r, ipKnown.resolve))
      .finally(ipKnown.resolve);
    // Submit's own write is awaited first: the step is then usually done already and skipped. A
    // write submit started on another replica (this one took the run first) is waited for too.
    const openbao = (this.#secretWrites.get(id) ?? vault.writtenElsewhere(this.#d, id)).then(() =>
      runStep(this.#d, id, "openbao", (r) => vault.retryOpenbao(this.#d, this.#passwords, r))
    );
    // SPEC §6.2: the password given to this run is used from memory (the BMC check starts beside
    // the OpenBao write); a run without one (restart, retry without a password) reads OpenBao.
    const given = this.#given.get(id);
    const password = given !== undefined
      ? Promise.resolve(given)
      : openbao.then(() => vault.readPassword(this.#d, this.#passwords, id));
    password.catch(() => {}); // surfaced by the Metal3 step
    // No Metal3 Secret (and no rotation) before OpenBao holds the password.
    const secretSafe = openbao.then(() => vault.mustBeInOpenBao(this.#d, id));
    secretSafe.catch(() => {}); // surfaced by the Metal3 step
    await ipKnown.promise;
    const later: Promise<void>[] = [];
    if ((await store.mustGet(id)).steps.netbox.status !== "failed") {
      later.push(
        runStep(this.#d, id, "kea", (r) => keaStep(this.#d, r)),
        runStep(
          this.#d,
          id,
          "metal3",
          (r) => metal3Step(this.#d, this.#rotator, r, password, secretSafe),
        ),
      );
    }
    await Promise.all([netbox, openbao, ...later]);
    let final = await store.update(id, (r) => {
      const statuses = Object.values(r.steps).map((s) => s.status);
      r.status = statuses.includes("failed")
        ? "failed"
        : statuses.includes("blocked")
        ? "blocked"
        : statuses.includes("pending")
        ? "failed"
        : "ok";
      const bad = Object.entries(r.steps).find(([, s]) =>
        s.status === "failed" || s.status === "blocked"
      );
      r.error = bad ? `${bad[0]}: ${bad[1].message}` : undefined;
    });
    if (
      final.status === "ok" && final.steps.netbox.status === "done" &&
      final.steps.metal3.status === "done"
    ) {
      try {
        await this.#d.netbox!.setDeviceStatus(final.created.netbox_device_id!, "staged");
      } catch (e) {
        final = await store.update(
          id,
          (r) => r.warnings.push(`Netbox status not set to staged: ${(e as Error).message}`),
        );
      }
    }
    if (final.status === "ok") this.#passwords.delete(id);
    this.#d.metrics.registration(final.status);
    log.info("registration finished", { id, device: final.device_name, status: final.status });
    publish(this.#d, final);
  }

  /** Re-runs the step that owns a drifted object (lib/registration/repair.ts). */
  repairStep(
    id: string,
    step: StepName,
    options: { recreateDevice?: boolean } = {},
  ): Promise<string> {
    return repairStep(this.#d, this.#rotator, this.#passwords, id, step, options);
  }

  /** Resumes from the failed steps; a new password, boot MAC or BMC system may be supplied. */
  async retry(
    id: string,
    input: { bmc_password?: string; boot_mac?: string; bmc_system?: string },
    actor: string,
  ): Promise<Registration> {
    if (this.#closed) throw new ShuttingDown();
    const { store } = this.#d;
    const r = await store.mustGet(id);
    if (r.status === "decommissioned") {
      throw new Conflict(`${r.device_name} was decommissioned; register it again instead`);
    }
    if (r.status === "queued" || r.status === "running") return r;
    if (input.boot_mac && input.boot_mac === r.bmc_mac) {
      throw new ValidationFailed({
        boot_mac:
          "The boot MAC is the BMC's own MAC: scan the MAC of the NIC the server boots from",
      });
    }
    if (input.bmc_password) this.#passwords.set(id, input.bmc_password);
    const updated = await store.update(id, (x) => {
      if (input.boot_mac) x.boot_mac = input.boot_mac;
      if (input.bmc_system) x.bmc_system = input.bmc_system;
      // A boot MAC or system picked after the host was created: the host is applied again.
      if ((input.boot_mac || input.bmc_system) && x.steps.metal3.status === "done") {
        x.steps.metal3.status = "pending";
      }
      for (const s of Object.values(x.steps)) {
        if (s.status === "failed" || s.status === "blocked") s.status = "pending";
      }
      x.status = "queued";
      x.error = undefined;
    });
    await store.audit(id, { at: new Date().toISOString(), actor, action: "retry" });
    await this.#queue(updated, input.bmc_password);
    return await store.mustGet(id);
  }

  /** Undoes a registration in reverse order; each part idempotent and reported. */
  async decommission(
    id: string,
    options: { force: boolean },
    actor: string,
  ): Promise<{ registration: Registration; steps: Record<string, string> }> {
    // The watch sees our own deletion meanwhile: it must not report the host as lost.
    this.#decommissioning.add(id);
    try {
      return await decommission(this.#d, this.#passwords, id, options, actor);
    } finally {
      this.#decommissioning.delete(id);
    }
  }

  /** Resolves at a final status or after `timeoutMs`; re-reads every `pollMs` (an event from
   * another replica can be lost, and a waiting import must not then wait out its bound). */
  async waitFor(id: string, timeoutMs: number, pollMs = WAIT_POLL_MS): Promise<Registration> {
    const { store, events } = this.#d;
    const ended = Promise.withResolvers<void>();
    const unsubscribe = events.subscribe((e) => {
      if (
        e.type === "registration" && e.registration.id === id &&
        TERMINAL.includes(e.registration.status)
      ) ended.resolve();
    });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const now = await store.mustGet(id);
        const left = deadline - Date.now();
        if (TERMINAL.includes(now.status) || left <= 0) return now;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          ended.promise,
          new Promise<void>((r) => timer = setTimeout(r, Math.min(pollMs, left))),
        ]);
        clearTimeout(timer);
      }
    } finally {
      unsubscribe();
    }
  }

  /** Feeds Metal3 provisioning changes into the records and the live events (provisioning.ts). */
  watchProvisioning(signal: AbortSignal): Promise<void> {
    return watchProvisioning(this.#d, this.#decommissioning, signal);
  }
}
