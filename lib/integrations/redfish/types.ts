/** The Redfish client's public types: what a BMC check and an account change answer. */
import type { BmcSystem, HostNic } from "../../domain/model.ts";
import type { Metrics } from "../../observability/metrics.ts";

export type { BmcSystem, HostNic };

export interface RedfishSettings {
  fetch?: typeof fetch;
  /** Per request; default 5000. */
  timeoutMs?: number;
  /** Default https. */
  scheme?: "https" | "http";
  port?: number;
  metrics?: Metrics;
}

/** Result of checking a BMC; failures are outcomes, not exceptions, so the caller can show them. */
export type BmcCheck =
  | {
    outcome: "ok";
    vendor: string;
    model: string;
    serial: string;
    /** `Id` of the ComputerSystem; "" when the BMC withheld it (password change required). */
    systemId: string;
    /** Path for `redfish://host<systemPath>`; "" when unknown. */
    systemPath: string;
    passwordChangeRequired: boolean;
    /** Host NICs that could boot, in the BMC's order. */
    nics: HostNic[];
    /** The boot NIC's MAC when the BMC's answer is unambiguous, else "". */
    bootMac: string;
    /** Why `bootMac` was chosen, or why none was. */
    bootReason: string;
  }
  /** The BMC manages several systems (blade chassis) and none, or an unknown one, was picked. */
  | { outcome: "pick-system"; systems: BmcSystem[]; message: string }
  | { outcome: "unreachable" | "wrong-password" | "not-redfish"; message: string };

export interface BmcCheckInput {
  host: string;
  username: string;
  password: string;
  /** The BMC's own MAC: never a boot NIC. */
  bmcMac?: string;
  /** Which system of a multi-system BMC: its `Id` or path. */
  system?: string;
  /** Called once, as soon as the BMC has accepted the credentials (its Systems collection
   * answered) and the system is known, with its path; the system body, NICs, boot options and
   * account are read after. Not called when the check ends before that (refused, unreachable,
   * several systems and none picked, a password change required before the system shows). */
  onSystem?: (systemPath: string) => void;
}

export interface BmcLogin {
  host: string;
  username: string;
  password: string;
}

/** One login attempt: `refused` is the BMC saying no to these credentials (or a locked account),
 * `unreachable` says nothing about them. */
export type LoginOutcome =
  | { outcome: "ok"; passwordChangeRequired: boolean }
  | { outcome: "refused" | "unreachable"; message: string };

/** What `Password` a BMC accepts, from its AccountService (absent when it does not say). */
export interface PasswordLimits {
  min?: number;
  max?: number;
}

/** Outcome of a password PATCH: `refused` and `denied` were certainly not applied; `unknown` may
 * have been (no answer, a server error): only a login can tell. */
export type SetPasswordOutcome =
  | { outcome: "ok" }
  | { outcome: "refused" | "denied" | "unknown"; message: string };

/** A logged-in handle on our ManagerAccount, for one password change. */
export interface BmcAccount {
  limits: PasswordLimits;
  passwordChangeRequired: boolean;
  setPassword(password: string): Promise<SetPasswordOutcome>;
  /** Logs out (best effort). */
  close(): Promise<void>;
}

export interface RedfishClient {
  checkBmc(input: BmcCheckInput): Promise<BmcCheck>;
  /** Exactly one login with these credentials (a session when the BMC offers them, else Basic),
   * never retried: failed logins count towards the account's lock-out. */
  tryLogin(input: BmcLogin): Promise<LoginOutcome>;
  /** Logs in (once), finds the account by `UserName` (or by the PasswordChangeRequired message's
   * URI) and its ETag, ready to PATCH `Password`. */
  openAccount(input: BmcLogin): Promise<BmcAccount | Exclude<LoginOutcome, { outcome: "ok" }>>;
}
