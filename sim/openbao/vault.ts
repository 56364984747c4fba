/**
 * One fake OpenBao's state (`Vault`), passed to the concern modules (auth, kv), and the response
 * shapes of the real server.
 */
import { Faults } from "../faults.ts";
import type { FakeOpenBaoOptions, FakeOpenBaoState } from "./types.ts";

export interface Vault {
  roleId: string;
  secretId: string;
  /** KV v2 mount path without surrounding slashes. */
  mountPoint: string;
  ttl: number;
  maxTtl: number;
  /** The clock in ms (a test's, or the real one). */
  now: () => number;
  faults: Faults;
  state: FakeOpenBaoState;
}

export function createVault(options: FakeOpenBaoOptions): Vault {
  const ttl = options.tokenTtlSeconds ?? 1200;
  return {
    roleId: options.roleId ?? "demo-role-id",
    secretId: options.secretId ?? "demo-secret-id",
    mountPoint: (options.mountPoint ?? "secret").replace(/^\/+|\/+$/g, ""),
    ttl,
    maxTtl: options.tokenMaxTtlSeconds ?? ttl * 4,
    now: options.now ?? (() => Date.now()),
    faults: new Faults(),
    state: {
      sealed: options.sealed ?? false,
      initialized: options.initialized ?? true,
      standby: options.standby ?? false,
      tokens: new Map(),
      keys: new Map(),
      casRequired: false,
      maxVersions: 0,
      logins: 0,
      renewals: 0,
      requests: [],
    },
  };
}

export function iso(vault: Vault, ms = vault.now()): string {
  return new Date(ms).toISOString();
}

export function envelope(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    request_id: crypto.randomUUID(),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data: null,
    wrap_info: null,
    warnings: null,
    auth: null,
    ...extra,
  };
}

export const json = (body: unknown, status = 200) => Response.json(body, { status });
export const errors = (status: number, ...messages: string[]) => json({ errors: messages }, status);
export const noContent = () => new Response(null, { status: 204 });
export const unsupported = () => errors(405, "1 error occurred:\n\t* unsupported operation\n\n");

/** Seconds from `3600`, `"3600"`, `"90s"`, `"30m"` or `"1h"`; null when absent or unparseable. */
export function parseDuration(value: unknown): number | null {
  if (typeof value === "number" && value > 0) return value;
  if (typeof value !== "string") return null;
  const m = /^(\d+)([smh]?)$/.exec(value.trim());
  if (!m) return null;
  return Number(m[1]) * ({ "": 1, s: 1, m: 60, h: 3600 }[m[2]] ?? 1);
}

export function randomId(length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}
