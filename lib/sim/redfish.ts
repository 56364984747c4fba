/** In-process Redfish BMC fake: ServiceRoot, Systems with HTTP Basic auth, one ComputerSystem with
 * its EthernetInterfaces, the AccountService and DSP0266 password-change-required handling. */
import { Faults } from "./faults.ts";

export type RedfishVendor = "Supermicro" | "Dell" | "HPE" | "Lenovo";

export interface FakeRedfishOptions {
  username: string;
  password: string;
  /** Default Supermicro. */
  vendor?: RedfishVendor;
  model?: string;
  serial?: string;
  /** Host NIC MACs listed under the system's EthernetInterfaces. */
  nicMacs?: string[];
  /** The account must change its password first: every request but the ServiceRoot and the
   * account itself answers 403 with the PasswordChangeRequired message (DSP0266 13.3.7.1). */
  passwordChangeRequired?: boolean;
  /** Older firmware only flags the account and still serves the system; default true. */
  enforcePasswordChange?: boolean;
}

export interface FakeRedfishState {
  /** Requests seen, as `METHOD /path`. */
  requests: string[];
  /** Requests rejected for bad or missing credentials. */
  authFailures: number;
  passwordChangeRequired: boolean;
}

export interface FakeRedfish {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  state: FakeRedfishState;
  /** Path of the one ComputerSystem, e.g. `/redfish/v1/Systems/System.Embedded.1` on Dell. */
  systemPath: string;
}

const PROFILES: Record<RedfishVendor, {
  manufacturer: string;
  model: string;
  systemId: string;
  product: string;
  oem: string;
  nicIds: (i: number) => string;
}> = {
  Supermicro: {
    manufacturer: "Supermicro",
    model: "SYS-1029U-TRT",
    systemId: "1",
    product: "",
    oem: "Supermicro",
    nicIds: (i) => String(i + 1),
  },
  Dell: {
    manufacturer: "Dell Inc.",
    model: "PowerEdge R650",
    systemId: "System.Embedded.1",
    product: "Integrated Dell Remote Access Controller",
    oem: "Dell",
    nicIds: (i) => `NIC.Integrated.1-${i + 1}-1`,
  },
  HPE: {
    manufacturer: "HPE",
    model: "ProLiant DL360 Gen10",
    systemId: "1",
    product: "ProLiant DL360 Gen10",
    oem: "Hpe",
    nicIds: (i) => String(i + 1),
  },
  Lenovo: {
    manufacturer: "Lenovo",
    model: "ThinkSystem SR650",
    systemId: "1",
    product: "ThinkSystem SR650",
    oem: "Lenovo",
    nicIds: (i) => `NIC${i + 1}`,
  },
};

const BASE_REGISTRY = "Base.1.19";

/** Creates a fake BMC that speaks Redfish. */
export function createFakeRedfish(options: FakeRedfishOptions): FakeRedfish {
  const vendor = options.vendor ?? "Supermicro";
  const profile = PROFILES[vendor];
  const serial = options.serial ?? "S421234X0123456";
  const nicMacs = options.nicMacs ?? ["3c:ec:ef:a1:9c:ea", "3c:ec:ef:a1:9c:eb"];
  const enforce = options.enforcePasswordChange ?? true;
  const systemPath = `/redfish/v1/Systems/${profile.systemId}`;
  const accountPath = "/redfish/v1/AccountService/Accounts/2";
  const faults = new Faults();
  const state: FakeRedfishState = {
    requests: [],
    authFailures: 0,
    passwordChangeRequired: options.passwordChangeRequired ?? false,
  };

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
    Links: { Sessions: { "@odata.id": "/redfish/v1/SessionService/Sessions" } },
    Oem: { [profile.oem]: {} },
  });

  const nicPath = (i: number) => `${systemPath}/EthernetInterfaces/${profile.nicIds(i)}`;

  const resources = new Map<string, () => unknown>([
    ["/redfish/v1/Systems", () => ({
      "@odata.id": "/redfish/v1/Systems",
      "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
      Name: "Computer System Collection",
      "Members@odata.count": 1,
      Members: [{ "@odata.id": systemPath }],
    })],
    [systemPath, () => ({
      "@odata.id": systemPath,
      "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
      Id: profile.systemId,
      Name: "System",
      Manufacturer: profile.manufacturer,
      Model: options.model ?? profile.model,
      SKU: "",
      SerialNumber: serial,
      UUID: "00000000-0000-0000-0000-3cecefa19ce9",
      PowerState: "Off",
      SystemType: "Physical",
      EthernetInterfaces: { "@odata.id": `${systemPath}/EthernetInterfaces` },
    })],
    [`${systemPath}/EthernetInterfaces`, () => ({
      "@odata.id": `${systemPath}/EthernetInterfaces`,
      "@odata.type": "#EthernetInterfaceCollection.EthernetInterfaceCollection",
      Name: "Ethernet Interface Collection",
      "Members@odata.count": nicMacs.length,
      Members: nicMacs.map((_, i) => ({ "@odata.id": nicPath(i) })),
    })],
    ...nicMacs.map((mac, i) =>
      [nicPath(i), () => ({
        "@odata.id": nicPath(i),
        "@odata.type": "#EthernetInterface.v1_6_0.EthernetInterface",
        Id: profile.nicIds(i),
        Name: `Ethernet Interface ${i + 1}`,
        // Vendors differ in case and in which of the two properties they fill.
        MACAddress: vendor === "Dell" ? mac.toUpperCase() : mac,
        PermanentMACAddress: vendor === "HPE" ? undefined : mac,
        LinkStatus: i === 0 ? "LinkUp" : "NoLink",
      })] as [string, () => unknown]
    ),
    ["/redfish/v1/AccountService", () => ({
      "@odata.id": "/redfish/v1/AccountService",
      "@odata.type": "#AccountService.v1_10_0.AccountService",
      Id: "AccountService",
      Name: "Account Service",
      Accounts: { "@odata.id": "/redfish/v1/AccountService/Accounts" },
    })],
    ["/redfish/v1/AccountService/Accounts", () => ({
      "@odata.id": "/redfish/v1/AccountService/Accounts",
      "@odata.type": "#ManagerAccountCollection.ManagerAccountCollection",
      "Members@odata.count": 2,
      Members: [
        { "@odata.id": "/redfish/v1/AccountService/Accounts/1" },
        { "@odata.id": accountPath },
      ],
    })],
    ["/redfish/v1/AccountService/Accounts/1", () => ({
      "@odata.id": "/redfish/v1/AccountService/Accounts/1",
      "@odata.type": "#ManagerAccount.v1_8_0.ManagerAccount",
      Id: "1",
      UserName: "",
      Enabled: false,
      RoleId: "NoAccess",
    })],
    [accountPath, () => ({
      "@odata.id": accountPath,
      "@odata.type": "#ManagerAccount.v1_8_0.ManagerAccount",
      Id: "2",
      UserName: options.username,
      Enabled: true,
      Locked: false,
      RoleId: "Administrator",
      Password: null,
      PasswordChangeRequired: state.passwordChangeRequired,
    })],
  ]);

  function authorized(req: Request): boolean {
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
    return colon > 0 && decoded.slice(0, colon) === options.username &&
      decoded.slice(colon + 1) === options.password;
  }

  function route(req: Request): Response {
    const url = new URL(req.url);
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
    if (path === "/redfish") {
      return req.method === "GET" ? json({ v1: "/redfish/v1/" }) : notAllowed("GET");
    }
    if (path === "/redfish/v1") {
      return req.method === "GET" ? json(serviceRoot()) : notAllowed("GET");
    }
    const resource = resources.get(path);
    if (!resource && !path.startsWith("/redfish/v1/")) {
      return new Response("<html><body><h1>404 Not Found</h1></body></html>", {
        status: 404,
        headers: { "content-type": "text/html" },
      });
    }
    if (!authorized(req)) {
      state.authFailures++;
      return error(
        401,
        "NoValidSession",
        "There is no valid session established with the" +
          " implementation.",
        { "WWW-Authenticate": 'Basic realm="Redfish API"' },
      );
    }
    if (!resource) {
      return error(404, "ResourceMissingAtURI", `The resource at the URI '${path}' was not found.`);
    }
    if (state.passwordChangeRequired && enforce && path !== accountPath) {
      return error(
        403,
        "PasswordChangeRequired",
        "The password provided for this account must be changed before access is granted. " +
          `PATCH the Password property for this account located at the target URI '${accountPath}'` +
          " to complete this process.",
      );
    }
    if (req.method !== "GET") return notAllowed("GET");
    return json(resource());
  }

  function notAllowed(allow: string): Response {
    return error(405, "OperationNotAllowed", "The HTTP method is not allowed on this resource.", {
      Allow: allow,
    });
  }

  return {
    handler: async (req: Request) => {
      state.requests.push(`${req.method} ${new URL(req.url).pathname}`);
      const faulted = await faults.apply(req);
      if (faulted) return faulted;
      return route(req);
    },
    faults,
    state,
    systemPath,
  };
}
