/** The Drift page in headless Chromium: clean, then the demo's "make some drift", repaired by clicks. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { chromiumAvailable, launchChromium, phoneContext, serveApp } from "./browser_harness.ts";
import { FULL_ITEM, MINIMAL_ITEM } from "./app_harness.ts";

Deno.test({
  name: "Drift page: counts, findings, one repair button per finding and per kind, demo drift",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using served = await serveApp({ world: true, demo: true, makeDrift: true });
  const res = await served.app.request("/api/v1/servers/import", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify([FULL_ITEM, MINIMAL_ITEM]),
  });
  assertEquals((await res.json()).map((r: { status: string }) => r.status), ["ok", "ok"]);
  const browser = await launchChromium();
  try {
    const page = await (await phoneContext(browser, served.url)).newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto("/drift");
    await page.getByTestId("no-drift").waitFor({ timeout: 10_000 });
    await page.getByTestId("make-drift").click();
    await page.locator("[data-kind=kea_reservation_missing]").waitFor({ timeout: 10_000 });
    assertEquals(await page.locator("[data-system=kubernetes]").innerText(), "2");
    assertEquals(await page.locator("[data-system=kea]").innerText(), "1");
    await page.locator("[data-kind=kea_reservation_missing]").getByRole("button", {
      name: "Repair",
    }).click();
    await page.locator("[data-kind=kea_reservation_missing]").waitFor({
      state: "detached",
      timeout: 10_000,
    });
    for (const kind of ["kubernetes_host_changed", "kubernetes_password_differs"]) {
      await page.locator(`[data-kind=${kind}]`).getByRole("button", { name: "Repair" }).click();
      await page.locator(`[data-kind=${kind}]`).waitFor({ state: "detached", timeout: 10_000 });
    }
    await page.getByTestId("no-drift").waitFor({ timeout: 10_000 });
    assert(!(await page.content()).includes("typed-by-hand"));
    assertEquals(errors, []);
  } finally {
    await browser.close();
  }
});
