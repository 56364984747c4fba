/**
 * One fake BMC's state (`Bmc`), passed to the concern modules (systems, accounts, http), and the
 * Redfish response helpers with the Base registry's error shape.
 */
import { Faults } from "../faults.ts";
import { BASE_REGISTRY, defaultBootOrder, type Profile, PROFILES } from "./profiles.ts";
import type {
  FakeBootEntry,
  FakeNic,
  FakeRedfishOptions,
  FakeRedfishState,
  RedfishVendor,
} from "./types.ts";

export interface Bmc {
  options: FakeRedfishOptions;
  vendor: RedfishVendor;
  profile: Profile;
  serial: string;
  nics: FakeNic[];
  bootOrder: FakeBootEntry[];
  legacy: boolean;
  /** The account's PasswordChangeRequired blocks everything but the account (default true). */
  enforce: boolean;
  systemIds: string[];
  systemPaths: string[];
  accountPath: string;
  faults: Faults;
  state: FakeRedfishState;
  minLength: number;
  maxLength: number;
  lockoutThreshold: number;
  lastFailure: number;
  lockedByFailures: boolean;
  /** Changes with every change of the account, like a BMC's ETag. */
  accountVersion: number;
  /** Session token → session path. */
  sessions: Map<string, string>;
  sessionSeq: number;
  /** Every readable resource by path, rendered on each GET. */
  resources: Map<string, () => unknown>;
  macsBySystem: Map<string, string[]>;
}

export function createBmc(options: FakeRedfishOptions): Bmc {
  const vendor = options.vendor ?? "Supermicro";
  const profile = PROFILES[vendor];
  const nics: FakeNic[] = options.nics ??
    (options.nicMacs ?? ["3c:ec:ef:a1:9c:ea", "3c:ec:ef:a1:9c:eb"]).map((mac) => ({ mac }));
  const hostPorts = nics.filter((n) => !n.toManager).length;
  const systemIds = options.systemIds ?? [profile.systemId];
  return {
    options,
    vendor,
    profile,
    serial: options.serial ?? "S421234X0123456",
    nics,
    bootOrder: options.bootOrder ?? defaultBootOrder(hostPorts),
    legacy: options.bootMode === "Legacy",
    enforce: options.enforcePasswordChange ?? true,
    systemIds,
    systemPaths: systemIds.map((id) => `/redfish/v1/Systems/${id}`),
    accountPath: "/redfish/v1/AccountService/Accounts/2",
    faults: new Faults(),
    state: {
      requests: [],
      authFailures: 0,
      passwordChangeRequired: options.passwordChangeRequired ?? false,
      sessionLogins: 0,
      openSessions: 0,
      password: options.password,
      failedLogins: 0,
      locked: false,
      passwordChanges: 0,
    },
    minLength: options.minPasswordLength ?? 8,
    maxLength: options.maxPasswordLength ?? 20,
    lockoutThreshold: options.lockoutThreshold ?? 5,
    lastFailure: 0,
    lockedByFailures: false,
    accountVersion: 1,
    sessions: new Map(),
    sessionSeq: 0,
    resources: new Map(),
    macsBySystem: new Map(),
  };
}

export function accountEtag(bmc: Bmc): string {
  return `W/"${bmc.accountVersion}"`;
}

export const HEADERS = { "OData-Version": "4.0", "Cache-Control": "no-cache" };

export function json(body: unknown, status = 200, extra: Record<string, string> = {}): Response {
  return Response.json(body, { status, headers: { ...HEADERS, ...extra } });
}

/** A Redfish error: the Base registry message `id` in `error` and its extended info. */
export function error(
  status: number,
  id: string,
  message: string,
  extra?: Record<string, string>,
): Response {
  return json(
    {
      error: {
        code: `${BASE_REGISTRY}.${id}`,
        message,
        "@Message.ExtendedInfo": [{
          "@odata.type": "#Message.v1_1_1.Message",
          MessageId: `${BASE_REGISTRY}.${id}`,
          Message: message,
          MessageSeverity: "Critical",
          Resolution: "None",
        }],
      },
    },
    status,
    extra,
  );
}
