/** In-process Redfish BMC fake: ServiceRoot, Systems (one, or several on a blade chassis) with their
 * EthernetInterfaces, boot order and BootOptions, NetworkDeviceFunctions, HTTP Basic and session
 * authentication, the AccountService and DSP0266 password-change-required handling.
 *
 * Shapes follow the DMTF schemas (ComputerSystem.Boot, BootOption, EthernetInterface,
 * NetworkDeviceFunction, Session) and what real BMCs do with them: NIC lists in no particular order,
 * boot options whose UEFI device path carries the NIC's MAC (HPE iLO, AMI), Dell's
 * `NIC.Integrated.1-1-1` names, a host-side `ToManager` interface. */
import { Faults, logRequest } from "./faults.ts";

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

interface Profile {
  manufacturer: string;
  model: string;
  systemId: string;
  product: string;
  oem: string;
  nicId: (port: number) => string;
  /** Member id and BootOptionReference of the k-th boot option (0-based). */
  bootOption: (k: number) => { id: string; ref: string };
  /** DisplayName and UefiDevicePath of a boot entry for NIC `port` (1-based) with `mac` (hex). */
  bootEntry: (e: FakeBootEntry, port: number, mac: string, k: number) => [string, string];
}

const hex4 = (n: number) => n.toString(16).toUpperCase().padStart(4, "0");

/** UEFI device paths of network boot entries as HPE iLO 5 and AMI firmware report them. */
function macPath(kind: string, port: number, mac: string): string {
  const base = `PciRoot(0x0)/Pci(0x1C,0x${port.toString(16)})/Pci(0x0,0x0)/MAC(${mac},0x1)`;
  if (kind === "pxe6") return `${base}/IPv6(0000:0000:0000:0000:0000:0000:0000:0000)`;
  if (kind === "http") return `${base}/IPv4(0.0.0.0)/Uri()`;
  return `${base}/IPv4(0.0.0.0)`;
}

const OTHER_DEVICES: Record<"disk" | "cd" | "shell", [string, string]> = {
  disk: ["UEFI OS (M.2 NVMe 480GB)", "PciRoot(0x3)/Pci(0x0,0x0)/Pci(0x0,0x0)/NVMe(0x1,00-00)"],
  cd: [
    "UEFI: AMI Virtual CDROM0 1.00",
    "PciRoot(0x0)/Pci(0x14,0x0)/USB(0x0,0x0)/USB(0x1,0x0)/CDROM(0x1,0x22,0xB40)",
  ],
  shell: ["UEFI Shell", "Fv(CDBB7B35-6833-4ED6-9AB2-57D2ACDDF6F0)/FvFile(C57AD6B7-0515-40A8)"],
};

const amiEntry: Profile["bootEntry"] = (e, port, mac) => {
  if (e.kind === "disk" || e.kind === "cd" || e.kind === "shell") return OTHER_DEVICES[e.kind];
  const what = e.kind === "http" ? "HTTP IP4" : e.kind === "pxe6" ? "PXE IP6" : "PXE IP4";
  return [`UEFI: ${what} Intel(R) Ethernet Controller X550`, macPath(e.kind, port, mac)];
};

const PROFILES: Record<RedfishVendor, Profile> = {
  Supermicro: {
    manufacturer: "Supermicro",
    model: "SYS-1029U-TRT",
    systemId: "1",
    product: "",
    oem: "Supermicro",
    nicId: (p) => String(p),
    bootOption: (k) => ({ id: hex4(k + 1), ref: `Boot${hex4(k + 1)}` }),
    bootEntry: amiEntry,
  },
  Gigabyte: {
    manufacturer: "GIGABYTE",
    model: "R272-Z32-00",
    systemId: "Self",
    product: "AMI Redfish Server",
    oem: "Ami",
    nicId: (p) => String(p),
    bootOption: (k) => ({ id: hex4(k + 3), ref: `Boot${hex4(k + 3)}` }),
    bootEntry: amiEntry,
  },
  Dell: {
    manufacturer: "Dell Inc.",
    model: "PowerEdge R650",
    systemId: "System.Embedded.1",
    product: "Integrated Dell Remote Access Controller",
    oem: "Dell",
    nicId: (p) => `NIC.Integrated.1-${p}-1`,
    bootOption: (k) => ({ id: `Boot${hex4(k + 1)}`, ref: `Boot${hex4(k + 1)}` }),
    // iDRAC names network boot devices after the NIC; the device path is a vendor node.
    bootEntry: (e, port, _mac, k) => {
      if (e.kind === "disk") {
        return ["Integrated RAID Controller 1: Ubuntu", "HD(1,GPT,2E3F,0x800,0x100000)"];
      }
      if (e.kind === "cd" || e.kind === "shell") return OTHER_DEVICES[e.kind];
      const what = e.kind === "http" ? "HTTP Device" : "PXE Device";
      return [
        `${what} ${k + 1}: Integrated NIC 1 Port ${port} Partition 1`,
        "VenHw(3A191845-5F86-4E78-8FCE-C4CFF59F9DAA)",
      ];
    },
  },
  HPE: {
    manufacturer: "HPE",
    model: "ProLiant DL360 Gen10",
    systemId: "1",
    product: "ProLiant DL360 Gen10",
    oem: "Hpe",
    nicId: (p) => String(p),
    // iLO numbers its BootOptions members 1, 2, …; the references are the UEFI variables.
    bootOption: (k) => ({ id: String(k + 1), ref: `Boot${hex4(k + 0x10)}` }),
    bootEntry: (e, port, mac) => {
      if (e.kind === "disk" || e.kind === "cd" || e.kind === "shell") return OTHER_DEVICES[e.kind];
      const what = e.kind === "http" ? "HTTP(S) IPv4" : e.kind === "pxe6" ? "PXE IPv6" : "PXE IPv4";
      const card = port === 1 ? "OCP 3.0 Slot 14 Port 1" : `Slot 1 Port ${port - 1}`;
      return [`${card} : Intel(R) Ethernet E810-XXV - NIC (${what})`, macPath(e.kind, port, mac)];
    },
  },
  Lenovo: {
    manufacturer: "Lenovo",
    model: "ThinkSystem SR650",
    systemId: "1",
    product: "ThinkSystem SR650",
    oem: "Lenovo",
    nicId: (p) => `NIC${p}`,
    bootOption: (k) => ({ id: `Boot${hex4(k + 1)}`, ref: `Boot${hex4(k + 1)}` }),
    bootEntry: amiEntry,
  },
};

const BASE_REGISTRY = "Base.1.19";
/** AccountLockoutDuration and AccountLockoutCounterResetAfter of the fake BMCs. */
const LOCKOUT_SECONDS = 300;
const SESSIONS_PATH = "/redfish/v1/SessionService/Sessions";

/** Default boot order: the disk first, then PXE IPv4 and HTTP of every port in port order. */
function defaultBootOrder(ports: number): FakeBootEntry[] {
  const order: FakeBootEntry[] = [{ kind: "disk" }];
  for (let i = 0; i < ports; i++) order.push({ kind: "pxe4", nic: i }, { kind: "http", nic: i });
  return order;
}

/** The MAC of system `k`'s copy of a NIC: the fifth octet plus k. */
function macOfSystem(mac: string, k: number): string {
  const octets = mac.toLowerCase().replace(/[^0-9a-f]/g, "").match(/../g)!;
  octets[4] = ((parseInt(octets[4], 16) + k) % 256).toString(16).padStart(2, "0");
  return octets.join(":");
}

/** Creates a fake BMC that speaks Redfish. */
export function createFakeRedfish(options: FakeRedfishOptions): FakeRedfish {
  const vendor = options.vendor ?? "Supermicro";
  const profile = PROFILES[vendor];
  const serial = options.serial ?? "S421234X0123456";
  const nics: FakeNic[] = options.nics ??
    (options.nicMacs ?? ["3c:ec:ef:a1:9c:ea", "3c:ec:ef:a1:9c:eb"]).map((mac) => ({ mac }));
  const hostPorts = nics.filter((n) => !n.toManager).length;
  const bootOrder = options.bootOrder ?? defaultBootOrder(hostPorts);
  const legacy = options.bootMode === "Legacy";
  const enforce = options.enforcePasswordChange ?? true;
  const systemIds = options.systemIds ?? [profile.systemId];
  const systemPaths = systemIds.map((id) => `/redfish/v1/Systems/${id}`);
  const accountPath = "/redfish/v1/AccountService/Accounts/2";
  const faults = new Faults();
  const state: FakeRedfishState = {
    requests: [],
    authFailures: 0,
    passwordChangeRequired: options.passwordChangeRequired ?? false,
    sessionLogins: 0,
    openSessions: 0,
    password: options.password,
    failedLogins: 0,
    locked: false,
    passwordChanges: 0,
  };
  const minLength = options.minPasswordLength ?? 8;
  const maxLength = options.maxPasswordLength ?? 20;
  const lockoutThreshold = options.lockoutThreshold ?? 5;
  let lastFailure = 0;
  let lockedByFailures = false;
  /** Changes with every change of the account, like a BMC's ETag. */
  let accountVersion = 1;
  const accountEtag = () => `W/"${accountVersion}"`;
  const sessions = new Map<string, string>(); // token → session path
  let sessionSeq = 0;

  const headers = { "OData-Version": "4.0", "Cache-Control": "no-cache" };
  const json = (body: unknown, status = 200, extra: Record<string, string> = {}) =>
    Response.json(body, { status, headers: { ...headers, ...extra } });
  const error = (status: number, id: string, message: string, extra?: Record<string, string>) =>
    json(
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

  const serviceRoot = () => ({
    "@odata.id": "/redfish/v1/",
    "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
    Id: "RootService",
    Name: "Root Service",
    RedfishVersion: "1.11.0",
    UUID: "00000000-0000-0000-0000-3cecefa19ce8",
    Vendor: vendor,
    ...(profile.product ? { Product: profile.product } : {}),
    Systems: { "@odata.id": "/redfish/v1/Systems" },
    Managers: { "@odata.id": "/redfish/v1/Managers" },
    Chassis: { "@odata.id": "/redfish/v1/Chassis" },
    AccountService: { "@odata.id": "/redfish/v1/AccountService" },
    SessionService: { "@odata.id": "/redfish/v1/SessionService" },
    Links: { Sessions: { "@odata.id": SESSIONS_PATH } },
    Oem: { [profile.oem]: {} },
  });

  const resources = new Map<string, () => unknown>([
    ["/redfish/v1/Systems", () => ({
      "@odata.id": "/redfish/v1/Systems",
      "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
      Name: "Computer System Collection",
      "Members@odata.count": systemPaths.length,
      Members: systemPaths.map((p) => ({ "@odata.id": p })),
    })],
  ]);
  const macsBySystem = new Map<string, string[]>();
  systemIds.forEach((id, k) => addSystem(id, k));

  /** One ComputerSystem with its NICs, boot options and network device functions. */
  function addSystem(systemId: string, k: number) {
    const systemPath = `/redfish/v1/Systems/${systemId}`;
    const macs = nics.map((n) => macOfSystem(n.mac, k));
    macsBySystem.set(systemPath, macs);
    const ports = new Map<number, number>(); // nic index → physical port number (host NICs)
    nics.forEach((n, i) => !n.toManager && ports.set(i, ports.size + 1));
    const nicId = (i: number) =>
      nics[i].id ?? (nics[i].toManager ? "ToManager" : profile.nicId(ports.get(i)!));
    const nicPath = (i: number) => `${systemPath}/EthernetInterfaces/${nicId(i)}`;
    const functionPath = (i: number) =>
      `/redfish/v1/Chassis/${k + 1}/NetworkAdapters/NIC1/NetworkDeviceFunctions/${nicId(i)}`;
    const order = options.listOrder ?? nics.map((_, i) => i);
    const options_ = legacy ? [] : bootOrder.map((entry, j) => {
      const i = "nic" in entry ? entry.nic : -1;
      const mac = i >= 0 ? macs[i].replace(/:/g, "").toUpperCase() : "";
      const [name, path] = profile.bootEntry(entry, ports.get(i) ?? 0, mac, j);
      const { id, ref } = profile.bootOption(j);
      return { entry, id, ref, name, path };
    });
    const bootOrderRefs = legacy
      ? bootOrder.map((e) =>
        "nic" in e
          ? nicId(e.nic)
          : e.kind === "disk"
          ? "HardDisk.List.1-1"
          : "Optical.SATAEmbedded.J-1"
      )
      : options_.map((o) => o.ref);

    resources.set(systemPath, () => ({
      "@odata.id": systemPath,
      "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
      Id: systemId,
      Name: systemIds.length > 1 ? `Node ${k}` : "System",
      Manufacturer: profile.manufacturer,
      Model: options.model ?? profile.model,
      SKU: "",
      SerialNumber: systemIds.length > 1 ? `${serial}-${k}` : serial,
      UUID: `00000000-0000-0000-0000-3cecefa19ce${k}`,
      PowerState: "Off",
      SystemType: "Physical",
      Boot: {
        BootSourceOverrideEnabled: "Disabled",
        BootSourceOverrideTarget: "None",
        BootSourceOverrideMode: legacy ? "Legacy" : "UEFI",
        BootOrder: bootOrderRefs,
        ...(legacy ? {} : { BootOptions: { "@odata.id": `${systemPath}/BootOptions` } }),
      },
      EthernetInterfaces: { "@odata.id": `${systemPath}/EthernetInterfaces` },
    }));
    resources.set(`${systemPath}/EthernetInterfaces`, () => ({
      "@odata.id": `${systemPath}/EthernetInterfaces`,
      "@odata.type": "#EthernetInterfaceCollection.EthernetInterfaceCollection",
      Name: "Ethernet Interface Collection",
      "Members@odata.count": order.length,
      Members: order.map((i) => ({ "@odata.id": nicPath(i) })),
    }));
    nics.forEach((nic, i) => {
      const mac = macs[i];
      resources.set(nicPath(i), () => ({
        "@odata.id": nicPath(i),
        "@odata.type": "#EthernetInterface.v1_6_0.EthernetInterface",
        Id: nicId(i),
        Name: nic.toManager ? "Host Ethernet Interface" : `Ethernet Interface ${ports.get(i)}`,
        Description: nic.toManager ? "Host Network Interface" : `System NIC ${ports.get(i)}`,
        // Vendors differ in case and in which of the two properties they fill.
        MACAddress: vendor === "Dell" ? mac.toUpperCase() : mac,
        PermanentMACAddress: vendor === "HPE" ? undefined : mac,
        ...(nic.toManager
          ? { Links: { HostInterface: { "@odata.id": "/redfish/v1/Managers/1/HostInterfaces/1" } } }
          : {
            EthernetInterfaceType: "Physical",
            LinkStatus: nic.link ?? (ports.get(i) === 1 ? "LinkUp" : "NoLink"),
            ...(nic.functionBootMode
              ? { Links: { NetworkDeviceFunctions: [{ "@odata.id": functionPath(i) }] } }
              : {}),
          }),
      }));
      if (nic.functionBootMode) {
        resources.set(functionPath(i), () => ({
          "@odata.id": functionPath(i),
          "@odata.type": "#NetworkDeviceFunction.v1_9_0.NetworkDeviceFunction",
          Id: nicId(i),
          Name: "Network Device Function",
          NetDevFuncType: "Ethernet",
          BootMode: nic.functionBootMode,
          Ethernet: { MACAddress: mac, PermanentMACAddress: mac },
        }));
      }
    });
    if (legacy) return;
    resources.set(`${systemPath}/BootOptions`, () => ({
      "@odata.id": `${systemPath}/BootOptions`,
      "@odata.type": "#BootOptionCollection.BootOptionCollection",
      Name: "Boot Options",
      "Members@odata.count": options_.length,
      Members: options_.map((o) => ({ "@odata.id": `${systemPath}/BootOptions/${o.id}` })),
    }));
    for (const o of options_) {
      const path = `${systemPath}/BootOptions/${o.id}`;
      resources.set(path, () => ({
        "@odata.id": path,
        "@odata.type": "#BootOption.v1_0_4.BootOption",
        Id: o.id,
        Name: "Boot Option",
        BootOptionReference: o.ref,
        BootOptionEnabled: "enabled" in o.entry ? o.entry.enabled !== false : true,
        DisplayName: o.name,
        UefiDevicePath: o.path,
      }));
    }
  }

  for (
    const [path, body] of [
      ["/redfish/v1/AccountService", {
        "@odata.type": "#AccountService.v1_10_0.AccountService",
        Id: "AccountService",
        Name: "Account Service",
        ServiceEnabled: true,
        MinPasswordLength: minLength,
        MaxPasswordLength: maxLength,
        AccountLockoutThreshold: lockoutThreshold,
        AccountLockoutDuration: LOCKOUT_SECONDS,
        AccountLockoutCounterResetAfter: LOCKOUT_SECONDS,
        AccountLockoutCounterResetEnabled: true,
        Accounts: { "@odata.id": "/redfish/v1/AccountService/Accounts" },
      }],
      ["/redfish/v1/AccountService/Accounts", {
        "@odata.type": "#ManagerAccountCollection.ManagerAccountCollection",
        "Members@odata.count": 2,
        Members: [
          { "@odata.id": "/redfish/v1/AccountService/Accounts/1" },
          { "@odata.id": accountPath },
        ],
      }],
      ["/redfish/v1/AccountService/Accounts/1", {
        "@odata.type": "#ManagerAccount.v1_8_0.ManagerAccount",
        Id: "1",
        UserName: "",
        Enabled: false,
        RoleId: "NoAccess",
      }],
    ] as const
  ) resources.set(path, () => ({ "@odata.id": path, ...body }));
  resources.set(accountPath, () => ({
    "@odata.id": accountPath,
    "@odata.type": "#ManagerAccount.v1_8_0.ManagerAccount",
    "@odata.etag": accountEtag(),
    Id: "2",
    Name: "User Account",
    UserName: options.username,
    Enabled: true,
    Locked: state.locked,
    RoleId: "Administrator",
    // The schema's Password is write-only: always null when read.
    Password: null,
    PasswordChangeRequired: state.passwordChangeRequired,
  }));

  function basicOk(req: Request): boolean {
    const auth = req.headers.get("authorization") ?? "";
    const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(auth);
    if (!m) return false;
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
    } catch {
      return false;
    }
    const colon = decoded.indexOf(":");
    return colon > 0 && checkLogin(decoded.slice(0, colon), decoded.slice(colon + 1));
  }

  /** A login of our account: counts failures and locks the account at the threshold; a locked
   * account refuses even the right password (DSP2046 AccountService lock-out properties). */
  function checkLogin(user: string, password: string): boolean {
    if (user !== options.username) return false;
    // AccountLockoutDuration and AccountLockoutCounterResetAfter (both 300 s). A lock set by a
    // test (an administrator's) has no time and stays.
    const now = Date.now();
    if (lastFailure && now - lastFailure >= LOCKOUT_SECONDS * 1000) {
      state.failedLogins = 0;
      if (lockedByFailures) state.locked = false;
    }
    if (!state.locked && password === state.password) {
      state.failedLogins = 0;
      return true;
    }
    state.failedLogins++;
    lastFailure = now;
    if (lockoutThreshold > 0 && state.failedLogins >= lockoutThreshold && !state.locked) {
      state.locked = lockedByFailures = true;
    }
    return false;
  }

  function authorized(req: Request): boolean {
    const token = req.headers.get("x-auth-token");
    if (token) return sessions.has(token);
    return options.auth !== "session-only" && basicOk(req);
  }

  function unauthorized(): Response {
    state.authFailures++;
    return error(
      401,
      "NoValidSession",
      "There is no valid session established with the implementation.",
      options.auth === "session-only" ? {} : { "WWW-Authenticate": 'Basic realm="Redfish API"' },
    );
  }

  /** POST SessionService/Sessions (DSP0266 13.3.4): no other credentials needed. */
  async function login(req: Request): Promise<Response> {
    let body: Record<string, unknown>;
    try {
      body = await req.json();
    } catch {
      return error(400, "MalformedJSON", "The request body submitted was malformed JSON.");
    }
    for (const p of ["UserName", "Password"]) {
      if (typeof body?.[p] !== "string") {
        return error(400, "PropertyMissing", `The property ${p} is a required property.`);
      }
    }
    if (!checkLogin(body.UserName as string, body.Password as string)) return unauthorized();
    const token = crypto.randomUUID().replace(/-/g, "");
    const id = String(++sessionSeq);
    const path = `${SESSIONS_PATH}/${id}`;
    sessions.set(token, path);
    state.sessionLogins++;
    state.openSessions = sessions.size;
    return json(
      {
        "@odata.id": path,
        "@odata.type": "#Session.v1_6_0.Session",
        Id: id,
        Name: "User Session",
        UserName: options.username,
        // DSP0266 13.3.7.1: the session is created, restricted to changing the password.
        ...(state.passwordChangeRequired
          ? { "@Message.ExtendedInfo": [passwordChangeMessage("OK")] }
          : {}),
      },
      201,
      { "X-Auth-Token": token, Location: path },
    );
  }

  async function route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    if (path === "/redfish") {
      return req.method === "GET" ? json({ v1: "/redfish/v1/" }) : notAllowed("GET");
    }
    if (path === "/redfish/v1") {
      return req.method === "GET" ? json(serviceRoot()) : notAllowed("GET");
    }
    if (path === SESSIONS_PATH && req.method === "POST") return await login(req);
    const token = req.headers.get("x-auth-token");
    if (req.method === "DELETE" && token && sessions.get(token) === path) {
      sessions.delete(token);
      state.openSessions = sessions.size;
      return new Response(null, { status: 204, headers });
    }
    const resource = resources.get(path);
    if (!resource && !path.startsWith("/redfish/v1/")) {
      return new Response("<html><body><h1>404 Not Found</h1></body></html>", {
        status: 404,
        headers: { "content-type": "text/html" },
      });
    }
    if (!authorized(req)) return unauthorized();
    if (!resource) {
      return error(404, "ResourceMissingAtURI", `The resource at the URI '${path}' was not found.`);
    }
    if (state.passwordChangeRequired && enforce && path !== accountPath) {
      const m = passwordChangeMessage("Critical");
      return json(
        { error: { code: m.MessageId, message: m.Message, "@Message.ExtendedInfo": [m] } },
        403,
      );
    }
    if (path === accountPath && req.method === "PATCH") return await patchAccount(req);
    if (req.method !== "GET") return notAllowed(path === accountPath ? "GET, PATCH" : "GET");
    const body = resource() as Record<string, unknown>;
    const etag = body["@odata.etag"];
    return json(body, 200, typeof etag === "string" ? { ETag: etag } : {});
  }

  /** The Base registry's PasswordChangeRequired message; its argument is the account's URI. */
  function passwordChangeMessage(severity: string) {
    return {
      "@odata.type": "#Message.v1_1_1.Message",
      MessageId: `${BASE_REGISTRY}.PasswordChangeRequired`,
      Message: "The password provided for this account must be changed before access is " +
        `granted.  PATCH the Password property for this account located at the target URI ` +
        `'${accountPath}' to complete this process.`,
      MessageArgs: [accountPath],
      MessageSeverity: severity,
      Resolution: "Change the password for this account using a PATCH to the Password " +
        "property at the URI provided.",
    };
  }

  /** PATCH of the ManagerAccount: only `Password` here; ETag precondition and password policy. */
  async function patchAccount(req: Request): Promise<Response> {
    const ifMatch = req.headers.get("if-match");
    if (!ifMatch && options.requireIfMatch) {
      return error(
        428,
        "PreconditionRequired",
        "A precondition header or annotation is required to change the resource at the URI.",
      );
    }
    if (
      ifMatch && ifMatch !== "*" && !ifMatch.split(",").map((t) => t.trim()).includes(accountEtag())
    ) {
      return error(
        412,
        "PreconditionFailed",
        "The ETag supplied did not match the ETag required to change this resource.",
      );
    }
    let body: Record<string, unknown>;
    try {
      body = await req.json();
    } catch {
      return error(400, "MalformedJSON", "The request body submitted was malformed JSON.");
    }
    const unknown = Object.keys(body ?? {}).find((k) => k !== "Password");
    if (unknown) {
      return error(
        400,
        "PropertyNotWritable",
        `The property ${unknown} is a read only property and cannot be assigned a value.`,
      );
    }
    const password = body?.Password;
    if (typeof password !== "string") {
      return error(
        400,
        "PropertyValueTypeError",
        "The value for the property Password is of a different type than the property can accept.",
      );
    }
    const refused = [...password].find((c) => (options.refusedCharacters ?? "").includes(c));
    if (password.length < minLength || password.length > maxLength || refused !== undefined) {
      // The value is never echoed back: Base registry messages for passwords omit it.
      return error(
        400,
        "PropertyValueFormatError",
        "The value provided for the property Password is not a format that the property can accept.",
      );
    }
    state.password = password;
    state.passwordChangeRequired = false;
    state.passwordChanges++;
    accountVersion++;
    return new Response(null, { status: 204, headers: { ...headers, ETag: accountEtag() } });
  }

  function notAllowed(allow: string): Response {
    return error(405, "OperationNotAllowed", "The HTTP method is not allowed on this resource.", {
      Allow: allow,
    });
  }

  return {
    handler: async (req: Request) => {
      logRequest(state.requests, `${req.method} ${new URL(req.url).pathname}`);
      const faulted = await faults.apply(req);
      if (faulted) return faulted;
      return await route(req);
    },
    faults,
    state,
    systemPath: systemPaths[0],
    macsBySystem,
  };
}
