/** The fake BMC's options, state and public shape. */
import type { Faults } from "../faults.ts";

export type RedfishVendor = "Supermicro" | "Dell" | "HPE" | "Lenovo" | "Gigabyte";

/** One host NIC port, in physical port order. */
export interface FakeNic {
  mac: string;
  /** EthernetInterfaces member id; default from the vendor's naming and the port number. */
  id?: string;
  /** Default: LinkUp on the first port, NoLink on the others. */
  link?: "LinkUp" | "LinkDown" | "NoLink";
  /** The host's internal link to the BMC (DMTF `ToManager`, a USB NIC): never a boot NIC. */
  toManager?: boolean;
  /** Links a NetworkDeviceFunction with this `BootMode` (e.g. `PXE`, `Disabled`). */
  functionBootMode?: string;
}

/** One `Boot.BootOrder` entry: a network boot of a NIC port (index into `nics`), or another device. */
export type FakeBootEntry =
  | { kind: "pxe4" | "pxe6" | "http"; nic: number; enabled?: boolean }
  | { kind: "disk" | "cd" | "shell" };

export interface FakeRedfishOptions {
  username: string;
  password: string;
  /** Default Supermicro. */
  vendor?: RedfishVendor;
  model?: string;
  serial?: string;
  /** Host NIC MACs in port order (shorthand for `nics`). */
  nicMacs?: string[];
  nics?: FakeNic[];
  /** Order of the EthernetInterfaces collection as indexes into the NICs; default port order. */
  listOrder?: number[];
  /** `Boot.BootOrder`; default: the disk, then PXE IPv4 and HTTP of each port in port order. */
  bootOrder?: FakeBootEntry[];
  /** Dell in legacy BIOS mode: the boot order names the NICs (`NIC.Integrated.1-1-1`) and there
   * are no BootOptions. Default UEFI. */
  bootMode?: "UEFI" | "Legacy";
  /** Several ComputerSystems (blade chassis, multi-node sled): their ids. Each has the same NIC
   * layout with its own MACs (the fifth octet plus the system's index). */
  systemIds?: string[];
  /** `session-only`: Basic authentication is refused; only a session's X-Auth-Token works. */
  auth?: "basic-and-session" | "session-only";
  /** The account must change its password first: every request but the ServiceRoot and the
   * account itself answers 403 with the PasswordChangeRequired message (DSP0266 13.3.7.1). */
  passwordChangeRequired?: boolean;
  /** Older firmware only flags the account and still serves the system; default true. */
  enforcePasswordChange?: boolean;
  /** AccountService password policy: `MinPasswordLength`, `MaxPasswordLength` (defaults 8 and 20,
   * as iDRAC and AMI firmware) and characters the firmware refuses (vendor-specific, not in the
   * schema; e.g. iDRAC refuses some punctuation). */
  minPasswordLength?: number;
  maxPasswordLength?: number;
  refusedCharacters?: string;
  /** `AccountLockoutThreshold`: failed logins that lock the account (0 = never); default 5. */
  lockoutThreshold?: number;
  /** PATCH of the account must carry `If-Match` with its current ETag (428 without, 412 on a stale
   * one), as HPE iLO does. By default `If-Match` is optional but checked when given. */
  requireIfMatch?: boolean;
}

export interface FakeRedfishState {
  /** Requests seen, as `METHOD /path`. */
  requests: string[];
  /** Requests and session logins rejected for bad or missing credentials. */
  authFailures: number;
  passwordChangeRequired: boolean;
  /** Sessions created so far, and those still open. */
  sessionLogins: number;
  openSessions: number;
  /** The account's password as the BMC holds it now (changed by a PATCH of `Password`). */
  password: string;
  /** Consecutive failed logins of the account, and whether that locked it (`Locked`). */
  failedLogins: number;
  locked: boolean;
  /** PATCHes of `Password` accepted, and the most running side by side (fleet tests). */
  passwordChanges: number;
}

export interface FakeRedfish {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  state: FakeRedfishState;
  /** Path of the first ComputerSystem, e.g. `/redfish/v1/Systems/System.Embedded.1` on Dell. */
  systemPath: string;
  /** Host NIC MACs of each system in port order (internal links included), by system path. */
  macsBySystem: Map<string, string[]>;
}
