/** Redfish BMC check: is the BMC speaking Redfish, does it accept the scanned password, and what
 * system (vendor, model, serial, system path) sits behind it, and which host NIC boots.
 *
 * TLS: Deno's fetch verifies the BMC's certificate; an untrusted one is reported as such ("the
 * BMC's certificate is not trusted: …"). README "BMC certificates" says what `DENO_CERT` can trust
 * and the ways around it. This module does not weaken verification by itself. */
import { createHttpClient } from "./http.ts";
import type { RedfishClient, RedfishSettings } from "./redfish/types.ts";
import { type Ctx, originOf } from "./redfish/wire.ts";
import { closeSession, login } from "./redfish/session.ts";
import { openAccount } from "./redfish/accounts.ts";
import { checkBmc } from "./redfish/system.ts";

export type * from "./redfish/types.ts";

/** Creates a Redfish client; one instance serves any number of BMCs. */
export function createRedfishClient(settings: RedfishSettings = {}): RedfishClient {
  const scheme = settings.scheme ?? "https";
  const timeoutMs = settings.timeoutMs ?? 5000;

  /** A context for account work: no retries of anything that carries a password. */
  function accountCtx(host: string, username: string, secrets: string[]): Ctx {
    return {
      http: createHttpClient({
        integration: "redfish",
        fetch: settings.fetch,
        timeoutMs,
        retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000 },
        redirect: "manual",
        metrics: settings.metrics,
        secrets: () => secrets,
      }),
      origin: originOf(scheme, host, settings.port),
      auth: {},
      where: `the BMC at ${host}`,
      username,
    };
  }

  return {
    async tryLogin({ host, username, password }) {
      const secrets = [password];
      const ctx = accountCtx(host, username, secrets);
      const got = await login(ctx, password, secrets);
      if (got.kind === "failed") return got.outcome;
      if (got.session) await closeSession(ctx, got.session);
      return { outcome: "ok", passwordChangeRequired: got.changeRequired };
    },

    openAccount({ host, username, password }) {
      const secrets = [password];
      return openAccount(accountCtx(host, username, secrets), username, password, secrets);
    },

    checkBmc: (input) => checkBmc(settings, input),
  };
}
