/**
 * OIDC for the app: discovery and JWKS (cached, refetched on an unknown key), token validation
 * with `jose`, the authorization-code + PKCE login and server-side sessions in Deno KV.
 */
import {
  base64url,
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type JWTPayload,
  jwtVerify,
} from "jose";
import type { Config } from "../domain/config.ts";
import { ConfigError } from "../domain/config.ts";
import { createHttpClient, type HttpClient } from "./http.ts";
import type { Logger } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { User } from "../domain/model.ts";
import { AccessDenied, AuthenticationFailed, LoginFailed } from "../domain/errors.ts";
import { LOGIN_TTL_MS, safeReturnTo, SESSION_TTL_MS } from "../domain/login.ts";

/** Signature algorithms we accept; never `none` and never HMAC (a public key is not a secret). */
export const ALLOWED_ALGORITHMS = ["RS256", "ES256", "PS256"];
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
const JWKS_TTL_MS = 10 * 60 * 1000;
/** An unknown `kid` refetches the JWKS at most this often, so junk tokens cannot flood the IdP. */
const JWKS_COOLDOWN_MS = 30 * 1000;
const CLOCK_TOLERANCE_S = 30;

/** The parts of the provider's discovery document we use. */
export interface OidcDiscovery {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint?: string;
  token_endpoint_auth_methods_supported?: string[];
  code_challenge_methods_supported?: string[];
}

/** Auth settings taken from the config. */
export interface AuthSettings {
  issuer: string;
  /** Expected `aud` of bearer (access) tokens: OIDC_AUDIENCE, else the client id. */
  audience: string;
  clientId?: string;
  clientSecret?: string;
  requiredGroup?: string;
  adminGroup?: string;
  groupsClaim: string;
  publicUrl?: string;
}

/** Settings from the config; throws ConfigError when an issuer is set without any audience. */
export function authSettings(config: Config): AuthSettings | null {
  if (!config.OIDC_ISSUER) return null;
  const audience = config.OIDC_AUDIENCE ?? config.OIDC_CLIENT_ID;
  if (!audience) {
    throw new ConfigError(
      "Invalid ONBOARDING_OIDC_AUDIENCE: set it or ONBOARDING_OIDC_CLIENT_ID when ONBOARDING_OIDC_ISSUER is set",
    );
  }
  return {
    issuer: config.OIDC_ISSUER,
    audience,
    clientId: config.OIDC_CLIENT_ID,
    clientSecret: config.OIDC_CLIENT_SECRET,
    requiredGroup: config.OIDC_REQUIRED_GROUP,
    adminGroup: config.OIDC_ADMIN_GROUP,
    groupsClaim: config.OIDC_GROUPS_CLAIM,
    publicUrl: config.PUBLIC_URL?.replace(/\/+$/, ""),
  };
}

/** A login in progress, kept in KV under its `state`. */
interface PendingLogin {
  verifier: string;
  nonce: string;
  returnTo: string;
  redirectUri: string;
  /** Random value also set in a cookie, so a callback only completes in the browser that started it. */
  binding: string;
}

/** A browser session as stored (the key is a hash of the cookie value). */
interface StoredSession {
  sub: string;
  name?: string;
  groups: string[];
  createdAt: number;
  expiresAt: number;
}

const keys = {
  login: (state: string) => ["auth_logins", state],
  session: (hash: string) => ["auth_sessions", hash],
};

function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The PKCE S256 challenge of a verifier. */
export async function pkceChallenge(verifier: string): Promise<string> {
  return base64url.encode(await sha256(verifier));
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
function notAnAccessToken(typ: string | undefined, payload: JWTPayload): string | undefined {
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

/** Options for `createAuth`. */
export interface AuthOptions {
  config: Config;
  kv: Deno.Kv;
  log?: Logger;
  metrics?: Metrics;
  /** Transport for discovery, JWKS and the token endpoint (tests may pass a fake's handler). */
  fetch?: typeof fetch;
  /** Clock in ms, for token expiry and cache ages. */
  now?: () => number;
  /** Minimum gap between JWKS refetches caused by an unknown key (default 30 s). */
  jwksCooldownMs?: number;
}

/** The result of a completed login. */
export interface LoginResult {
  /** Cookie value: a random 256-bit id; KV holds only its hash. */
  sessionId: string;
  returnTo: string;
  user: User;
  expiresAt: number;
}

/** OIDC authentication for one issuer. Nothing is fetched until the first use. */
export class Auth {
  readonly settings: AuthSettings;
  readonly #kv: Deno.Kv;
  readonly #http: HttpClient;
  readonly #now: () => number;
  readonly #cooldownMs: number;
  readonly #log?: Logger;
  #discovery?: { doc: OidcDiscovery; at: number };
  #jwks?: { set: ReturnType<typeof createLocalJWKSet>; at: number };
  #jwksLoading?: Promise<void>;

  constructor(settings: AuthSettings, options: AuthOptions) {
    this.settings = settings;
    this.#kv = options.kv;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#cooldownMs = options.jwksCooldownMs ?? JWKS_COOLDOWN_MS;
    this.#http = createHttpClient({
      integration: "oidc",
      fetch: options.fetch,
      metrics: options.metrics,
      timeoutMs: 5000,
      secrets: () => settings.clientSecret ? [settings.clientSecret] : [],
    });
  }

  /** True when the browser login (code flow) is configured. */
  get browserLogin(): boolean {
    return Boolean(this.settings.clientId);
  }

  /** The discovery document, cached for an hour; its `issuer` must equal the configured one. */
  async discovery(): Promise<OidcDiscovery> {
    const cached = this.#discovery;
    if (cached && this.#now() - cached.at < DISCOVERY_TTL_MS) return cached.doc;
    const url = `${this.settings.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    const { body } = await this.#http.request<OidcDiscovery>("discovery", "GET", url);
    if (!body || typeof body !== "object" || body.issuer !== this.settings.issuer) {
      throw new ConfigError(
        `The OIDC discovery document names issuer ${
          JSON.stringify((body as OidcDiscovery | null)?.issuer)
        }, not ${this.settings.issuer}: check ONBOARDING_OIDC_ISSUER`,
      );
    }
    for (const field of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
      if (typeof body[field] !== "string") {
        throw new ConfigError(`The OIDC discovery document has no ${field}`);
      }
    }
    this.#discovery = { doc: body, at: this.#now() };
    return body;
  }

  async #loadJwks(): Promise<void> {
    this.#jwksLoading ??= (async () => {
      try {
        const { jwks_uri } = await this.discovery();
        const { body } = await this.#http.request<JSONWebKeySet>("jwks", "GET", jwks_uri);
        if (!body || !Array.isArray(body.keys)) {
          throw new ConfigError("The OIDC JWKS document has no keys array");
        }
        this.#jwks = { set: createLocalJWKSet(body), at: this.#now() };
      } finally {
        this.#jwksLoading = undefined;
      }
    })();
    await this.#jwksLoading;
  }

  /** Key lookup for jwtVerify: cached set, refetched when stale or when the `kid` is unknown. */
  #getKey = async (header: JWSHeaderParameters): Promise<CryptoKey> => {
    if (!this.#jwks || this.#now() - this.#jwks.at > JWKS_TTL_MS) await this.#loadJwks();
    try {
      return await this.#jwks!.set(header);
    } catch (e) {
      if (!(e instanceof joseErrors.JWKSNoMatchingKey)) throw e;
      if (this.#now() - this.#jwks!.at < this.#cooldownMs) throw e;
      // The provider may have rotated its keys since we last looked.
      await this.#loadJwks();
      return await this.#jwks!.set(header);
    }
  };

  async #verify(
    token: string,
    audience: string,
    extra: { nonce?: string } = {},
  ): Promise<JWTPayload> {
    const { issuer } = await this.discovery();
    try {
      const { payload } = await jwtVerify(token, this.#getKey, {
        issuer,
        audience,
        algorithms: ALLOWED_ALGORITHMS,
        clockTolerance: CLOCK_TOLERANCE_S,
        currentDate: new Date(this.#now()),
        requiredClaims: ["sub", "exp", "iat"],
      });
      if (extra.nonce !== undefined && payload.nonce !== extra.nonce) {
        throw new AuthenticationFailed("The ID token's nonce does not match the login");
      }
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

  /** The user of verified claims; AccessDenied when the required group is missing. */
  userOf(claims: { sub: string; name?: string; groups: string[] }): User {
    const { requiredGroup, adminGroup } = this.settings;
    if (requiredGroup && !claims.groups.includes(requiredGroup)) {
      throw new AccessDenied(`Access requires membership of the group "${requiredGroup}"`);
    }
    return {
      sub: claims.sub,
      name: claims.name,
      groups: claims.groups,
      admin: Boolean(adminGroup && claims.groups.includes(adminGroup)),
    };
  }

  #claimsOf(payload: JWTPayload): { sub: string; name?: string; groups: string[] } {
    const raw = claimAt(payload, this.settings.groupsClaim);
    const groups = Array.isArray(raw)
      ? raw.filter((g): g is string => typeof g === "string")
      : typeof raw === "string"
      ? [raw]
      : [];
    const name = [payload.name, payload.preferred_username, payload.email]
      .find((v): v is string => typeof v === "string" && v !== "");
    return { sub: payload.sub!, name, groups };
  }

  /** Validates an `Authorization: Bearer` access token (audience = OIDC_AUDIENCE or client id). */
  async verifyBearer(token: string): Promise<User> {
    const payload = await this.#verify(token, this.settings.audience);
    const why = notAnAccessToken(decodeProtectedHeader(token).typ, payload);
    if (why) throw new AuthenticationFailed(`The token was refused: ${why}`);
    return this.userOf(this.#claimsOf(payload));
  }

  /** Starts a login: stores state, nonce and PKCE verifier; returns the provider URL. */
  async beginLogin(
    options: { returnTo?: string; redirectUri: string },
  ): Promise<{ url: string; state: string; binding: string }> {
    if (!this.settings.clientId) {
      throw new LoginFailed("Browser login is not configured: ONBOARDING_OIDC_CLIENT_ID is empty");
    }
    const doc = await this.discovery();
    const state = randomToken();
    const pending: PendingLogin = {
      verifier: randomToken(),
      nonce: randomToken(),
      returnTo: safeReturnTo(options.returnTo),
      redirectUri: options.redirectUri,
      binding: randomToken(),
    };
    await this.#kv.set(keys.login(state), pending, { expireIn: LOGIN_TTL_MS });
    const url = new URL(doc.authorization_endpoint);
    url.searchParams.set("response_type", "code");
    url.searchParams.set("client_id", this.settings.clientId);
    url.searchParams.set("redirect_uri", options.redirectUri);
    url.searchParams.set("scope", "openid profile email");
    url.searchParams.set("state", state);
    url.searchParams.set("nonce", pending.nonce);
    url.searchParams.set("code_challenge", await pkceChallenge(pending.verifier));
    url.searchParams.set("code_challenge_method", "S256");
    return { url: url.toString(), state, binding: pending.binding };
  }

  /** Consumes the login `state` (once), redeems the code, validates the ID token, opens a session. */
  async completeLogin(
    params: { code?: string; state?: string; binding?: string },
  ): Promise<LoginResult> {
    if (!params.state || !params.code) throw new LoginFailed("The callback lacks code or state");
    const entry = await this.#kv.get<PendingLogin>(keys.login(params.state));
    if (!entry.value) throw new LoginFailed("The login expired or was already used: sign in again");
    const done = await this.#kv.atomic().check(entry).delete(entry.key).commit();
    if (!done.ok) throw new LoginFailed("The login was already used: sign in again");
    const pending = entry.value;
    if (!params.binding || params.binding !== pending.binding) {
      throw new LoginFailed("The login was started in another browser: sign in again");
    }
    const doc = await this.discovery();
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code: params.code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.verifier,
    });
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
    };
    const clientId = this.settings.clientId!;
    const secret = this.settings.clientSecret;
    const methods = doc.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
    if (secret && methods.includes("client_secret_basic")) {
      const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
      headers.authorization = `Basic ${btoa(`${enc(clientId)}:${enc(secret)}`)}`;
    } else {
      form.set("client_id", clientId);
      if (secret) form.set("client_secret", secret);
    }
    // A code is single-use: never resend after a lost answer.
    const res = await this.#http.request<Record<string, unknown>>(
      "token",
      "POST",
      doc.token_endpoint,
      { body: form.toString(), headers, retry: false, accept: [400, 401] },
    );
    if (res.status !== 200 || typeof res.body?.id_token !== "string") {
      const code = typeof res.body?.error === "string" ? res.body.error : `HTTP ${res.status}`;
      this.#log?.warn("OIDC code exchange refused", { status: res.status, error: code });
      throw new LoginFailed(`The identity provider refused the login (${code})`);
    }
    let payload: JWTPayload;
    try {
      payload = await this.#verify(res.body.id_token, clientId, { nonce: pending.nonce });
    } catch (e) {
      if (e instanceof AuthenticationFailed) throw new LoginFailed(e.message);
      throw e;
    }
    const claims = this.#claimsOf(payload);
    const user = this.userOf(claims);
    const sessionId = randomToken();
    const now = this.#now();
    const session: StoredSession = { ...claims, createdAt: now, expiresAt: now + SESSION_TTL_MS };
    await this.#kv.set(keys.session(await this.#sessionKey(sessionId)), session, {
      expireIn: SESSION_TTL_MS,
    });
    return { sessionId, returnTo: pending.returnTo, user, expiresAt: session.expiresAt };
  }

  async #sessionKey(sessionId: string): Promise<string> {
    return base64url.encode(await sha256(sessionId));
  }

  /** The user of a session cookie, or null when unknown or expired; group rules apply afresh. */
  async session(sessionId: string): Promise<User | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return null;
    const entry = await this.#kv.get<StoredSession>(
      keys.session(await this.#sessionKey(sessionId)),
    );
    // KV expiry is lazy, so check the time as well.
    if (!entry.value || entry.value.expiresAt <= this.#now()) return null;
    return this.userOf(entry.value);
  }

  /** Ends a session. */
  async logout(sessionId: string): Promise<void> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(sessionId)) return;
    await this.#kv.delete(keys.session(await this.#sessionKey(sessionId)));
  }
}

/** The Auth for the config, or null when OIDC_ISSUER is empty (auth disabled). */
export function createAuth(options: AuthOptions): Auth | null {
  const settings = authSettings(options.config);
  return settings ? new Auth(settings, options) : null;
}
