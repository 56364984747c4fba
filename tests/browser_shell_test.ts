/** The app shell in headless Chromium: navigation, banners, and an island that hydrates. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chromiumAvailable, launchChromium, phoneContext, serveApp } from "./browser_harness.ts";

Deno.test({
  name: "app shell renders navigation and hydrates the scan island",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await using served = await serveApp();
  const browser = await launchChromium();
  try {
    const context = await phoneContext(browser, served.url);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    await t.step("the shell has Scan, Servers, Import and Drift and the auth banner", async () => {
      await page.goto("/");
      const tabs = await page.locator("nav.tabbar a").allInnerTexts();
      assertEquals(tabs.map((s) => s.replace(/\s+/g, " ").trim().split(" ").pop()), [
        "Scan",
        "Servers",
        "Import",
        "Drift",
      ]);
      assert((await page.locator(".banner").innerText()).includes("Authentication is disabled"));
    });

    await t.step("the island reacts to input and to a click after hydration", async () => {
      await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
      await page.getByLabel("BMC MAC", { exact: true }).fill("3CECEFA19CE8");
      const result = page.getByTestId("mac-result");
      await result.filter({ hasText: "3c:ec:ef:a1:9c:e8" }).waitFor({ timeout: 5000 });
      assert((await result.innerText()).includes("Supermicro"));
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByRole("heading", { name: "2 · BMC password" }).waitFor({ timeout: 5000 });
    });

    assertEquals(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});
