/** The BMC check: ServiceRoot, credentials, the system behind the BMC, its boot NIC. */
import { createHttpClient } from "../http.ts";
import type { BmcSystem } from "../../domain/model.ts";
import {
  arrayOf,
  AT_ONCE,
  base64,
  cap,
  classify,
  type Ctx,
  get,
  type Got,
  isServiceRoot,
  type Json,
  lastSegment,
  membersOf,
  mentions,
  objectOf,
  odataId,
  originOf,
  readMembers,
  samePath,
  str,
  SYSTEMS_PATH,
  vendorOf,
} from "./wire.ts";
import { accountNeedsNewPassword } from "./accounts.ts";
import { chooseByFunction, chooseFromBootOrder, hostNics } from "./boot_nic.ts";
import { closeSession, openSession } from "./session.ts";
import type { BmcCheck, BmcCheckInput, RedfishSettings } from "./types.ts";

/** From the Systems collection on: the system, its NICs and boot order, and the account. */
export async function readSystem(
  ctx: Ctx,
  rootBody: Json,
  systems: Got,
  systemsPath: string,
  input: Pick<BmcCheckInput, "bmcMac" | "system" | "onSystem">,
): Promise<BmcCheck> {
  if (systems.kind === "failed") {
    if (systems.status === 403 && mentions(systems.body, "PasswordChangeRequired")) {
      // DSP0266: the password is right but must be changed; nothing else is readable.
      return {
        outcome: "ok",
        vendor: vendorOf(rootBody, {}),
        model: str(rootBody.Product),
        serial: "",
        systemId: "",
        systemPath: "",
        passwordChangeRequired: true,
        nics: [],
        bootMac: "",
        bootReason: "the BMC asks for a password change before it shows the system",
      };
    }
    return classify(systems, ctx);
  }
  const members = membersOf(systems.body);
  if (!members.length) {
    return {
      outcome: "not-redfish",
      message: `${cap(ctx.where)} lists no computer system under ${systemsPath}`,
    };
  }
  let systemPath = members[0];
  if (input.system) {
    const wanted = input.system;
    const picked = members.find((p) =>
      samePath(p, wanted, ctx.origin) || lastSegment(p) === wanted
    );
    if (!picked) return await pickSystem(ctx, members, `has no system "${wanted}"`);
    systemPath = picked;
  } else if (members.length > 1) {
    return await pickSystem(ctx, members, `manages ${members.length} systems`);
  }
  input.onSystem?.(systemPath);

  // Round 2: the system, its NIC and boot option collections at the standard paths and the
  // account check side by side; the system's own links decide whether the guesses are used.
  const base = systemPath.replace(/\/+$/, "");
  const systemGot = get(ctx, systemPath);
  const linked = (guessPath: string, link: (system: Json) => string | undefined) => {
    const guess = get(ctx, guessPath);
    return systemGot.then(async (system): Promise<Got | null> => {
      const path = system.kind === "ok" ? link(system.body) : undefined;
      if (!path) return null;
      return samePath(path, guessPath, ctx.origin) ? await guess : await get(ctx, path);
    });
  };
  const nicCollection = linked(`${base}/EthernetInterfaces`, (s) => odataId(s.EthernetInterfaces));
  const bootCollection = linked(
    `${base}/BootOptions`,
    (s) => odataId(objectOf(s.Boot).BootOptions),
  );
  // Round 3: the members, as soon as their collections are in. Boot options only matter when
  // there is more than one NIC to choose from.
  const nicBodies = nicCollection.then((c) => readMembers(ctx, c));
  const optionBodies = Promise.all([nicCollection, bootCollection]).then(([n, b]) =>
    n?.kind === "ok" && membersOf(n.body).length > 1 ? readMembers(ctx, b) : []
  );
  const [system, nicsRead, options, passwordChangeRequired] = await Promise.all([
    systemGot,
    nicBodies,
    optionBodies,
    accountNeedsNewPassword(ctx, rootBody),
  ]);
  if (system.kind === "failed") return classify(system, ctx);
  const nics = hostNics(nicsRead, input.bmcMac);
  const bootOrder = arrayOf(objectOf(system.body.Boot).BootOrder).map(str).filter(Boolean);
  const choice = chooseFromBootOrder(nics, bootOrder, options, input.bmcMac) ??
    await chooseByFunction(ctx, nics);
  return {
    outcome: "ok",
    vendor: vendorOf(rootBody, system.body),
    model: str(system.body.Model),
    serial: str(system.body.SerialNumber),
    systemId: str(system.body.Id) || lastSegment(systemPath),
    systemPath,
    passwordChangeRequired,
    nics: nics.map(({ id, mac, link }) => ({ id, mac, link })),
    bootMac: choice?.mac ?? "",
    bootReason: choice?.reason ??
      (nics.length
        ? `the BMC lists ${nics.length} host NICs and neither its boot order nor its network ` +
          "device functions say which one boots"
        : "the BMC lists no host NIC (some list them only while the host is powered on)"),
  };
}

/** The systems of a multi-system BMC, for the operator to pick one. */
export async function pickSystem(ctx: Ctx, members: string[], what: string): Promise<BmcCheck> {
  const systems: BmcSystem[] = [];
  for (let i = 0; i < members.length; i += AT_ONCE) {
    const batch = members.slice(i, i + AT_ONCE);
    const got = await Promise.all(batch.map((p) => get(ctx, p)));
    got.forEach((g, k) => {
      const body = g.kind === "ok" ? g.body : {};
      systems.push({
        id: str(body.Id) || lastSegment(batch[k]),
        path: batch[k],
        name: str(body.Name),
        serial: str(body.SerialNumber),
      });
    });
  }
  return {
    outcome: "pick-system",
    systems,
    message: `${cap(ctx.where)} ${what} (${systems.map((s) => s.id).join(", ")}): ` +
      "pick the one in this slot (bmc_system) and Retry",
  };
}

/** Checks one BMC: Redfish at all, the password, the system behind it and its boot NIC. */
export async function checkBmc(
  settings: RedfishSettings,
  { host, username, password, bmcMac, system, onSystem }: BmcCheckInput,
): Promise<BmcCheck> {
  const origin = originOf(settings.scheme ?? "https", host, settings.port);
  const basic = "Basic " + base64(`${username}:${password}`);
  let token = "";
  // A BMC that is not there should not hold a registration up for long: two attempts.
  const http = createHttpClient({
    integration: "redfish",
    fetch: settings.fetch,
    timeoutMs: settings.timeoutMs ?? 5000,
    retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000 },
    // A redirect would carry the password (or the probe) to wherever the BMC points.
    redirect: "manual",
    metrics: settings.metrics,
    secrets: () => [password, basic, basic.slice(6), token],
  });
  const ctx: Ctx = {
    http,
    origin,
    auth: { authorization: basic },
    where: `the BMC at ${host}`,
    username,
  };

  // Round 1: the unauthenticated probe and the credential check side by side, the latter at
  // the standard Systems path (the ServiceRoot's link is checked once it is in). Only this
  // one request carries the password until the BMC has accepted it: failed logins count
  // towards a BMC's account lockout, so nothing else is sent alongside it.
  const [root, guessedSystems] = await Promise.all([
    get(ctx, "/redfish/v1/", null),
    get(ctx, SYSTEMS_PATH),
  ]);
  if (root.kind === "failed") {
    // Some older firmware wants credentials even for the ServiceRoot; carry on with them.
    if (root.status !== 401 && root.status !== 403) return classify(root, ctx);
  } else if (!isServiceRoot(root.body)) {
    return {
      outcome: "not-redfish",
      message: `${cap(ctx.where)} answered /redfish/v1/ but not with a Redfish ServiceRoot: ` +
        "check the address, or register the server without the BMC check",
    };
  }
  const rootBody = root.kind === "ok" ? root.body : {};

  const systemsPath = odataId(rootBody.Systems) ?? SYSTEMS_PATH;
  // A rejected password is rejected whatever the path: asking again would count twice.
  const rejected = guessedSystems.kind === "failed" &&
    (guessedSystems.status === 401 || guessedSystems.status === 403);
  let systems = samePath(systemsPath, SYSTEMS_PATH, origin) || rejected
    ? guessedSystems
    : await get(ctx, systemsPath);
  // Basic refused: a BMC that offers sessions gets one session login, as Ironic's sushy does.
  // Only a failed login is a wrong password; each way is tried once (account lock-outs).
  const sessionsPath = odataId(objectOf(rootBody.Links).Sessions);
  let session: string | undefined;
  if (systems.kind === "failed" && systems.status === 401 && sessionsPath) {
    const login = await openSession(ctx, sessionsPath, password);
    if (login.kind === "failed") {
      // No answer or a busy BMC says nothing about the password; a login the BMC does not
      // offer after all (404, 405, 501) leaves the Basic refusal as the answer.
      const transient = login.status === 0 || (login.status >= 500 && login.status !== 501);
      return classify(
        transient || login.status === 401 || login.status === 403 ? login : systems,
        ctx,
      );
    }
    token = login.token;
    session = login.location;
    ctx.auth = { "x-auth-token": token };
    systems = await get(ctx, systemsPath);
  }
  try {
    return await readSystem(ctx, rootBody, systems, systemsPath, { bmcMac, system, onSystem });
  } finally {
    if (session) await closeSession(ctx, session);
  }
}
