/** The fake OpenBao's options, state and public shape. */
import type { Faults } from "../faults.ts";

export interface FakeOpenBaoOptions {
  roleId?: string;
  secretId?: string;
  /** KV v2 mount path (may contain slashes); default `secret`. */
  mountPoint?: string;
  /** TTL of issued and renewed tokens; default 1200 s like an AppRole default. */
  tokenTtlSeconds?: number;
  /** Max TTL: renewal never extends a token past issue time + this; default 4 × TTL. */
  tokenMaxTtlSeconds?: number;
  sealed?: boolean;
  initialized?: boolean;
  standby?: boolean;
  /** Clock in ms, so tests can move time forward without waiting. */
  now?: () => number;
}

/** One stored KV v2 version. `data` is null once destroyed. */
export interface FakeSecretVersion {
  version: number;
  data: Record<string, unknown> | null;
  createdTime: string;
  /** ISO time of soft deletion, "" when live. */
  deletionTime: string;
  destroyed: boolean;
}

/** Metadata and versions of one key. */
export interface KeyRecord {
  versions: Map<number, FakeSecretVersion>;
  currentVersion: number;
  oldestVersion: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string> | null;
  createdTime: string;
  updatedTime: string;
}

/** An issued token. */
export interface TokenRecord {
  token: string;
  accessor: string;
  issuedAt: number;
  expiresAt: number;
  ttlSeconds: number;
  policies: string[];
}

export interface FakeOpenBaoState {
  sealed: boolean;
  initialized: boolean;
  standby: boolean;
  tokens: Map<string, TokenRecord>;
  /** Keyed by the secret path inside the mount (e.g. `bmc/dcoa-rb06u31`). */
  keys: Map<string, KeyRecord>;
  /** Mount-wide `cas_required` (POST {mount}/config). */
  casRequired: boolean;
  /** Mount-wide `max_versions`; 0 means the server default of 10. */
  maxVersions: number;
  logins: number;
  renewals: number;
  /** Every request seen, as `METHOD /path` (query excluded), for assertions. */
  requests: string[];
}

export interface FakeOpenBao {
  handler: (req: Request) => Promise<Response>;
  faults: Faults;
  state: FakeOpenBaoState;
  roleId: string;
  secretId: string;
  mountPoint: string;
  /** All stored versions of a key, oldest first (empty when never written). */
  versions(path: string): FakeSecretVersion[];
  /** Latest live data of a key, or null when absent, deleted or destroyed. */
  latest(path: string): Record<string, unknown> | null;
  /** Invalidates every issued token, as a restart with a new storage or a revocation would. */
  revokeAllTokens(): void;
}
