/**
 * OIDC for the app. The relying party (discovery, authorization-code + PKCE login, ID token
 * validation, logout URL) is `openid-client`; bearer access tokens are validated with `jose`
 * against the provider's JWKS in `oidc/bearer.ts`; sessions live in Deno KV.
 */
import { base64url, decodeProtectedHeader, type JWTPayload } from "jose";
import * as oidc from "openid-client";
import {
  BearerVerifier,
  claimsOf,
  CLOCK_TOLERANCE_S,
  JWKS_COOLDOWN_MS,
  notAnAccessToken,
} from "./oidc/bearer.ts";
import type { Config } from "../domain/config.ts";
import { ConfigError } from "../domain/config.ts";
import { createHttpClient, type HttpClient, IntegrationError } from "./http.ts";
import type { Logger } from "../observability/log.ts";
import type { Metrics } from "../observability/metrics.ts";
import type { User } from "../domain/model.ts";
import { AccessDenied, AuthenticationFailed, LoginFailed } from "../domain/errors.ts";
import { LOGIN_TTL_MS, safeReturnTo, SESSION_TTL_MS } from "../domain/login.ts";

export { ALLOWED_ALGORITHMS } from "./oidc/bearer.ts";
const DISCOVERY_TTL_MS = 60 * 60 * 1000;

/** The provider's discovery document. */
export type OidcDiscovery = oidc.ServerMetadata;

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
export const pkceChallenge = oidc.calculatePKCECodeChallenge;

/** Where logins and sessions live: the state store's key-value part (`StateKv` of
 * lib/state/store.ts: Deno KV, or PostgreSQL for several replicas). */
export interface SessionKv {
  get<T = unknown>(key: Deno.KvKey): Promise<Deno.KvEntryMaybe<T>>;
  set(key: Deno.KvKey, value: unknown, options?: { expireIn?: number }): Promise<unknown>;
  delete(key: Deno.KvKey): Promise<void>;
  atomic(): SessionAtomic;
}

interface SessionAtomic {
  check(...checks: Deno.AtomicCheck[]): SessionAtomic;
  delete(key: Deno.KvKey): SessionAtomic;
  commit(): Promise<Deno.KvCommitResult | Deno.KvCommitError>;
}

/** Options for `createAuth`. */
export interface AuthOptions {
  config: Config;
  kv: SessionKv;
  log?: Logger;
  metrics?: Metrics;
  /** Transport for discovery, JWKS and the token endpoint (tests may pass a fake's handler). */
  fetch?: typeof fetch;
  /** Clock in ms, for bearer-token expiry, sessions and cache ages (openid-client checks the ID
   * token at login against the system clock). */
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

/**
 * `client_secret_basic` encoding only what must be encoded. oauth4webapi also encodes `-._~!*'()`,
 * and providers that compare the header without decoding it (glewlwyd) then refuse the client.
 */
function clientSecretBasic(secret: string): oidc.ClientAuth {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
  return (_as, client, _body, headers) => {
    headers.set("authorization", `Basic ${btoa(`${enc(client.client_id)}:${enc(secret)}`)}`);
  };
}

/** The error code of a provider's refusal (token endpoint or callback), if it is one. */
async function refusalOf(e: unknown): Promise<string | undefined> {
  if (e instanceof oidc.ResponseBodyError || e instanceof oidc.AuthorizationResponseError) {
    return e.error;
  }
  if (e instanceof oidc.WWWAuthenticateChallengeError) {
    // The challenge often names no error (`Basic realm=...`); the body usually does.
    const body = await e.response.json().catch(() => null);
    if (typeof body?.error === "string") return body.error;
    return e.cause[0]?.parameters.error ?? `HTTP ${e.status}`;
  }
  return undefined;
}

/** OIDC authentication for one issuer. Nothing is fetched until the first use. */
export class Auth {
  readonly settings: AuthSettings;
  readonly #kv: SessionKv;
  readonly #http: HttpClient;
  readonly #now: () => number;
  readonly #bearer: BearerVerifier;
  readonly #log?: Logger;
  #client?: { config: oidc.Configuration; at: number };

  constructor(settings: AuthSettings, options: AuthOptions) {
    this.settings = settings;
    this.#kv = options.kv;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#http = createHttpClient({
      integration: "oidc",
      fetch: options.fetch,
      metrics: options.metrics,
      timeoutMs: 5000,
      secrets: () => settings.clientSecret ? [settings.clientSecret] : [],
    });
    this.#bearer = new BearerVerifier({
      http: this.#http,
      now: this.#now,
      cooldownMs: options.jwksCooldownMs ?? JWKS_COOLDOWN_MS,
      discovery: () => this.discovery(),
    });
  }

  /** True when the browser login (code flow) is configured. */
  get browserLogin(): boolean {
    return Boolean(this.settings.clientId);
  }

  /**
   * openid-client's transport: our HTTP layer (timeout, metrics, redaction, typed errors). GETs are
   * retried; a token request is not, since a code is single-use. OAuth error answers (400/401, and
   * 403 from glewlwyd) go back to the library, which reads their `error`.
   */
  #fetch = (url: string, init: oidc.CustomFetchOptions): Promise<Response> =>
    this.#http.requestStream(
      url.includes("/.well-known/") ? "discovery" : init.method === "POST" ? "token" : "jwks",
      init.method,
      url,
      {
        // Only form bodies (URLSearchParams) are sent to the provider.
        body: init.body === undefined || init.body === null ? undefined : String(init.body),
        headers: init.headers,
        signal: init.signal,
        accept: [400, 401, 403],
        retry: init.method === "GET",
      },
    );

  /** Client authentication chosen per request, from the provider's methods and today's secret. */
  #clientAuth: oidc.ClientAuth = (as, client, body, headers) => {
    const secret = this.settings.clientSecret;
    const methods = as.token_endpoint_auth_methods_supported ?? ["client_secret_basic"];
    const method = !secret
      ? oidc.None()
      : methods.includes("client_secret_basic")
      ? clientSecretBasic(secret)
      : oidc.ClientSecretPost(secret);
    method(as, client, body, headers);
  };

  /** The provider's configuration from discovery, cached for an hour. */
  async #configuration(): Promise<oidc.Configuration> {
    const cached = this.#client;
    if (cached && this.#now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
    const { issuer } = this.settings;
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(
        new URL(issuer),
        // Without browser login only the metadata is used; the id is then a placeholder.
        this.settings.clientId ?? this.settings.audience,
        { [oidc.clockTolerance]: CLOCK_TOLERANCE_S },
        this.#clientAuth,
        {
          [oidc.customFetch]: this.#fetch,
          // Plain http only where the operator configured it (a loopback or test provider).
          execute: issuer.startsWith("http:") ? [oidc.allowInsecureRequests] : [],
        },
      );
    } catch (e) {
      if (e instanceof oidc.ClientError && e.code === "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED") {
        const named = (e.cause as { body?: { issuer?: unknown } } | undefined)?.body?.issuer;
        throw new ConfigError(
          `The OIDC discovery document names issuer ${
            JSON.stringify(named)
          }, not ${issuer}: check ONBOARDING_OIDC_ISSUER`,
        );
      }
      if (e instanceof oidc.ClientError && e.cause instanceof IntegrationError) throw e.cause;
      if (e instanceof oidc.ClientError) {
        throw new ConfigError(`The OIDC discovery document is not usable: ${e.message}`);
      }
      throw e;
    }
    // The ID token at login is verified against the provider's keys too, not only trusted as
    // the token endpoint's answer.
    oidc.enableNonRepudiationChecks(config);
    this.#client = { config, at: this.#now() };
    return config;
  }

  /** The discovery document (cached for an hour); its `issuer` must equal the configured one. */
  async discovery(): Promise<OidcDiscovery> {
    return (await this.#configuration()).serverMetadata();
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

  /** Validates an `Authorization: Bearer` access token (audience = OIDC_AUDIENCE or client id). */
  async verifyBearer(token: string): Promise<User> {
    const payload = await this.#bearer.verify(token, this.settings.audience);
    const why = notAnAccessToken(decodeProtectedHeader(token).typ, payload);
    if (why) throw new AuthenticationFailed(`The token was refused: ${why}`);
    return this.userOf(claimsOf(payload, this.settings.groupsClaim));
  }

  /** Starts a login: stores state, nonce and PKCE verifier; returns the provider URL. */
  async beginLogin(
    options: { returnTo?: string; redirectUri: string },
  ): Promise<{ url: string; state: string; binding: string }> {
    if (!this.settings.clientId) {
      throw new LoginFailed("Browser login is not configured: ONBOARDING_OIDC_CLIENT_ID is empty");
    }
    const config = await this.#configuration();
    const state = oidc.randomState();
    const pending: PendingLogin = {
      verifier: oidc.randomPKCECodeVerifier(),
      nonce: oidc.randomNonce(),
      returnTo: safeReturnTo(options.returnTo),
      redirectUri: options.redirectUri,
      binding: randomToken(),
    };
    await this.#kv.set(keys.login(state), pending, { expireIn: LOGIN_TTL_MS });
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: options.redirectUri,
      scope: "openid profile email",
      state,
      nonce: pending.nonce,
      code_challenge: await pkceChallenge(pending.verifier),
      code_challenge_method: "S256",
    });
    return { url: url.toString(), state, binding: pending.binding };
  }

  /** Consumes the login `state` (once), redeems the code, validates the ID token, opens a session. */
  async completeLogin(
    params: { code?: string; state?: string; iss?: string; binding?: string },
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
    const config = await this.#configuration();
    // The callback as the provider sent it; the library takes the redirect URI from it.
    const callback = new URL(pending.redirectUri);
    callback.searchParams.set("code", params.code);
    callback.searchParams.set("state", params.state);
    if (params.iss !== undefined) callback.searchParams.set("iss", params.iss);
    let claims: JWTPayload | undefined;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, callback, {
        pkceCodeVerifier: pending.verifier,
        expectedState: params.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      claims = tokens.claims();
    } catch (e) {
      const refusal = await refusalOf(e);
      // Our transport's typed error (unreachable, timeout, 5xx), as the library wrapped it.
      if (e instanceof oidc.ClientError && e.cause instanceof IntegrationError) throw e.cause;
      if (refusal !== undefined) {
        this.#log?.warn("OIDC code exchange refused", { error: refusal });
        throw new LoginFailed(`The identity provider refused the login (${refusal})`);
      }
      if (e instanceof oidc.ClientError || e instanceof TypeError) {
        this.#log?.warn("OIDC login answer refused", { reason: e.message });
        throw new LoginFailed(`The identity provider's answer was refused: ${e.message}`);
      }
      throw e;
    }
    if (!claims) throw new LoginFailed("The identity provider sent no ID token");
    const sessionClaims = claimsOf(claims, this.settings.groupsClaim);
    const user = this.userOf(sessionClaims);
    const sessionId = randomToken();
    const now = this.#now();
    const session: StoredSession = {
      ...sessionClaims,
      createdAt: now,
      expiresAt: now + SESSION_TTL_MS,
    };
    await this.#kv.set(keys.session(await this.#sessionKey(sessionId)), session, {
      expireIn: SESSION_TTL_MS,
    });
    return { sessionId, returnTo: pending.returnTo, user, expiresAt: session.expiresAt };
  }

  /** The provider's logout URL returning to `postLogoutRedirectUri`, if it has one. */
  async logoutUrl(postLogoutRedirectUri: string): Promise<string | undefined> {
    const config = await this.#configuration().catch(() => null);
    if (!config?.serverMetadata().end_session_endpoint || !this.settings.clientId) return;
    return oidc.buildEndSessionUrl(config, {
      client_id: this.settings.clientId,
      post_logout_redirect_uri: postLogoutRedirectUri,
    }).toString();
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
