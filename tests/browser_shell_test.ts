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

/**
 * Runs in the page before its scripts: records the page's fetches and history writes, and types a
 * character into the scan island's first input in the task after it hydrates (as a keystroke
 * queued then would be), noting when the island answers.
 */
const FIRST_KEYSTROKE = `(() => {
  const log = (globalThis.__firstKey = { calls: [] });
  const fetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    log.calls.push({ what: "fetch " + String(input instanceof Request ? input.url : input), answered: Boolean(log.answered) });
    return fetch(input, init);
  };
  const replace = history.replaceState.bind(history);
  history.replaceState = (...args) => {
    log.calls.push({ what: "replaceState", answered: Boolean(log.answered) });
    return replace(...args);
  };
  new MutationObserver((_, seen) => {
    const island = document.querySelector('[data-island="ScanFlow"][data-hydrated="true"]');
    if (!island) return;
    seen.disconnect();
    setTimeout(() => {
      new MutationObserver((_, o) => { o.disconnect(); log.answered = true; })
        .observe(island, { subtree: true, childList: true, attributes: true, characterData: true });
      const input = island.querySelector("input");
      input.value = "3";
      input.dispatchEvent(new InputEvent("input", { bubbles: true, data: "3", inputType: "insertText" }));
    });
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-hydrated"] });
})();`;

Deno.test({
  name: "a keystroke right after hydration is answered before the scan page's mount work runs",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using served = await serveApp();
  const browser = await launchChromium();
  try {
    const context = await phoneContext(browser, served.url);
    const page = await context.newPage();
    await page.addInitScript(FIRST_KEYSTROKE);
    await page.goto("/");
    type Log = { calls: { what: string; answered: boolean }[]; answered?: boolean };
    const log = () =>
      page.evaluate(() => (globalThis as unknown as { __firstKey: Log }).__firstKey);
    await page.waitForFunction(() =>
      (globalThis as unknown as { __firstKey: Log }).__firstKey.calls.some((c) =>
        c.what.endsWith("/api/v1/reference/sites")
      )
    );
    const { calls, answered } = await log();
    assert(answered, "the island never answered the keystroke");
    // Preact runs pending effects before the keystroke's re-render: the reference reads, the
    // outbox and the history entry must not be among them (they wait for an idle moment).
    assertEquals(calls.filter((c) => !c.answered), []);
    // A fresh history entry is left as it is (its missing step reads as the MAC step).
    assert(!calls.some((c) => c.what === "replaceState"), JSON.stringify(calls));
    await context.close();
  } finally {
    await browser.close();
  }
});
