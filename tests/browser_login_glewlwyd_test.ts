/**
 * The browser login against an OpenID Provider we did not write: glewlwyd 2.7 (Debian package)
 * on loopback, its own login page and consent screen in headless Chromium, then our callback,
 * group check, session and logout. The simulator version is browser_login_test.ts.
 */
import assert from "node:assert/strict";
import type { BrowserContext } from "playwright-core";
import { loadConfig } from "../lib/domain/config.ts";
import { createSimulatedWorld } from "../sim/world.ts";
import { createApp, createServices } from "../app.ts";
import { chromiumAvailable, launchChromium, phoneContext } from "./browser_harness.ts";
import { glewlwydAvailable, type GlewlwydUser, startGlewlwyd } from "./glewlwyd_harness.ts";

const TESS: GlewlwydUser = {
  username: "tess",
  password: "tess-password-1",
  name: "Tess Tech",
  groups: ["dc-operators"],
};
const VIC: GlewlwydUser = {
  username: "vic",
  password: "vic-password-1",
  name: "Vic Visitor",
  groups: ["visitors"],
};

/** Opens `path` in the app and signs in on glewlwyd's own pages (login, then the scope grant). */
async function signIn(context: BrowserContext, path: string, user: GlewlwydUser) {
  const page = await context.newPage();
  await page.goto(path);
  await page.getByLabel("Login").fill(user.username);
  await page.getByLabel("Password").fill(user.password);
  await page.getByRole("button", { name: "OK" }).click();
  // First login to this client: glewlwyd asks to grant the scopes we request.
  await page.getByLabel("profile").check();
  await page.getByLabel("email").check();
  await page.getByRole("button", { name: "Grant access" }).click();
  await page.getByRole("button", { name: "Continue" }).click();
  return page;
}

Deno.test({
  name: "browser login against glewlwyd: its login page, PKCE code flow, group check, logout",
  ignore: !chromiumAvailable() || !glewlwydAvailable("the glewlwyd browser login test"),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  // The app's URL is known only once it listens, so the handler is filled in afterwards.
  let handle: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response> = () =>
    new Response("starting", { status: 503 });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req, info) => handle(req, info),
  );
  const appUrl = `http://127.0.0.1:${server.addr.port}`;
  const world = createSimulatedWorld();
  const kv = await Deno.openKv(":memory:");
  const browser = await launchChromium();
  try {
    await using idp = await startGlewlwyd({
      redirectUris: [`${appUrl}/auth/callback`],
      users: [TESS, VIC],
    });
    const deps = await createServices({
      config: loadConfig({
        ONBOARDING_OIDC_ISSUER: idp.issuer,
        ONBOARDING_OIDC_CLIENT_ID: idp.clientId,
        ONBOARDING_OIDC_CLIENT_SECRET: idp.clientSecret,
        ONBOARDING_OIDC_REQUIRED_GROUP: "dc-operators",
        ONBOARDING_PUBLIC_URL: appUrl,
      }),
      kv,
      integrations: world.integrations(),
    });
    const app = createApp(deps);
    handle = (req, info) => app.fetch(req, info);

    await t.step("a member of the required group signs in and lands on the page", async () => {
      const context = await phoneContext(browser, appUrl);
      try {
        const page = await signIn(context, "/servers?site=dcoa", TESS);
        await page.waitForURL(`${appUrl}/servers?site=dcoa`, { timeout: 10_000 });
        await page.getByRole("heading", { name: "Servers" }).waitFor({ timeout: 5000 });

        const info = await page.evaluate(async () => await (await fetch("/auth/userinfo")).json());
        assert.equal(info.authenticated, true);
        assert.equal(info.name, "Tess Tech");
        assert.deepEqual(info.groups, ["dc-operators"]);
        assert.equal(typeof info.sub, "string");
        assert.equal(await page.evaluate(async () => (await fetch("/api/v1/servers")).status), 200);

        const out = await page.evaluate(async () => {
          const res = await fetch("/auth/logout", {
            method: "POST",
            headers: { accept: "application/json" },
          });
          const body = await res.json();
          const api = (await fetch("/api/v1/servers")).status;
          return { body, api };
        });
        assert.equal(out.body.logged_out, true);
        // The provider's end_session endpoint, to end the glewlwyd session too.
        assert(out.body.logout_url.startsWith(`${idp.issuer}/end_session?`), out.body.logout_url);
        assert.equal(out.api, 401);
      } finally {
        await context.close();
      }
    });

    await t.step("a user outside the required group gets 403 and no session", async () => {
      const context = await phoneContext(browser, appUrl);
      try {
        const page = await signIn(context, "/servers", VIC);
        await page.waitForURL(`${appUrl}/auth/callback?**`, { timeout: 10_000 });
        await page.getByRole("heading", { name: "Sign-in failed" }).waitFor({ timeout: 5000 });
        assert.match(await page.locator("body").innerText(), /dc-operators/);
        const cookies = await context.cookies(appUrl);
        assert(!cookies.some((c) => c.name === "onboarding_session"));
      } finally {
        await context.close();
      }
    });
  } finally {
    await browser.close();
    await server.shutdown();
    world.close();
    kv.close();
  }
});
