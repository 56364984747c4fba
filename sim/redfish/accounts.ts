/** The AccountService: our account, logins (Basic and sessions) with lock-out, password changes. */
import { accountEtag, type Bmc, error, HEADERS, json } from "./bmc.ts";
import { BASE_REGISTRY, LOCKOUT_SECONDS, SESSIONS_PATH } from "./profiles.ts";

/** The AccountService and its two accounts: an unused one and ours. */
export function addAccounts(bmc: Bmc): void {
  for (
    const [path, body] of [
      ["/redfish/v1/AccountService", {
        "@odata.type": "#AccountService.v1_10_0.AccountService",
        Id: "AccountService",
        Name: "Account Service",
        ServiceEnabled: true,
        MinPasswordLength: bmc.minLength,
        MaxPasswordLength: bmc.maxLength,
        AccountLockoutThreshold: bmc.lockoutThreshold,
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
          { "@odata.id": bmc.accountPath },
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
  ) bmc.resources.set(path, () => ({ "@odata.id": path, ...body }));
  bmc.resources.set(bmc.accountPath, () => ({
    "@odata.id": bmc.accountPath,
    "@odata.type": "#ManagerAccount.v1_8_0.ManagerAccount",
    "@odata.etag": accountEtag(bmc),
    Id: "2",
    Name: "User Account",
    UserName: bmc.options.username,
    Enabled: true,
    Locked: bmc.state.locked,
    RoleId: "Administrator",
    // The schema's Password is write-only: always null when read.
    Password: null,
    PasswordChangeRequired: bmc.state.passwordChangeRequired,
  }));
}

export function basicOk(bmc: Bmc, req: Request): boolean {
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
  return colon > 0 && checkLogin(bmc, decoded.slice(0, colon), decoded.slice(colon + 1));
}

/** A login of our account: counts failures and locks the account at the threshold; a locked
 * account refuses even the right password (DSP2046 AccountService lock-out properties). */
export function checkLogin(bmc: Bmc, user: string, password: string): boolean {
  if (user !== bmc.options.username) return false;
  // AccountLockoutDuration and AccountLockoutCounterResetAfter (both 300 s). A lock set by a
  // test (an administrator's) has no time and stays.
  const now = Date.now();
  if (bmc.lastFailure && now - bmc.lastFailure >= LOCKOUT_SECONDS * 1000) {
    bmc.state.failedLogins = 0;
    if (bmc.lockedByFailures) bmc.state.locked = false;
  }
  if (!bmc.state.locked && password === bmc.state.password) {
    bmc.state.failedLogins = 0;
    return true;
  }
  bmc.state.failedLogins++;
  bmc.lastFailure = now;
  if (
    bmc.lockoutThreshold > 0 && bmc.state.failedLogins >= bmc.lockoutThreshold && !bmc.state.locked
  ) {
    bmc.state.locked = bmc.lockedByFailures = true;
  }
  return false;
}

export function authorized(bmc: Bmc, req: Request): boolean {
  const token = req.headers.get("x-auth-token");
  if (token) return bmc.sessions.has(token);
  return bmc.options.auth !== "session-only" && basicOk(bmc, req);
}

export function unauthorized(bmc: Bmc): Response {
  bmc.state.authFailures++;
  return error(
    401,
    "NoValidSession",
    "There is no valid session established with the implementation.",
    bmc.options.auth === "session-only" ? {} : { "WWW-Authenticate": 'Basic realm="Redfish API"' },
  );
}

/** POST SessionService/Sessions (DSP0266 13.3.4): no other credentials needed. */
export async function login(bmc: Bmc, req: Request): Promise<Response> {
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
  if (!checkLogin(bmc, body.UserName as string, body.Password as string)) return unauthorized(bmc);
  const token = crypto.randomUUID().replace(/-/g, "");
  const id = String(++bmc.sessionSeq);
  const path = `${SESSIONS_PATH}/${id}`;
  bmc.sessions.set(token, path);
  bmc.state.sessionLogins++;
  bmc.state.openSessions = bmc.sessions.size;
  return json(
    {
      "@odata.id": path,
      "@odata.type": "#Session.v1_6_0.Session",
      Id: id,
      Name: "User Session",
      UserName: bmc.options.username,
      // DSP0266 13.3.7.1: the session is created, restricted to changing the password.
      ...(bmc.state.passwordChangeRequired
        ? { "@Message.ExtendedInfo": [passwordChangeMessage(bmc, "OK")] }
        : {}),
    },
    201,
    { "X-Auth-Token": token, Location: path },
  );
}

/** The Base registry's PasswordChangeRequired message; its argument is the account's URI. */
export function passwordChangeMessage(bmc: Bmc, severity: string) {
  return {
    "@odata.type": "#Message.v1_1_1.Message",
    MessageId: `${BASE_REGISTRY}.PasswordChangeRequired`,
    Message: "The password provided for this account must be changed before access is " +
      `granted.  PATCH the Password property for this account located at the target URI ` +
      `'${bmc.accountPath}' to complete this process.`,
    MessageArgs: [bmc.accountPath],
    MessageSeverity: severity,
    Resolution: "Change the password for this account using a PATCH to the Password " +
      "property at the URI provided.",
  };
}

/** PATCH of the ManagerAccount: only `Password` here; ETag precondition and password policy. */
export async function patchAccount(bmc: Bmc, req: Request): Promise<Response> {
  const ifMatch = req.headers.get("if-match");
  if (!ifMatch && bmc.options.requireIfMatch) {
    return error(
      428,
      "PreconditionRequired",
      "A precondition header or annotation is required to change the resource at the URI.",
    );
  }
  if (
    ifMatch && ifMatch !== "*" &&
    !ifMatch.split(",").map((t) => t.trim()).includes(accountEtag(bmc))
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
  const refused = [...password].find((c) => (bmc.options.refusedCharacters ?? "").includes(c));
  if (password.length < bmc.minLength || password.length > bmc.maxLength || refused !== undefined) {
    // The value is never echoed back: Base registry messages for passwords omit it.
    return error(
      400,
      "PropertyValueFormatError",
      "The value provided for the property Password is not a format that the property can accept.",
    );
  }
  bmc.state.password = password;
  bmc.state.passwordChangeRequired = false;
  bmc.state.passwordChanges++;
  bmc.accountVersion++;
  return new Response(null, { status: 204, headers: { ...HEADERS, ETag: accountEtag(bmc) } });
}
