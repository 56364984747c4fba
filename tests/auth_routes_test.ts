/**
 * The app with OIDC on, against the OIDC fake and the simulated world: every route and WebSocket
 * without credentials, bearer tokens, the login round trip over HTTP, cookies, CSRF and audit.
 */
import assert from "node:assert/strict";
import { createAuth } from "../lib/integrations/oidc.ts";
import { loadConfig } from "../lib/domain/config.ts";
import { asFetch } from "../sim/faults.ts";
import { createFakeOidc, type FakeOidc, serveFakeOidc } from "../sim/oidc.ts";
import { createSimulatedWorld, type SimWorld } from "../sim/world.ts";
import { type AppDeps, createApp, createServices } from "../app.ts";
import { isOpenPath } from "../routes/auth.ts";

const ISSUER = "http://oidc.sim";
const APP = "http://app.test";
const OPERATOR = ["dc-operators"];

const BASE_ENV: Record<string, string> = {
  ONBOARDING_OIDC_ISSUER: ISSUER,
  ONBOARDING_OIDC_CLIENT_ID: "onboarding",
  ONBOARDING_OIDC_CLIENT_SECRET: "onboarding-client-secret",
  ONBOARDING_OIDC_AUDIENCE: "onboarding-api",
  ONBOARDING_OIDC_REQUIRED_GROUP: "dc-operators",
  ONBOARDING_OIDC_ADMIN_GROUP: "dc-admins",
  ONBOARDING_PUBLIC_URL: APP,
  ONBOARDING_BMC_PREFIX: "10.16.28.0/24",
};

interface Setup extends AsyncDisposable {
  fake: FakeOidc;
  deps: AppDeps;
  app: ReturnType<typeof createApp>;
  world: SimWorld;
}

async function setup(
  options: { env?: Record<string, string>; worker?: boolean; fake?: FakeOidc } = {},
): Promise<Setup> {
  const fake = options.fake ?? await createFakeOidc({
    issuer: ISSUER,
    accessTokenAudience: "onboarding-api",
    redirectUris: [`${APP}/auth/callback`],
  });
  const config = loadConfig({ ...BASE_ENV, ...options.env });
  const world = createSimulatedWorld({ autoBmcs: true });
  const integrations = world.integrations({
    timeoutMs: 1000,
    retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
  });
  const kv = await Deno.openKv(":memory:");
  const deps = await createServices({ config, kv, integrations });
  if (deps.authEnabled) {
    deps.auth = createAuth({ config, kv, fetch: asFetch(fake.handler) }) ?? undefined;
  }
  if (options.worker) await deps.engine.startWorker();
  const app = createApp(deps);
  return {
    fake,
    deps,
    app,
    world,
    async [Symbol.asyncDispose]() {
      await deps.engine.close();
      world.close();
      await integrations.kea?.close();
      kv.close();
    },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** `name=value` pairs of a response's Set-Cookie headers, with the full header lines. */
function cookiesOf(res: Response): Map<string, { value: string; line: string }> {
  const out = new Map<string, { value: string; line: string }>();
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const i = pair.indexOf("=");
    out.set(pair.slice(0, i), { value: pair.slice(i + 1), line });
  }
  return out;
}

/** Walks the login over HTTP like a browser would; returns the session cookie header. */
async function login(
  s: Setup,
  returnTo = "/servers",
): Promise<{ cookie: string; location: string; setCookie: string }> {
  const start = await s.app.request(`/auth/login?return_to=${encodeURIComponent(returnTo)}`);
  assert.equal(start.status, 302);
  const binding = [...cookiesOf(start)].find(([n]) => n.endsWith("onboarding_login"))!;
  const idp = await s.fake.handler(new Request(start.headers.get("location")!));
  assert.equal(idp.status, 302);
  const callback = new URL(idp.headers.get("location")!);
  assert.equal(callback.origin, APP);
  const done = await s.app.request(callback.pathname + callback.search, {
    headers: { cookie: `${binding[0]}=${binding[1].value}` },
  });
  assert.equal(done.status, 302, await done.clone().text());
  const session = [...cookiesOf(done)].find(([n]) => n.endsWith("onboarding_session"))!;
  return {
    cookie: `${session[0]}=${session[1].value}`,
    location: done.headers.get("location")!,
    setCookie: session[1].line,
  };
}

Deno.test("createApp() with OIDC refuses every route and WebSocket without credentials, except the open ones", async (t) => {
  await using s = await setup();
  const seen = new Set<string>();
  const routes = s.app.routes.filter((r) => r.method !== "ALL");
  assert(routes.length > 20, "the app's route table should be enumerable");
  const wsPaths = ["/api/v1/servers/import/ws", "/api/v1/events"];
  for (const ws of wsPaths) {
    assert(routes.some((r) => r.path === ws), `${ws} should be a route`);
  }
  for (const route of routes) {
    const path = route.path.replace(/:[^/]+/g, "x1").replace(/\*/g, "x1");
    const key = `${route.method} ${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    await t.step(key, async () => {
      const res = await s.app.request(path, {
        method: route.method,
        headers: { "content-type": "application/json" },
        body: route.method === "GET" || route.method === "HEAD" ? undefined : "{}",
      });
      await res.body?.cancel();
      if (isOpenPath(path)) {
        assert.notEqual(res.status, 401, `${key} is documented as open`);
        assert(!res.headers.get("location")?.startsWith("/auth/login?"), `${key} is open`);
      } else if (!path.startsWith("/api/") && route.method === "GET") {
        assert.equal(res.status, 302, `${key}: a page redirects to login`);
        assert.equal(
          res.headers.get("location"),
          `/auth/login?return_to=${encodeURIComponent(path)}`,
        );
      } else {
        assert.equal(res.status, 401, `${key} must need credentials`);
        assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer/);
      }
    });
    if (route.method === "GET" && !isOpenPath(path)) {
      await t.step(`${key} (WebSocket handshake)`, async () => {
        const res = await s.app.request(path, {
          headers: {
            upgrade: "websocket",
            connection: "Upgrade",
            "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
            "sec-websocket-version": "13",
          },
        });
        await res.body?.cancel();
        assert.equal(res.status, 401, `${key}: an unauthenticated handshake is refused`);
      });
    }
  }
  await t.step("the open paths are exactly the documented ones", () => {
    const open = [...seen].map((k) => k.split(" ")[1]).filter(isOpenPath);
    for (const p of open) {
      assert.match(
        p,
        /^\/(healthz|readyz|metrics|manifest\.webmanifest|sw\.js|auth\/.*|static\/.*)$/,
      );
    }
  });
});

Deno.test("Bearer tokens: valid, refused (401) and without the group (403) over HTTP", async (t) => {
  await using s = await setup();
  const get = (headers: Record<string, string>) =>
    Promise.resolve(s.app.request("/api/v1/servers", { headers })).then(async (r: Response) => ({
      status: r.status,
      body: await r.json(),
      challenge: r.headers.get("www-authenticate"),
    }));
  await t.step("a valid access token reads the API", async () => {
    const r = await get(bearer(await s.fake.mintToken({ groups: OPERATOR })));
    assert.equal(r.status, 200);
  });
  await t.step("an expired token is 401 with a Bearer challenge", async () => {
    const r = await get(bearer(await s.fake.mintToken({ groups: OPERATOR }, { expiresIn: -300 })));
    assert.equal(r.status, 401);
    assert.equal(r.body.error.code, "unauthorized");
    assert.match(r.challenge!, /^Bearer/);
  });
  await t.step("an ID token (audience = client id, not the API) is 401", async () => {
    const r = await get(bearer(await s.fake.mintToken({ groups: OPERATOR }, { audience: "x" })));
    assert.equal(r.status, 401);
  });
  await t.step(
    "a non-Bearer Authorization header is 401, not a fallback to the cookie",
    async () => {
      const r = await get({ authorization: "Basic dXNlcjpwYXNz" });
      assert.equal(r.status, 401);
    },
  );
  await t.step("a valid token without the required group is 403", async () => {
    const r = await get(bearer(await s.fake.mintToken({ groups: ["visitors"] })));
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /dc-operators/);
  });
  await t.step("/auth/userinfo reports a bearer user with admin from the admin group", async () => {
    const res = await s.app.request("/auth/userinfo", {
      headers: bearer(await s.fake.mintToken({ name: "Ada", groups: [...OPERATOR, "dc-admins"] })),
    });
    assert.deepEqual(await res.json(), {
      authenticated: true,
      auth_enabled: true,
      sub: "operator-1",
      name: "Ada",
      groups: ["dc-operators", "dc-admins"],
      admin: true,
    });
    assert.equal(res.headers.get("cache-control"), "no-store");
  });
});

Deno.test("Browser login over HTTP: redirect, code + PKCE, session cookie, logout", async (t) => {
  await using s = await setup();
  let session = "";
  await t.step("an unauthenticated page redirects to login with return_to", async () => {
    const res = await s.app.request("/servers?site=dcoa", { headers: { accept: "text/html" } });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/auth/login?return_to=%2Fservers%3Fsite%3Ddcoa");
  });
  await t.step(
    "login → provider → callback sets an HttpOnly SameSite=Lax session cookie",
    async () => {
      const r = await login(s, "/servers?site=dcoa");
      assert.equal(r.location, "/servers?site=dcoa");
      assert.match(r.setCookie, /HttpOnly/);
      assert.match(r.setCookie, /SameSite=Lax/);
      assert.match(r.setCookie, /Path=\//);
      assert.doesNotMatch(r.setCookie, /Secure/, "http PUBLIC_URL: no Secure flag");
      session = r.cookie;
    },
  );
  await t.step("the session authenticates pages, the API and /auth/userinfo", async () => {
    const page = await s.app.request("/servers", { headers: { cookie: session } });
    assert.equal(page.status, 200);
    await page.body?.cancel();
    const api = await s.app.request("/api/v1/servers", { headers: { cookie: session } });
    assert.equal(api.status, 200);
    await api.body?.cancel();
    const info = await (await s.app.request("/auth/userinfo", { headers: { cookie: session } }))
      .json();
    assert.equal(info.authenticated, true);
    assert.equal(info.sub, "operator-1");
  });
  await t.step("a login to a foreign return_to lands on /", async () => {
    const r = await login(s, "//evil.example/phish");
    assert.equal(r.location, "/");
  });
  await t.step("a provider error renders a page, not a session", async () => {
    const res = await s.app.request("/auth/callback?error=access_denied&state=x");
    assert.equal(res.status, 403);
    assert.match(await res.text(), /Sign-in failed/);
    assert(![...cookiesOf(res).keys()].includes("onboarding_session"));
  });
  await t.step("a forged callback without the login cookie is refused", async () => {
    const start = await s.app.request("/auth/login");
    const idp = await s.fake.handler(new Request(start.headers.get("location")!));
    const cb = new URL(idp.headers.get("location")!);
    const res = await s.app.request(cb.pathname + cb.search);
    assert.equal(res.status, 400);
    await res.body?.cancel();
  });
  await t.step("logout deletes the session; the old cookie no longer works", async () => {
    const res = await s.app.request("/auth/logout", {
      method: "POST",
      headers: { cookie: session, "sec-fetch-site": "same-origin", accept: "application/json" },
    });
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.logged_out, true);
    assert.match(body.logout_url, /^http:\/\/oidc\.sim\/logout\?client_id=onboarding/);
    assert.match(res.headers.getSetCookie().join(), /onboarding_session=;/);
    const api = await s.app.request("/api/v1/servers", { headers: { cookie: session } });
    assert.equal(api.status, 401);
    await api.body?.cancel();
    const info = await (await s.app.request("/auth/userinfo", { headers: { cookie: session } }))
      .json();
    assert.equal(info.authenticated, false);
  });
});

Deno.test("Cookies and headers behind https: __Host- Secure cookie and HSTS", async () => {
  const fake = await createFakeOidc({
    issuer: ISSUER,
    accessTokenAudience: "onboarding-api",
    redirectUris: ["https://onboarding.example/auth/callback"],
  });
  await using s = await setup({
    env: { ONBOARDING_PUBLIC_URL: "https://onboarding.example" },
    fake,
  });
  const start = await s.app.request("/auth/login");
  const [name, c] = [...cookiesOf(start)][0];
  assert.equal(name, "__Host-onboarding_login");
  assert.match(c.line, /Secure/);
  const authorizeUrl = new URL(start.headers.get("location")!);
  assert.equal(
    authorizeUrl.searchParams.get("redirect_uri"),
    "https://onboarding.example/auth/callback",
  );
  const idp = await fake.handler(new Request(authorizeUrl));
  const cb = new URL(idp.headers.get("location")!);
  const done = await s.app.request(cb.pathname + cb.search, {
    headers: { cookie: `${name}=${c.value}` },
  });
  const session = cookiesOf(done).get("__Host-onboarding_session");
  assert(session, "the session cookie has the __Host- prefix");
  assert.match(session.line, /Secure/);
  assert.match(session.line, /HttpOnly/);
  assert.match(done.headers.get("strict-transport-security") ?? "", /max-age=31536000/);
});

Deno.test("CSRF: cookie-authenticated cross-site writes and WebSocket handshakes are refused", async (t) => {
  await using s = await setup();
  const { cookie } = await login(s);
  const registrations = async () => (await s.deps.store.list({})).items.length;
  const post = (headers: Record<string, string>, body = "bmc_mac=3c:ec:ef:a1:9c:e8") =>
    s.app.request("/api/v1/servers/register", { method: "POST", headers, body });

  await t.step(
    "a cross-site form POST with the session cookie is 403 and registers nothing",
    async () => {
      const res = await post({
        cookie,
        "content-type": "application/x-www-form-urlencoded",
        origin: "http://evil.example",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "navigate",
      });
      assert.equal(res.status, 403);
      assert.match((await res.json()).error.message, /Cross-site/);
      assert.equal(await registrations(), 0);
    },
  );
  await t.step("same-site (a sibling host) is refused too", async () => {
    const res = await post({ cookie, "sec-fetch-site": "same-site", "content-type": "text/plain" });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("an old browser's foreign Origin, or Origin null, is refused", async () => {
    for (const origin of ["http://evil.example", "null"]) {
      const res = await post({ cookie, origin, "content-type": "text/plain" });
      assert.equal(res.status, 403, origin);
      await res.body?.cancel();
    }
  });
  await t.step("a cookie without any browser origin header is refused", async () => {
    const res = await post({ cookie, "content-type": "application/json" }, "{}");
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("a cross-site logout does not end the session", async () => {
    const res = await s.app.request("/auth/logout", {
      method: "POST",
      headers: { cookie, "sec-fetch-site": "cross-site", origin: "http://evil.example" },
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
    const api = await s.app.request("/api/v1/servers", { headers: { cookie } });
    assert.equal(api.status, 200);
    await api.body?.cancel();
  });
  await t.step("a cross-site WebSocket handshake with the cookie is refused", async () => {
    const res = await s.app.request("/api/v1/events", {
      headers: {
        cookie,
        upgrade: "websocket",
        connection: "Upgrade",
        origin: "http://evil.example",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-version": "13",
      },
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("the app's own same-origin request passes the check", async () => {
    for (
      const headers of [
        { "sec-fetch-site": "same-origin" } as Record<string, string>,
        { origin: APP },
      ]
    ) {
      const res = await post({ cookie, "content-type": "application/json", ...headers }, "{}");
      assert.equal(res.status, 400, JSON.stringify(headers)); // reaches validation
      await res.body?.cancel();
    }
  });
  await t.step("a bearer request is not subject to the origin check", async () => {
    const res = await post({
      ...bearer(await s.fake.mintToken({ groups: OPERATOR })),
      "content-type": "application/json",
      origin: "http://elsewhere.example",
    }, "{}");
    assert.equal(res.status, 400);
    await res.body?.cancel();
  });
});

Deno.test("Audit and authorisation: the OIDC subject is recorded; force decommission needs admin", async (t) => {
  await using s = await setup({ worker: true });
  const operator = bearer(await s.fake.mintToken({ sub: "oidc|ops-42", groups: OPERATOR }));
  let id = "";
  await t.step("a register call is audited under the token's subject", async () => {
    const res = await s.app.request("/api/v1/servers/register?wait=20", {
      method: "POST",
      headers: { ...operator, "content-type": "application/json" },
      body: JSON.stringify({
        bmc_mac: "3C:EC:EF:A1:9C:E8",
        bmc_password: "S3cr3t!pass-31",
        site: "dcoa",
        location: "hall-a",
        rack: "RB06",
        position: 31,
        device_type: "sys-1029u",
        device_role: "server",
      }),
    });
    const body = await res.json();
    assert(res.status === 201 || res.status === 202, JSON.stringify(body));
    id = body.id;
    const detail = await (await s.app.request(`/api/v1/servers/${id}`, { headers: operator }))
      .json();
    assert(detail.audit.length > 0);
    assert(detail.audit.every((a: { actor: string }) => a.actor === "oidc|ops-42"));
  });
  await t.step("DELETE ?force=true without the admin group is 403", async () => {
    const res = await s.app.request(`/api/v1/servers/${id}?force=true`, {
      method: "DELETE",
      headers: operator,
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
  await t.step("rotate-credentials without the admin group is 403", async () => {
    const res = await s.app.request(`/api/v1/servers/${id}/rotate-credentials`, {
      method: "POST",
      headers: operator,
    });
    assert.equal(res.status, 403);
    await res.body?.cancel();
    assert(!(await s.deps.store.mustGet(id)).rotation, "nothing was attempted");
  });
  await t.step("an admin may force, and is audited by subject", async () => {
    const admin = bearer(
      await s.fake.mintToken({ sub: "oidc|admin-1", groups: [...OPERATOR, "dc-admins"] }),
    );
    const res = await s.app.request(`/api/v1/servers/${id}?force=true`, {
      method: "DELETE",
      headers: admin,
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
    const trail = await s.deps.store.auditTrail(id);
    assert(trail.some((a) => a.actor === "oidc|admin-1"));
  });
});

Deno.test("Login rate limit and auth-disabled mode", async (t) => {
  await t.step("more than 20 logins a minute from one address get 429", async () => {
    await using s = await setup();
    const statuses: number[] = [];
    // The address is the socket peer: X-Forwarded-For counts only from trusted proxies.
    const from = (hostname: string) => ({
      remoteAddr: { hostname, port: 40000, transport: "tcp" },
    });
    for (let i = 0; i < 21; i++) {
      const res = await s.app.request("/auth/login", {}, from("192.0.2.7"));
      statuses.push(res.status);
      await res.body?.cancel();
    }
    assert.deepEqual(statuses.slice(0, 20), Array(20).fill(302));
    assert.equal(statuses[20], 429);
    const other = await s.app.request("/auth/login", {}, from("192.0.2.8"));
    assert.equal(other.status, 302, "another address is not affected");
    await other.body?.cancel();
  });
  await t.step("with OIDC_ISSUER empty the API is open, audited as anonymous", async () => {
    await using s = await setup({ env: { ONBOARDING_OIDC_ISSUER: "" } });
    const info = await (await s.app.request("/auth/userinfo")).json();
    assert.deepEqual(info, { authenticated: false, auth_enabled: false });
    const api = await s.app.request("/api/v1/servers");
    assert.equal(api.status, 200);
    await api.body?.cancel();
    const cross = await s.app.request("/api/v1/servers/register", {
      method: "POST",
      headers: { "content-type": "text/plain", "sec-fetch-site": "cross-site" },
      body: "{}",
    });
    assert.equal(cross.status, 403, "cross-site writes are refused even without auth");
    await cross.body?.cancel();
  });
});

Deno.test("WebSockets over a real socket: handshake refused without credentials, accepted with a token", async () => {
  await using fake = await serveFakeOidc({ accessTokenAudience: "onboarding-api" });
  const config = loadConfig({ ...BASE_ENV, ONBOARDING_OIDC_ISSUER: fake.url });
  const world = createSimulatedWorld();
  const kv = await Deno.openKv(":memory:");
  const deps = await createServices({ config, kv, integrations: world.integrations() });
  const app = createApp(deps);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  try {
    const url = `ws://127.0.0.1:${server.addr.port}/api/v1/events`;
    const outcome = (headers?: Record<string, string>) =>
      new Promise<string>((resolve) => {
        // Deno's WebSocket accepts headers, like the import CLI uses.
        const ws = new (WebSocket as unknown as new (
          url: string,
          o?: { headers?: Record<string, string> },
        ) => WebSocket)(url, headers ? { headers } : undefined);
        ws.onopen = () => {
          ws.close();
          resolve("open");
        };
        ws.onerror = () => resolve("refused");
      });
    assert.equal(await outcome(), "refused");
    assert.equal(await outcome(bearer("junk.token.here")), "refused");
    const token = await fake.mintToken({ groups: OPERATOR });
    assert.equal(await outcome(bearer(token)), "open");
  } finally {
    await server.shutdown();
    world.close();
    kv.close();
  }
});
