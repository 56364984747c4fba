/** The browser login round trip in headless Chromium: app and OIDC fake on real sockets, port 0. */
import assert from "node:assert/strict";
import { loadConfig } from "../lib/domain/config.ts";
import { serveFakeOidc } from "../sim/oidc.ts";
import { createSimulatedWorld } from "../sim/world.ts";
import { createApp, createServices } from "../app.ts";
import { chromiumAvailable, launchChromium, phoneContext } from "./browser_harness.ts";

Deno.test({
  name:
    "browser login: redirect to the provider, PKCE callback, HttpOnly session, WebSocket, logout",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await using oidc = await serveFakeOidc({
    accessTokenAudience: "onboarding-api",
    user: { sub: "oidc|tech-7", name: "Tess Tech", groups: ["dc-operators"] },
  });
  // The app's URL is known only once it listens, so the handler is filled in afterwards.
  let handle: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response> = () =>
    new Response("starting", { status: 503 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => handle(req, info),
  );
  const appUrl = `http://127.0.0.1:${server.addr.port}`;
  oidc.state.redirectUris = [`${appUrl}/auth/callback`];
  const world = createSimulatedWorld();
  const kv = await Deno.openKv(":memory:");
  const deps = await createServices({
    config: loadConfig({
      ONBOARDING_OIDC_ISSUER: oidc.url,
      ONBOARDING_OIDC_CLIENT_ID: "onboarding",
      ONBOARDING_OIDC_CLIENT_SECRET: "onboarding-client-secret",
      ONBOARDING_OIDC_AUDIENCE: "onboarding-api",
      ONBOARDING_OIDC_REQUIRED_GROUP: "dc-operators",
      ONBOARDING_PUBLIC_URL: appUrl,
    }),
    kv,
    integrations: world.integrations(),
  });
  const app = createApp(deps);
  handle = (req, info) => app.fetch(req, info);
  // A foreign site: "localhost" is another site than "127.0.0.1" for the browser.
  const evil = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () =>
      new Response(
        `<!doctype html><form method="post" action="${appUrl}/api/v1/servers/register">` +
          `<input name="bmc_mac" value="3c:ec:ef:a1:9c:e8"><button>Win a prize</button></form>`,
        { headers: { "content-type": "text/html" } },
      ),
  );
  const browser = await launchChromium();
  try {
    const context = await phoneContext(browser, appUrl);
    const page = await context.newPage();

    await t.step("opening a page signs in through the provider and lands on it", async () => {
      await page.goto("/servers?site=dcoa");
      assert.equal(page.url(), `${appUrl}/servers?site=dcoa`);
      await page.getByRole("heading", { name: "Servers" }).waitFor({ timeout: 5000 });
      assert(oidc.state.requests.includes("GET /authorize"));
      assert(oidc.state.requests.includes("POST /token"));
    });

    await t.step(
      "the session cookie is HttpOnly and SameSite=Lax, invisible to scripts",
      async () => {
        const cookies = await context.cookies(appUrl);
        const session = cookies.find((c) => c.name === "onboarding_session");
        assert(session, "the session cookie is set");
        assert.equal(session.httpOnly, true);
        assert.equal(session.sameSite, "Lax");
        const visible = await page.evaluate(() => document.cookie);
        assert(!visible.includes("onboarding_session"));
      },
    );

    await t.step(
      "the page's own fetches and WebSocket are authenticated by the session",
      async () => {
        const result = await page.evaluate(async () => {
          const info = await (await fetch("/auth/userinfo")).json();
          const api = (await fetch("/api/v1/servers")).status;
          const ws = await new Promise<string>((resolve) => {
            const s = new WebSocket(`ws://${location.host}/api/v1/events`);
            s.onopen = () => {
              s.close();
              resolve("open");
            };
            s.onerror = () => resolve("refused");
          });
          return { info, api, ws };
        });
        assert.deepEqual(result.info, {
          authenticated: true,
          auth_enabled: true,
          sub: "oidc|tech-7",
          name: "Tess Tech",
          groups: ["dc-operators"],
          admin: false,
        });
        assert.equal(result.api, 200);
        assert.equal(result.ws, "open");
      },
    );

    await t.step("a form on another site posting to the API is refused", async () => {
      const other = await context.newPage();
      await other.goto(`http://localhost:${evil.addr.port}/`);
      const [response] = await Promise.all([
        other.waitForResponse((r) => r.url().endsWith("/api/v1/servers/register")),
        other.getByRole("button", { name: "Win a prize" }).click(),
      ]);
      assert([401, 403].includes(response.status()), `got ${response.status()}`);
      assert.equal((await deps.store.list({})).items.length, 0);
      await other.close();
    });

    await t.step("logout ends the session", async () => {
      const out = await page.evaluate(async () => {
        const res = await fetch("/auth/logout", {
          method: "POST",
          headers: { accept: "application/json" },
        });
        const body = await res.json();
        const info = await (await fetch("/auth/userinfo")).json();
        const api = (await fetch("/api/v1/servers")).status;
        return { body, info, api };
      });
      assert.equal(out.body.logged_out, true);
      assert.equal(out.info.authenticated, false);
      assert.equal(out.api, 401);
    });
    await context.close();
  } finally {
    await browser.close();
    await server.shutdown();
    await evil.shutdown();
    world.close();
    kv.close();
  }
});
