/** The BMC's HTTP surface: the ServiceRoot, sessions, authentication and resource reads. */
import {
  authorized,
  login,
  passwordChangeMessage,
  patchAccount,
  unauthorized,
} from "./accounts.ts";
import { type Bmc, error, HEADERS, json } from "./bmc.ts";
import { SESSIONS_PATH } from "./profiles.ts";

function serviceRoot(bmc: Bmc) {
  return {
    "@odata.id": "/redfish/v1/",
    "@odata.type": "#ServiceRoot.v1_5_0.ServiceRoot",
    Id: "RootService",
    Name: "Root Service",
    RedfishVersion: "1.11.0",
    UUID: "00000000-0000-0000-0000-3cecefa19ce8",
    Vendor: bmc.vendor,
    ...(bmc.profile.product ? { Product: bmc.profile.product } : {}),
    Systems: { "@odata.id": "/redfish/v1/Systems" },
    Managers: { "@odata.id": "/redfish/v1/Managers" },
    Chassis: { "@odata.id": "/redfish/v1/Chassis" },
    AccountService: { "@odata.id": "/redfish/v1/AccountService" },
    SessionService: { "@odata.id": "/redfish/v1/SessionService" },
    Links: { Sessions: { "@odata.id": SESSIONS_PATH } },
    Oem: { [bmc.profile.oem]: {} },
  };
}

export async function route(bmc: Bmc, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, "") : url.pathname;
  if (path === "/redfish") {
    return req.method === "GET" ? json({ v1: "/redfish/v1/" }) : notAllowed("GET");
  }
  if (path === "/redfish/v1") {
    return req.method === "GET" ? json(serviceRoot(bmc)) : notAllowed("GET");
  }
  if (path === SESSIONS_PATH && req.method === "POST") return await login(bmc, req);
  const token = req.headers.get("x-auth-token");
  if (req.method === "DELETE" && token && bmc.sessions.get(token) === path) {
    bmc.sessions.delete(token);
    bmc.state.openSessions = bmc.sessions.size;
    return new Response(null, { status: 204, headers: HEADERS });
  }
  const resource = bmc.resources.get(path);
  if (!resource && !path.startsWith("/redfish/v1/")) {
    return new Response("<html><body><h1>404 Not Found</h1></body></html>", {
      status: 404,
      headers: { "content-type": "text/html" },
    });
  }
  if (!authorized(bmc, req)) return unauthorized(bmc);
  if (!resource) {
    return error(404, "ResourceMissingAtURI", `The resource at the URI '${path}' was not found.`);
  }
  if (bmc.state.passwordChangeRequired && bmc.enforce && path !== bmc.accountPath) {
    const m = passwordChangeMessage(bmc, "Critical");
    return json(
      { error: { code: m.MessageId, message: m.Message, "@Message.ExtendedInfo": [m] } },
      403,
    );
  }
  if (path === bmc.accountPath && req.method === "PATCH") return await patchAccount(bmc, req);
  if (req.method !== "GET") return notAllowed(path === bmc.accountPath ? "GET, PATCH" : "GET");
  const body = resource() as Record<string, unknown>;
  const etag = body["@odata.etag"];
  return json(body, 200, typeof etag === "string" ? { ETag: etag } : {});
}

function notAllowed(allow: string): Response {
  return error(405, "OperationNotAllowed", "The HTTP method is not allowed on this resource.", {
    Allow: allow,
  });
}
