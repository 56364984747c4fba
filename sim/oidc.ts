/**
 * OIDC provider fake: discovery, JWKS with key rotation, an authorize endpoint that signs the
 * configured user in and redirects back with a code, and a token endpoint checking PKCE and the
 * client secret, with the error codes of RFC 6749 / OIDC Core.
 */
import { base64url, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { Faults, logRequest, serveFake } from "./faults.ts";

/** The person the authorize endpoint signs in (there is no login form). */
export interface FakeOidcUser {
  sub: string;
  name?: string;
  email?: string;
  groups?: string[];
  /** Extra claims for the ID and access tokens. */
  claims?: Record<string, unknown>;
}

export interface FakeOidcOptions {
  /** Issuer URL; `serveFakeOidc` sets it to the served address. */
  issuer?: string;
  clientId?: string;
  clientSecret?: string;
  /** Registered redirect URIs; the authorize and token endpoints refuse any other. */
  redirectUris?: string[];
  /** `aud` of access tokens (the API's audience); default the client id. */
  accessTokenAudience?: string;
  user?: FakeOidcUser;
  /** Signing algorithm of the first key. */
  alg?: "RS256" | "ES256" | "PS256";
  /** Lifetime of issued tokens in seconds (default 300). */
  tokenTtlSeconds?: number;
  /** Clock in ms. */
  now?: () => number;
}

/** A signing key; `private` never leaves the fake. */
export interface FakeSigningKey {
  kid: string;
  alg: string;
  publicJwk: JWK;
  privateKey: CryptoKey;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce?: string;
  scope: string;
  user: FakeOidcUser;
  expiresAt: number;
}

export interface FakeOidcState {
  issuer: string;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  accessTokenAudience: string;
  /** Who the next authorize request signs in. */
  user: FakeOidcUser;
  /** Keys published in the JWKS; the first one signs. */
  keys: FakeSigningKey[];
  codes: Map<string, IssuedCode>;
  /** Requests seen, as `METHOD /path`, for assertions (e.g. how often the JWKS was fetched). */
  requests: string[];
}

export interface FakeOidc {
  handler: (req: Request) => Promise<Response>;
  state: FakeOidcState;
  faults: Faults;
  /** Signs a token as the provider would; options allow the broken variants tests need. */
  mintToken(claims?: JWTPayload, options?: MintOptions): Promise<string>;
  /** New signing key first in the JWKS; the old ones stay published unless `dropOld`. */
  rotateKeys(options?: { alg?: "RS256" | "ES256" | "PS256"; dropOld?: boolean }): Promise<void>;
}

export interface MintOptions {
  /** Override the signing key (e.g. one not in the JWKS). */
  key?: FakeSigningKey;
  audience?: string | string[];
  issuer?: string;
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  /** Omit the `kid` header. */
  noKid?: boolean;
  /** The `typ` header (default `JWT`; RFC 9068 access tokens say `at+jwt`). */
  typ?: string;
}

/** A fresh signing key with a random `kid`. */
export async function createSigningKey(
  alg: "RS256" | "ES256" | "PS256" = "RS256",
): Promise<FakeSigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const kid = base64url.encode(crypto.getRandomValues(new Uint8Array(9)));
  const publicJwk = { ...await exportJWK(publicKey), kid, alg, use: "sig" };
  return { kid, alg, publicJwk, privateKey };
}

function oauthError(status: number, error: string, description: string, headers = {}): Response {
  return Response.json({ error, error_description: description }, {
    status,
    headers: { "cache-control": "no-store", ...headers },
  });
}

async function s256(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url.encode(new Uint8Array(digest));
}

/** One fake provider's state, passed to its endpoint functions. */
interface Provider {
  now: () => number;
  ttl: number;
  state: FakeOidcState;
  faults: Faults;
}

async function mintToken(
  op: Provider,
  claims: JWTPayload = {},
  o: MintOptions = {},
): Promise<string> {
  const key = o.key ?? op.state.keys[0];
  const iat = Math.floor(op.now() / 1000);
  const header: { alg: string; typ: string; kid?: string } = {
    alg: key.alg,
    typ: o.typ ?? "JWT",
  };
  if (!o.noKid) header.kid = key.kid;
  return await new SignJWT({ sub: op.state.user.sub, ...claims })
    .setProtectedHeader(header)
    .setIssuer(o.issuer ?? op.state.issuer)
    .setAudience(o.audience ?? op.state.accessTokenAudience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + (o.expiresIn ?? op.ttl))
    .sign(key.privateKey);
}

const userClaims = (u: FakeOidcUser) => ({
  sub: u.sub,
  ...(u.name ? { name: u.name, preferred_username: u.sub } : {}),
  ...(u.email ? { email: u.email } : {}),
  groups: u.groups ?? [],
  ...u.claims,
});

function discovery(op: Provider): Response {
  const base = op.state.issuer.replace(/\/+$/, "");
  return Response.json({
    issuer: op.state.issuer,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/jwks`,
    end_session_endpoint: `${base}/logout`,
    response_types_supported: ["code"],
    grant_types_supported: ["authorization_code"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: [...new Set(op.state.keys.map((k) => k.alg))],
    scopes_supported: ["openid", "profile", "email"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    code_challenge_methods_supported: ["S256"],
    claims_supported: ["sub", "name", "email", "groups"],
  });
}

function authorize(op: Provider, url: URL): Response {
  const p = url.searchParams;
  const redirectUri = p.get("redirect_uri") ?? "";
  // Without a valid client and redirect URI the provider must not redirect (RFC 6749 §4.1.2.1).
  if (p.get("client_id") !== op.state.clientId) {
    return new Response("Unknown client_id", { status: 400 });
  }
  if (!op.state.redirectUris.includes(redirectUri)) {
    return new Response("redirect_uri is not registered for this client", { status: 400 });
  }
  const back = new URL(redirectUri);
  const fail = (error: string, description: string) => {
    back.searchParams.set("error", error);
    back.searchParams.set("error_description", description);
    if (p.get("state")) back.searchParams.set("state", p.get("state")!);
    return new Response(null, { status: 302, headers: { location: back.toString() } });
  };
  if (p.get("response_type") !== "code") {
    return fail("unsupported_response_type", "Only response_type=code is supported");
  }
  const scope = p.get("scope") ?? "";
  if (!scope.split(" ").includes("openid")) return fail("invalid_scope", "openid is required");
  const challenge = p.get("code_challenge");
  if (!challenge || p.get("code_challenge_method") !== "S256") {
    return fail("invalid_request", "PKCE with code_challenge_method=S256 is required");
  }
  const code = base64url.encode(crypto.getRandomValues(new Uint8Array(24)));
  op.state.codes.set(code, {
    clientId: op.state.clientId,
    redirectUri,
    challenge,
    nonce: p.get("nonce") ?? undefined,
    scope,
    user: structuredClone(op.state.user),
    expiresAt: op.now() + 60_000,
  });
  back.searchParams.set("code", code);
  if (p.get("state")) back.searchParams.set("state", p.get("state")!);
  back.searchParams.set("iss", op.state.issuer);
  return new Response(null, { status: 302, headers: { location: back.toString() } });
}

async function token(op: Provider, req: Request): Promise<Response> {
  if (!req.headers.get("content-type")?.startsWith("application/x-www-form-urlencoded")) {
    return oauthError(400, "invalid_request", "The body must be form-encoded");
  }
  const form = new URLSearchParams(await req.text());
  let id = form.get("client_id");
  let secret = form.get("client_secret");
  const basic = req.headers.get("authorization");
  if (basic?.startsWith("Basic ")) {
    const decoded = atob(basic.slice(6));
    const i = decoded.indexOf(":");
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, " "));
    id = dec(decoded.slice(0, i));
    secret = dec(decoded.slice(i + 1));
  }
  if (id !== op.state.clientId || secret !== op.state.clientSecret) {
    return oauthError(401, "invalid_client", "Client authentication failed", {
      "www-authenticate": 'Basic realm="oidc.sim"',
    });
  }
  if (form.get("grant_type") !== "authorization_code") {
    return oauthError(400, "unsupported_grant_type", "Only authorization_code is supported");
  }
  const code = form.get("code") ?? "";
  const issued = op.state.codes.get(code);
  // Codes are single-use, whatever the outcome.
  op.state.codes.delete(code);
  if (!issued || issued.expiresAt <= op.now() || issued.clientId !== id) {
    return oauthError(400, "invalid_grant", "The code is invalid, expired or already used");
  }
  if (form.get("redirect_uri") !== issued.redirectUri) {
    return oauthError(400, "invalid_grant", "redirect_uri does not match the authorization");
  }
  const verifier = form.get("code_verifier") ?? "";
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || await s256(verifier) !== issued.challenge) {
    return oauthError(400, "invalid_grant", "PKCE verification failed");
  }
  const claims = userClaims(issued.user);
  const idToken = await mintToken(op, {
    ...claims,
    ...(issued.nonce ? { nonce: issued.nonce } : {}),
    azp: op.state.clientId,
  }, { audience: op.state.clientId });
  const accessToken = await mintToken(op, { ...claims, scope: issued.scope, client_id: id });
  return Response.json({
    access_token: accessToken,
    id_token: idToken,
    token_type: "Bearer",
    expires_in: op.ttl,
    scope: issued.scope,
  }, { headers: { "cache-control": "no-store", pragma: "no-cache" } });
}

async function handler(op: Provider, req: Request): Promise<Response> {
  const url = new URL(req.url);
  logRequest(op.state.requests, `${req.method} ${url.pathname}`);
  const faulted = await op.faults.apply(req);
  if (faulted) return faulted;
  const path = url.pathname;
  if (req.method === "GET" && path === "/.well-known/openid-configuration") return discovery(op);
  if (req.method === "GET" && path === "/jwks") {
    return Response.json({ keys: op.state.keys.map((k) => k.publicJwk) }, {
      headers: { "content-type": "application/jwk-set+json" },
    });
  }
  if (req.method === "GET" && path === "/authorize") return authorize(op, url);
  if (path === "/token") {
    if (req.method !== "POST") return oauthError(405, "invalid_request", "Use POST");
    return await token(op, req);
  }
  if (req.method === "GET" && path === "/logout") {
    const back = url.searchParams.get("post_logout_redirect_uri");
    return back
      ? new Response(null, { status: 302, headers: { location: back } })
      : new Response("Signed out", { status: 200 });
  }
  return Response.json({ error: "not_found" }, { status: 404 });
}

/** Builds the fake; serve it with `serveFakeOidc` or call `handler` through `asFetch`. */
export async function createFakeOidc(options: FakeOidcOptions = {}): Promise<FakeOidc> {
  const clientId = options.clientId ?? "onboarding";
  const op: Provider = {
    now: options.now ?? Date.now,
    ttl: options.tokenTtlSeconds ?? 300,
    state: {
      issuer: options.issuer ?? "http://oidc.sim",
      clientId,
      clientSecret: options.clientSecret ?? "onboarding-client-secret",
      redirectUris: options.redirectUris ?? [],
      accessTokenAudience: options.accessTokenAudience ?? clientId,
      user: options.user ?? { sub: "operator-1", name: "Oda Operator", groups: ["dc-operators"] },
      keys: [await createSigningKey(options.alg)],
      codes: new Map(),
      requests: [],
    },
    faults: new Faults(),
  };
  const { state } = op;
  return {
    handler: (req) => handler(op, req),
    state,
    faults: op.faults,
    mintToken: (claims, o) => mintToken(op, claims, o),
    async rotateKeys(o = {}) {
      const key = await createSigningKey(o.alg ?? (state.keys[0].alg as "RS256"));
      state.keys = o.dropOld ? [key] : [key, ...state.keys];
    },
  };
}

/** The fake served on 127.0.0.1 port 0, with its issuer set to the served URL. */
export async function serveFakeOidc(
  options: FakeOidcOptions = {},
): Promise<FakeOidc & { url: string } & AsyncDisposable> {
  const fake = await createFakeOidc(options);
  const served = serveFake(fake.handler);
  fake.state.issuer = served.url;
  return Object.assign(fake, { url: served.url, [Symbol.asyncDispose]: () => served.close() });
}
