/** Real Kea 2.2 + PostgreSQL for integration tests: the machinery of sim/real_kea.ts, plus the
 * test policy (ONBOARDING_TEST_PG_URL for an existing server, loud SKIP or failure with CI=true). */
import {
  type KeaSubnet,
  type LocalKea,
  type LocalPostgres,
  missingKeaDependency,
  startPostgres as startLocalPostgres,
} from "../sim/real_kea.ts";

export {
  createDatabase,
  dbParts,
  freeTcpPort,
  freeUdpPort,
  keaDbInit,
  startKea,
  startKeaWithConfig,
} from "../sim/real_kea.ts";

/** A subnet for `startKea`. */
export type TestSubnet = KeaSubnet;
/** Handle of a running Kea. */
export type TestKea = LocalKea;
/** Handle of a running test PostgreSQL. */
export type TestPostgres = LocalPostgres;

/** Names the Debian package to install when a binary the Kea tests need is missing, else null. */
export function missingDependency(): string | null {
  return missingKeaDependency({
    externalPostgres: Boolean(Deno.env.get("ONBOARDING_TEST_PG_URL")),
  });
}

/**
 * For tests needing real Kea: true when they can run. With CI=true a missing dependency throws
 * (a failure); otherwise a loud SKIP line names the package and the caller returns early.
 */
export function keaAvailable(what: string): boolean {
  const missing = missingDependency();
  if (!missing) return true;
  const msg = `SKIP: ${what} needs real Kea 2.2 + PostgreSQL (apt-get install ${missing})`;
  if (Deno.env.get("CI") === "true") throw new Error(`${msg}: missing dependency with CI=true`);
  console.warn(`\n${"!".repeat(78)}\n${msg}\n${"!".repeat(78)}`);
  return false;
}

/**
 * A private PostgreSQL in a temp dir on a free port (as the `postgres` user when we are root;
 * its unix socket lives in the temp dir), or the server in ONBOARDING_TEST_PG_URL when set.
 */
export function startPostgres(): Promise<TestPostgres> {
  return startLocalPostgres({ url: Deno.env.get("ONBOARDING_TEST_PG_URL") || undefined });
}
