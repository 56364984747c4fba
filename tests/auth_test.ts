/** Token validation, key rotation, login round trip and sessions of lib/integrations/oidc.ts against the OIDC fake. */
import assert from "node:assert/strict";
import { base64url, SignJWT, UnsecuredJWT } from "jose";
import { Auth, createAuth, pkceChallenge } from "../lib/integrations/oidc.ts";
import { AccessDenied, AuthenticationFailed, LoginFailed } from "../lib/domain/errors.ts";
import { safeReturnTo } from "../lib/domain/login.ts";
import { ConfigError, loadConfig } from "../lib/domain/config.ts";
import { asFetch } from "../sim/faults.ts";
import { createFakeOidc, createSigningKey, type FakeOidc } from "../sim/oidc.ts";

const ISSUER = "http://oidc.sim";
export const AUTH_ENV = {
  ONBOARDING_OIDC_ISSUER: ISSUER,
  ONBOARDING_OIDC_CLIENT_ID: "onboarding",
  ONBOARDING_OIDC_CLIENT_SECRET: "onboarding-client-secret",
  ONBOARDING_OIDC_AUDIENCE: "onboarding-api",
  ONBOARDING_OIDC_REQUIRED_GROUP: "dc-operators",
  ONBOARDING_OIDC_ADMIN_GROUP: "dc-admins",
};

async function setup(
  options: { env?: Record<string, string>; cooldownMs?: number } = {},
): Promise<{ fake: FakeOidc; auth: Auth; kv: Deno.Kv; clock: { t: number } }> {
  const clock = { t: Date.now() };
  const fake = await createFakeOidc({
    issuer: ISSUER,
    accessTokenAudience: "onboarding-api",
    redirectUris: ["http://app.test/auth/callback"],
    now: () => clock.t,
  });
  const kv = await Deno.openKv(":memory:");
  const auth = createAuth({
    config: loadConfig({ ...AUTH_ENV, ...options.env }),
    kv,
    fetch: asFetch(fake.handler),
    now: () => clock.t,
    jwksCooldownMs: options.cooldownMs,
  })!;
  return { fake, auth, kv, clock };
}

const assertEquals = (a: unknown, b: unknown) => assert.deepStrictEqual(a, b);
const assertMatch = (s: string, re: RegExp) => assert.match(s, re);

/** Awaits a rejection of the given class (and text); returns the error for more checks. */
async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof type, `expected ${type.name}, got ${e}`);
    if (includes) assert(e.message.includes(includes), `"${e.message}" lacks "${includes}"`);
    return e;
  }
  throw new assert.AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}

const jwksFetches = (fake: FakeOidc) => fake.state.requests.filter((r) => r === "GET /jwks").length;

Deno.test("Auth.verifyBearer() accepts provider tokens and refuses every broken variant", async (t) => {
  const { fake, auth, kv } = await setup();
  try {
    await t.step(
      "a valid token gives the user with groups; admin only from the admin group",
      async () => {
        const user = await auth.verifyBearer(
          await fake.mintToken({ name: "Oda", groups: ["dc-operators"] }),
        );
        assertEquals(user, {
          sub: "operator-1",
          name: "Oda",
          groups: ["dc-operators"],
          admin: false,
        });
        const admin = await auth.verifyBearer(
          await fake.mintToken({ groups: ["dc-operators", "dc-admins"] }),
        );
        assertEquals(admin.admin, true);
      },
    );

    await t.step("access tokens marked as such are accepted", async () => {
      for (
        const token of [
          await fake.mintToken({ groups: ["dc-operators"] }, { typ: "at+jwt" }),
          await fake.mintToken({ groups: ["dc-operators"] }, { typ: "application/at+jwt" }),
          await fake.mintToken({ groups: ["dc-operators"], token_use: "access" }),
          await fake.mintToken({ groups: ["dc-operators"], typ: "Bearer" }),
        ]
      ) assertEquals((await auth.verifyBearer(token)).sub, "operator-1");
    });

    const refused: [string, () => Promise<string>, RegExp][] = [
      [
        "expired",
        () => fake.mintToken({ groups: ["dc-operators"] }, { expiresIn: -120 }),
        /expired/,
      ],
      [
        "wrong audience",
        () => fake.mintToken({ groups: ["dc-operators"] }, { audience: "someone-else" }),
        /"aud"/,
      ],
      [
        "wrong issuer",
        () => fake.mintToken({ groups: ["dc-operators"] }, { issuer: "http://evil.sim" }),
        /"iss"/,
      ],
      [
        "alg none",
        () =>
          Promise.resolve(
            new UnsecuredJWT({ sub: "operator-1", groups: ["dc-operators"] })
              .setIssuer(ISSUER).setAudience("onboarding-api").setIssuedAt().setExpirationTime("5m")
              .encode(),
          ),
        /algorithm is not allowed/,
      ],
      [
        "unknown key",
        async () =>
          fake.mintToken({ groups: ["dc-operators"] }, { key: await createSigningKey("RS256") }),
        /no known key/,
      ],
      [
        "HS256 signed with the public key",
        async () => {
          const pub = new TextEncoder().encode(JSON.stringify(fake.state.keys[0].publicJwk));
          return await new SignJWT({ sub: "operator-1", groups: ["dc-operators"] })
            .setProtectedHeader({ alg: "HS256", kid: fake.state.keys[0].kid })
            .setIssuer(ISSUER).setAudience("onboarding-api").setIssuedAt().setExpirationTime("5m")
            .sign(pub);
        },
        /algorithm is not allowed/,
      ],
      [
        "tampered payload",
        async () => {
          const [h, , s] = (await fake.mintToken({ groups: ["dc-operators"] })).split(".");
          const forged = base64url.encode(JSON.stringify({
            sub: "operator-1",
            groups: ["dc-operators", "dc-admins"],
            iss: ISSUER,
            aud: "onboarding-api",
            iat: Math.floor(Date.now() / 1000),
            exp: Math.floor(Date.now() / 1000) + 300,
          }));
          return `${h}.${forged}.${s}`;
        },
        /signature is invalid/,
      ],
      ["garbage", () => Promise.resolve("not.a.jwt"), /malformed/],
      [
        "an ID token marked by token_use (Cognito)",
        () => fake.mintToken({ groups: ["dc-operators"], token_use: "id" }),
        /ID token/,
      ],
      [
        "an ID token marked by its typ claim (Keycloak)",
        () => fake.mintToken({ groups: ["dc-operators"], typ: "ID" }),
        /ID token/,
      ],
      [
        "a token of another kind by its typ header",
        () => fake.mintToken({ groups: ["dc-operators"] }, { typ: "logout+jwt" }),
        /not an access token/,
      ],
      [
        "no sub claim",
        () => fake.mintToken({ sub: undefined, groups: ["dc-operators"] }),
        /"sub"/,
      ],
    ];
    for (const [name, make, reason] of refused) {
      await t.step(`refuses: ${name}`, async () => {
        const token = await make();
        const e = await assertRejects(() => auth.verifyBearer(token), AuthenticationFailed);
        assertMatch(e.message, reason);
        assert(!e.message.includes(token), "the message must not quote the token");
      });
    }

    await t.step("a valid token without the required group is AccessDenied", async () => {
      await assertRejects(
        async () => auth.verifyBearer(await fake.mintToken({ groups: ["visitors"] })),
        AccessDenied,
        "dc-operators",
      );
    });
  } finally {
    kv.close();
  }
});

Deno.test("Auth key handling: rotation without restart, refetch cooldown, nested group claims", async (t) => {
  await t.step("a rotated key is fetched on its first unknown kid", async () => {
    const { fake, auth, kv, clock } = await setup();
    try {
      await auth.verifyBearer(await fake.mintToken({ groups: ["dc-operators"] }));
      assertEquals(jwksFetches(fake), 1);
      await fake.rotateKeys({ alg: "ES256", dropOld: true });
      const rotated = await fake.mintToken({ groups: ["dc-operators"] });
      // Within the cooldown an unknown kid does not hit the provider again.
      await assertRejects(() => auth.verifyBearer(rotated), AuthenticationFailed);
      assertEquals(jwksFetches(fake), 1);
      clock.t += 31_000;
      assertEquals((await auth.verifyBearer(rotated)).sub, "operator-1");
      assertEquals(jwksFetches(fake), 2);
      // Cached now: no further fetch.
      await auth.verifyBearer(rotated);
      assertEquals(jwksFetches(fake), 2);
    } finally {
      kv.close();
    }
  });

  await t.step("groups from a dotted claim path (Keycloak realm roles)", async () => {
    const { fake, auth, kv } = await setup({
      env: { ONBOARDING_OIDC_GROUPS_CLAIM: "realm_access.roles" },
    });
    try {
      const user = await auth.verifyBearer(
        await fake.mintToken({ realm_access: { roles: ["dc-operators"] } }),
      );
      assertEquals(user.groups, ["dc-operators"]);
    } finally {
      kv.close();
    }
  });

  await t.step("a discovery document naming another issuer stops with ConfigError", async () => {
    const { fake, auth, kv } = await setup();
    try {
      fake.state.issuer = "http://elsewhere.sim";
      await assertRejects(() => auth.discovery(), ConfigError, "elsewhere");
    } finally {
      kv.close();
    }
  });

  await t.step("an issuer without audience or client id is a start-up error", async () => {
    const kv = await Deno.openKv(":memory:");
    try {
      let error: unknown;
      try {
        createAuth({ config: loadConfig({ ONBOARDING_OIDC_ISSUER: ISSUER }), kv });
      } catch (e) {
        error = e;
      }
      assert(error instanceof ConfigError);
      assertMatch(error.message, /ONBOARDING_OIDC_AUDIENCE/);
    } finally {
      kv.close();
    }
  });
});

/** Follows the provider's authorize redirect in-process; returns the callback's query. */
async function authorize(fake: FakeOidc, url: string): Promise<URLSearchParams> {
  const res = await fake.handler(new Request(url));
  assertEquals(res.status, 302);
  return new URL(res.headers.get("location")!).searchParams;
}

Deno.test("Auth login: PKCE code flow, one-time state bound to the browser, KV sessions", async (t) => {
  const { fake, auth, kv, clock } = await setup();
  const redirectUri = "http://app.test/auth/callback";
  try {
    await t.step("the authorize URL carries S256 PKCE, state and nonce", async () => {
      const login = await auth.beginLogin({ returnTo: "/servers?q=x", redirectUri });
      const p = new URL(login.url).searchParams;
      assertEquals(p.get("code_challenge_method"), "S256");
      assertEquals(p.get("client_id"), "onboarding");
      assertEquals(p.get("state"), login.state);
      assertMatch(p.get("nonce")!, /^[A-Za-z0-9_-]{43}$/);
      assertMatch(p.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
    });

    await t.step(
      "a completed login opens a session, its state cannot be replayed, logout ends it",
      async () => {
        const login = await auth.beginLogin({ returnTo: "/servers?q=x", redirectUri });
        const back = await authorize(fake, login.url);
        const result = await auth.completeLogin({
          code: back.get("code")!,
          state: back.get("state")!,
          binding: login.binding,
        });
        assertEquals(result.returnTo, "/servers?q=x");
        assertEquals(result.user.sub, "operator-1");
        assertMatch(result.sessionId, /^[A-Za-z0-9_-]{43}$/);
        assertEquals((await auth.session(result.sessionId))?.sub, "operator-1");
        // KV holds a hash of the id, never the cookie value itself.
        for await (const e of kv.list({ prefix: ["auth_sessions"] })) {
          assert(!JSON.stringify(e).includes(result.sessionId));
        }
        // The state is single-use: a replayed callback is refused.
        await assertRejects(
          () =>
            auth.completeLogin({
              code: back.get("code")!,
              state: back.get("state")!,
              binding: login.binding,
            }),
          LoginFailed,
          "expired or was already used",
        );
        await auth.logout(result.sessionId);
        assertEquals(await auth.session(result.sessionId), null);
      },
    );

    await t.step("a session expires after its lifetime", async () => {
      const login = await auth.beginLogin({ redirectUri });
      const back = await authorize(fake, login.url);
      const { sessionId } = await auth.completeLogin({
        code: back.get("code")!,
        state: back.get("state")!,
        binding: login.binding,
      });
      clock.t += 8 * 60 * 60 * 1000 + 1;
      assertEquals(await auth.session(sessionId), null);
      clock.t = Date.now();
    });

    await t.step("a callback in another browser (no binding cookie) is refused", async () => {
      const login = await auth.beginLogin({ redirectUri });
      const back = await authorize(fake, login.url);
      await assertRejects(
        () => auth.completeLogin({ code: back.get("code")!, state: back.get("state")! }),
        LoginFailed,
        "another browser",
      );
    });

    await t.step("a user outside the required group gets no session", async () => {
      const sessions = async () =>
        (await Array.fromAsync(kv.list({ prefix: ["auth_sessions"] }))).length;
      const before = await sessions();
      fake.state.user = { sub: "visitor", groups: ["visitors"] };
      const login = await auth.beginLogin({ redirectUri });
      const back = await authorize(fake, login.url);
      await assertRejects(
        () =>
          auth.completeLogin({
            code: back.get("code")!,
            state: back.get("state")!,
            binding: login.binding,
          }),
        AccessDenied,
      );
      assertEquals(await sessions(), before);
      fake.state.user = { sub: "operator-1", groups: ["dc-operators"] };
    });

    await t.step("a wrong client secret is refused by the provider", async () => {
      (auth.settings as { clientSecret?: string }).clientSecret = "wrong";
      const login = await auth.beginLogin({ redirectUri });
      const back = await authorize(fake, login.url);
      const e = await assertRejects(
        () =>
          auth.completeLogin({
            code: back.get("code")!,
            state: back.get("state")!,
            binding: login.binding,
          }),
        LoginFailed,
        "invalid_client",
      );
      assert(!e.message.includes("wrong"));
      (auth.settings as { clientSecret?: string }).clientSecret = "onboarding-client-secret";
    });
  } finally {
    kv.close();
  }
});

Deno.test("the token request's Basic header encodes only what needs it (glewlwyd does not decode)", async () => {
  // A provider that compares the header as sent refuses a client whose `-._~` were encoded.
  const secret = "s3cr-et.with_all~unreserved";
  const fake = await createFakeOidc({
    issuer: ISSUER,
    clientSecret: secret,
    redirectUris: ["http://app.test/auth/callback"],
  });
  const sent: string[] = [];
  const kv = await Deno.openKv(":memory:");
  try {
    const auth = createAuth({
      config: loadConfig({ ...AUTH_ENV, ONBOARDING_OIDC_CLIENT_SECRET: secret }),
      kv,
      fetch: (input, init) => {
        const req = new Request(input, init);
        if (req.method === "POST") sent.push(req.headers.get("authorization") ?? "");
        return Promise.resolve(fake.handler(req));
      },
    })!;
    const login = await auth.beginLogin({ redirectUri: "http://app.test/auth/callback" });
    const back = await authorize(fake, login.url);
    await auth.completeLogin({
      code: back.get("code")!,
      state: back.get("state")!,
      binding: login.binding,
    });
    assertEquals(sent, [`Basic ${btoa(`onboarding:${secret}`)}`]);
  } finally {
    kv.close();
  }
});

Deno.test("createFakeOidc() token endpoint enforces PKCE, single-use codes and redirect URIs", async (t) => {
  const fake = await createFakeOidc({ issuer: ISSUER, redirectUris: ["http://app.test/cb"] });
  const verifier = base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
  const authorizeUrl = (redirect: string, extra: Record<string, string> = {}) =>
    `${ISSUER}/authorize?` + new URLSearchParams({
      response_type: "code",
      client_id: "onboarding",
      redirect_uri: redirect,
      scope: "openid",
      state: "s1",
      ...extra,
    });
  const redeem = (code: string, v: string) =>
    fake.handler(
      new Request(`${ISSUER}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code,
          redirect_uri: "http://app.test/cb",
          code_verifier: v,
          client_id: "onboarding",
          client_secret: "onboarding-client-secret",
        }),
      }),
    );
  await t.step("an unregistered redirect URI gets 400 and no redirect", async () => {
    const res = await fake.handler(new Request(authorizeUrl("http://evil.test/cb")));
    assertEquals(res.status, 400);
    await res.body?.cancel();
  });
  await t.step("authorize without PKCE redirects back with invalid_request", async () => {
    const p = await authorize(fake, authorizeUrl("http://app.test/cb"));
    assertEquals(p.get("error"), "invalid_request");
    assertEquals(p.get("state"), "s1");
  });
  await t.step("a wrong verifier is invalid_grant, and the code is then spent", async () => {
    const challenge = await pkceChallenge(verifier);
    const p = await authorize(
      fake,
      authorizeUrl("http://app.test/cb", {
        code_challenge: challenge,
        code_challenge_method: "S256",
      }),
    );
    const wrong = await redeem(
      p.get("code")!,
      verifier.replace(/^./, (c) => c === "A" ? "B" : "A"),
    );
    assertEquals(wrong.status, 400);
    assertEquals((await wrong.json()).error, "invalid_grant");
    const again = await redeem(p.get("code")!, verifier);
    assertEquals((await again.json()).error, "invalid_grant");
  });
  await t.step("the right verifier gets an ID token and an access token", async () => {
    const p = await authorize(
      fake,
      authorizeUrl("http://app.test/cb", {
        code_challenge: await pkceChallenge(verifier),
        code_challenge_method: "S256",
      }),
    );
    const res = await redeem(p.get("code")!, verifier);
    assertEquals(res.status, 200);
    const body = await res.json();
    assertEquals(body.token_type, "Bearer");
    assertEquals(typeof body.id_token, "string");
  });
});

Deno.test("safeReturnTo() keeps local paths and drops everything else", async (t) => {
  const cases: [string | undefined, string][] = [
    ["/servers?site=dcoa", "/servers?site=dcoa"],
    ["/import#top", "/import#top"],
    [undefined, "/"],
    ["https://evil.example/", "/"],
    ["//evil.example/x", "/"],
    ["/\\evil.example", "/"],
    ["/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"],
    ["/\r\nx", "/"],
    ["javascript:alert(1)", "/"],
    ["/auth/login", "/"],
    // Dot segments that collapse into a protocol-relative URL after parsing.
    ["/.//evil.example", "/"],
    ["/a/..//evil.example/x", "/"],
    ["/%2e//evil.example", "/"],
    ["/servers/./list", "/servers/list"],
  ];
  for (const [input, want] of cases) {
    await t.step(`${JSON.stringify(input)} → ${want}`, () => {
      assertEquals(safeReturnTo(input), want);
    });
  }
});
