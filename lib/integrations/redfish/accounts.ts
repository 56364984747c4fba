/** Our ManagerAccount: finding it, its password limits, and changing its password. */
import {
  AT_ONCE,
  bmcMessage,
  cap,
  type Ctx,
  get,
  type Json,
  membersOf,
  odataId,
  sameOrigin,
  samePath,
  str,
} from "./wire.ts";
import { closeSession, login } from "./session.ts";
import { IntegrationError, redactText } from "../http.ts";
import type { BmcAccount, LoginOutcome, PasswordLimits } from "./types.ts";

/** Our account: the AccountService's Accounts member with our UserName, and the password limits
 * the AccountService states. */
export async function findAccount(
  ctx: Ctx,
  root: Json,
): Promise<{ path?: string; limits: PasswordLimits }> {
  const service = await get(ctx, odataId(root.AccountService) ?? "/redfish/v1/AccountService");
  if (service.kind === "failed") return { limits: {} };
  const num = (v: unknown) => typeof v === "number" && v > 0 ? v : undefined;
  const limits = {
    min: num(service.body.MinPasswordLength),
    max: num(service.body.MaxPasswordLength),
  };
  const accountsPath = odataId(service.body.Accounts);
  const accounts = accountsPath ? await get(ctx, accountsPath) : null;
  if (accounts?.kind !== "ok") return { limits };
  const paths = membersOf(accounts.body);
  for (let i = 0; i < paths.length; i += AT_ONCE) {
    const batch = paths.slice(i, i + AT_ONCE);
    const got = await Promise.all(batch.map((p) => get(ctx, p)));
    const k = got.findIndex((a) => a.kind === "ok" && a.body.UserName === ctx.username);
    if (k >= 0) return { path: batch[k], limits };
  }
  return { limits };
}

export async function accountNeedsNewPassword(ctx: Ctx, root: Json): Promise<boolean> {
  // Best effort: AccountService → Accounts → the account with our UserName. The Accounts
  // collection is asked for at its standard path alongside the service; the link decides.
  const servicePath = odataId(root.AccountService) ?? "/redfish/v1/AccountService";
  const guessPath = `${servicePath.replace(/\/+$/, "")}/Accounts`;
  const [service, guess] = await Promise.all([get(ctx, servicePath), get(ctx, guessPath)]);
  if (service.kind === "failed") return false;
  const accountsPath = odataId(service.body.Accounts);
  if (!accountsPath) return false;
  const accounts = samePath(accountsPath, guessPath, ctx.origin)
    ? guess
    : await get(ctx, accountsPath);
  if (accounts.kind === "failed") return false;
  // A few accounts at a time, in order, stopping at ours.
  const paths = membersOf(accounts.body);
  for (let i = 0; i < paths.length; i += AT_ONCE) {
    const batch = await Promise.all(paths.slice(i, i + AT_ONCE).map((p) => get(ctx, p)));
    const mine = batch.find((a) => a.kind === "ok" && a.body.UserName === ctx.username);
    if (mine?.kind === "ok") return mine.body.PasswordChangeRequired === true;
  }
  return false;
}

/** Logs in to our account and returns a handle to change its password (never retried). */
export async function openAccount(
  ctx: Ctx,
  username: string,
  password: string,
  secrets: string[],
): Promise<BmcAccount | Exclude<LoginOutcome, { outcome: "ok" }>> {
  const got = await login(ctx, password, secrets);
  if (got.kind === "failed") return got.outcome;
  const close = () => got.session ? closeSession(ctx, got.session) : Promise.resolve();
  let limits: PasswordLimits = {};
  let accountPath = got.accountPath;
  if (!accountPath) {
    const found = await findAccount(ctx, got.root);
    limits = found.limits;
    accountPath = found.path;
  }
  if (!accountPath) {
    await close();
    return {
      outcome: "unreachable",
      message: `${cap(ctx.where)} lists no account named ${username} under its ` +
        "AccountService: the password cannot be changed over Redfish",
    };
  }
  const path = accountPath;
  const etagOf = async () => {
    const res = await ctx.http.request<Json>("read account", "GET", sameOrigin(ctx, path)!, {
      headers: ctx.auth,
    }).catch(() => null);
    return res?.headers.get("etag") ?? str(res?.body?.["@odata.etag"]);
  };
  return {
    limits,
    passwordChangeRequired: got.changeRequired,
    close,
    async setPassword(next) {
      secrets.push(next);
      const url = sameOrigin(ctx, path);
      if (!url) return { outcome: "refused", message: "The account's URI is on another host" };
      for (let attempt = 1;; attempt++) {
        const etag = await etagOf();
        try {
          await ctx.http.request("change password", "PATCH", url, {
            body: { Password: next },
            headers: { ...ctx.auth, ...(etag ? { "if-match": etag } : {}) },
            retry: false,
          });
          return { outcome: "ok" };
        } catch (e) {
          if (!(e instanceof IntegrationError)) throw e;
          // Someone changed the account in between: read its ETag again, once.
          if (e.status === 412 && attempt === 1) continue;
          const said = redactText(bmcMessage(e.body), secrets);
          if (e.status === 400) {
            return {
              outcome: "refused",
              message: `The BMC refused the new password (policy): ${said || "HTTP 400"}`,
            };
          }
          if (e.status === 401 || e.status === 403 || e.status === 412 || e.status === 428) {
            return {
              outcome: "denied",
              message: `The BMC did not let us change the password (HTTP ${e.status}` +
                `${said ? `: ${said}` : ""}): the account may be locked or lack privileges`,
            };
          }
          return {
            outcome: "unknown",
            message: e.status === 0
              ? `${cap(ctx.where)} did not answer the password change`
              : `${cap(ctx.where)} answered the password change with HTTP ${e.status}`,
          };
        }
      }
    },
  };
}
