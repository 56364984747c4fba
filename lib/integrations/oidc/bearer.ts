/**
 * Bearer access tokens for the resource server: verified with `jose` against the provider's JWKS
 * (cached, refetched on an unknown key at most once per cooldown).
 */
import {
  createLocalJWKSet,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from "jose";
import type { ServerMetadata } from "openid-client";
import { ConfigError } from "../../domain/config.ts";
import { AuthenticationFailed } from "../../domain/errors.ts";
import type { HttpClient } from "../http.ts";

/** Signature algorithms we accept; never `none` and never HMAC (a public key is not a secret). */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "PS256"];
const JWKS_TTL_MS = 10 * 60 * 1000;
/** An unknown `kid` refetches the JWKS at most this often, so junk tokens cannot flood the IdP. */
export const JWKS_COOLDOWN_MS = 30 * 1000;
export const CLOCK_TOLERANCE_S = 30;

/** Verifies access tokens with the keys of the issuer that `discovery` names. */
export class BearerVerifier {
  readonly #http: HttpClient;
  readonly #now: () => number;
  readonly #cooldownMs: number;
  readonly #discovery: () => Promise<ServerMetadata>;
  #keys?: { set: ReturnType<typeof createLocalJWKSet>; at: number };
  #loading?: Promise<void>;

  constructor(options: {
    http: HttpClient;
    now: () => number;
    cooldownMs: number;
    discovery: () => Promise<ServerMetadata>;
  }) {
    this.#http = options.http;
    this.#now = options.now;
    this.#cooldownMs = options.cooldownMs;
    this.#discovery = options.discovery;
  }

  /** Fetches the JWKS; concurrent callers share one request. */
  async #load(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        const { jwks_uri } = await this.#discovery();
        if (!jwks_uri) throw new ConfigError("The OIDC discovery document has no jwks_uri");
        const { body } = await this.#http.request<JSONWebKeySet>("jwks", "GET", jwks_uri);
        if (!body || !Array.isArray(body.keys)) {
          throw new ConfigError("The OIDC JWKS document has no keys array");
        }
        this.#keys = { set: createLocalJWKSet(body), at: this.#now() };
      } finally {
        this.#loading = undefined;
      }
    })();
    await this.#loading;
  }

  /** Key lookup for jwtVerify: cached set, refetched when stale or when the `kid` is unknown. */
  #getKey = async (header: JWSHeaderParameters): Promise<CryptoKey> => {
    if (!this.#keys || this.#now() - this.#keys.at > JWKS_TTL_MS) await this.#load();
    try {
      return await this.#keys!.set(header);
    } catch (e) {
      if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      if (this.#now() - this.#keys!.at < this.#cooldownMs) throw e;
      // The provider may have rotated its keys since we last looked.
      await this.#load();
      return await this.#keys!.set(header);
    }
  };

  /**
   * Verifies a bearer token. openid-client is a relying party and validates only what it receives
   * at login; a resource server's access-token check (RFC 9068 would refuse unmarked tokens that
   * most providers issue) stays here, on `jose`.
   */
  async verify(token: string, audience: string): Promise<JWTPayload> {
    const { issuer } = await this.#discovery();
    try {
      const { payload } = await jwtVerify(token, this.#getKey, {
        issuer,
        audience,
        algorithms: ALLOWED_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(this.#now()),
        requiredClaims: ["sub", "exp", "iat"],
      });
      // With several audiences the authorised party must be us (OIDC Core 3.1.3.7).
      if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== audience) {
        throw new AuthenticationFailed('The token\'s "azp" claim does not name this client');
      }
      return payload;
    } catch (e) {
      if (e instanceof AuthenticationFailed) throw e;
      if (e instanceof joseErrors.JOSEError) {
        throw new AuthenticationFailed(`The token was refused: ${reasonOf(e)}`);
      }
      throw e;
    }
  }
}

/** Subject, display name and groups of verified claims (`groupsClaim` may be a dotted path). */
export function claimsOf(
  payload: JWTPayload,
  groupsClaim: string,
): { sub: string; name?: string; groups: string[] } {
  const raw = claimAt(payload, groupsClaim);
  const groups = Array.isArray(raw)
    ? raw.filter((g): g is string => typeof g === "string")
    : typeof raw === "string"
    ? [raw]
    : [];
  const name = [payload.name, payload.preferred_username, payload.email]
    .find((v): v is string => typeof v === "string" && v !== "");
  return { sub: payload.sub!, name, groups };
}

/** A claim by exact name, else by dotted path (`realm_access.roles`). */
function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let v: unknown = payload;
  for (const part of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Why a token was refused, in words that never include the token. */
function reasonOf(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return "the token has expired";
  if (e instanceof joseErrors.JWTClaimValidationFailed) {
    return `claim "${e.claim}" is not acceptable (${e.reason})`;
  }
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return "the signing algorithm is not allowed";
  if (e instanceof joseErrors.JWKSNoMatchingKey) return "no known key matches the token";
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return "the signature is invalid";
  if (e instanceof joseErrors.JOSEError) return "the token is malformed";
  return "the token cannot be verified";
}

/**
 * Why a verified token is not an access token, where the issuer marks the kind: the `typ` header
 * (RFC 9068 `at+jwt`; ID tokens say `JWT` or nothing), Cognito's `token_use` and Keycloak's `typ`
 * claim. An unmarked token passes; the audience check is then what keeps ID tokens out.
 */
export function notAnAccessToken(typ: string | undefined, payload: JWTPayload): string | undefined {
  const header = typ?.toLowerCase().replace(/^application\//, "");
  if (header !== undefined && header !== "jwt" && header !== "at+jwt") {
    return `a "${typ}" token is not an access token`;
  }
  if (payload.token_use !== undefined && payload.token_use !== "access") {
    return "an ID token is not an access token (token_use)";
  }
  if (payload.typ !== undefined && payload.typ !== "Bearer") {
    return "an ID token is not an access token (typ)";
  }
  return undefined;
}
