/**
 * The PWA as a technician on the floor meets it, at 360×740 and 320×640: every interactive
 * element at least 44×44 CSS px, the step's main button on screen without scrolling, no serious
 * or critical axe-core violation on any page or state; the second server in a rack takes at most
 * 3 taps plus the two scans; a MAC already in use stops at step 1; after a failure Retry comes
 * first. The 360×740 run refreshes the README screenshots of these states.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import axe from "axe-core";
import type { Browser, Page } from "playwright-core";
import {
  chromiumAvailable,
  fakeCameraArgs,
  launchChromium,
  serveApp,
  writeLabelY4m,
} from "./browser_harness.ts";
import { createFakeRedfish } from "../sim/redfish/mod.ts";

const SHOTS = "docs/screenshots";
const FIRST = { mac: "3c:ec:ef:55:00:01", password: "Right-pass-1" };
const SECOND = { mac: "3CECEF550002", password: "SECONDPW22" };
const FOREIGN_MAC = "3c:ec:ef:55:00:99";
/** Interactive elements, as a finger meets them. */
const INTERACTIVE =
  "a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]:not([tabindex='-1'])";

/** Elements smaller than 44×44 CSS px (visible ones only: a closed disclosure hides its own). */
function smallTargets(page: Page): Promise<string[]> {
  return page.evaluate((selector) => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>(selector)) {
      if (!el.getClientRects().length || getComputedStyle(el).visibility === "hidden") continue;
      const r = el.getBoundingClientRect();
      if (r.width < 44 || r.height < 44) {
        const name = el.getAttribute("aria-label") ?? el.textContent?.trim().slice(0, 30) ??
          el.id;
        out.push(
          `${el.tagName.toLowerCase()} "${name}" ${Math.round(r.width)}×${Math.round(r.height)}`,
        );
      }
    }
    return out;
  }, INTERACTIVE);
}

/** True when the button is inside the viewport, not under the tab bar, without scrolling. */
async function onScreen(page: Page, name: string | RegExp): Promise<boolean> {
  const button = page.getByRole("button", { name, exact: typeof name === "string" })
    .or(page.getByRole("link", { name, exact: typeof name === "string" })).first();
  await button.waitFor();
  return await button.evaluate((el) => {
    const r = el.getBoundingClientRect();
    if (r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.right > innerWidth) return false;
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return Boolean(hit && (hit === el || el.contains(hit)));
  });
}

/** Serious and critical axe-core violations, one line each. */
async function axeViolations(page: Page): Promise<string[]> {
  if (!await page.evaluate(() => "axe" in globalThis)) {
    await page.addScriptTag({ content: axe.source });
  }
  return await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any -- axe is injected as a global script
    const result = await (globalThis as any).axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
      .map((v: { id: string; impact: string; nodes: { target: string[] }[] }) =>
        `${v.impact} ${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`
      );
  });
}

/** The three checks on the page as it is now; `primary` is the state's main action. */
async function audit(page: Page, state: string, primary?: string | RegExp) {
  // Let transitions and lazy lists settle.
  await page.waitForTimeout(150);
  assertEquals(await smallTargets(page), [], `${state}: targets under 44×44 CSS px`);
  if (primary) assert(await onScreen(page, primary), `${state}: "${primary}" needs a scroll`);
  assertEquals(await axeViolations(page), [], `${state}: axe-core violations`);
}

async function pick(page: Page, label: string, option: string) {
  const select = page.getByLabel(label, { exact: true });
  await select.locator("option", { hasText: option }).first().waitFor({ state: "attached" });
  await select.selectOption({ label: option });
}

for (const [width, height] of [[360, 740], [320, 640]]) {
  Deno.test({
    name:
      `PWA at ${width}×${height}: 44 px targets, main action on screen, axe clean, second server in ≤ 3 taps`,
    ignore: !chromiumAvailable(),
    sanitizeResources: false,
    sanitizeOps: false,
  }, async (t) => {
    const shots = width === 360;
    const shot = (name: string) =>
      shots ? page.screenshot({ path: `${SHOTS}/${name}.png` }) : Promise.resolve();
    const tmp = await Deno.makeTempDir();
    const y4m = `${tmp}/label.y4m`;
    const painter = await launchChromium();
    try {
      await writeLabelY4m(painter, [
        { text: SECOND.mac, format: "Code128", x: 40, y: 40, scale: 3 },
        { text: SECOND.password, format: "QRCode", x: 240, y: 220, scale: 8 },
      ], y4m);
    } finally {
      await painter.close();
    }
    await using served = await serveApp({ world: true });
    const world = served.world!;
    // The first server's BMC knows another password than the one first typed; both BMCs answer
    // Redfish, so the boot NIC is found without asking.
    world.bmcs.add(
      "10.16.28.11",
      createFakeRedfish({
        username: "ADMIN",
        password: FIRST.password,
        nicMacs: ["0c:c4:7a:55:00:01"],
      }),
    );
    world.bmcs.add(
      "10.16.28.12",
      createFakeRedfish({
        username: "ADMIN",
        password: SECOND.password,
        nicMacs: ["0c:c4:7a:55:00:02"],
      }),
    );
    for (const kea of world.kea) {
      kea.hosts.push({
        "subnet-id": 1,
        "hw-address": FOREIGN_MAC,
        "ip-address": "10.16.28.200",
        hostname: "legacy-box-bmc",
        "next-server": "0.0.0.0",
        "server-hostname": "",
        "boot-file-name": "",
        "client-classes": [],
        "option-data": [],
      });
    }
    const browser: Browser = await launchChromium(fakeCameraArgs(y4m));
    const context = await browser.newContext({
      baseURL: served.url,
      viewport: { width, height },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      colorScheme: "dark",
      permissions: ["camera"],
      // Only so that axe-core can be injected; the app's own CSP is tested elsewhere.
      bypassCSP: true,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      if (
        !await t.step(
          "the first server, typed: every step audited; failure puts Retry first",
          async () => {
            await page.goto("/");
            await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
            await audit(page, "scan: empty", "Open camera");
            assert(await onScreen(page, "Next"), "scan: Next needs a scroll");
            await page.getByLabel("BMC MAC", { exact: true }).fill(FIRST.mac.toUpperCase());
            await page.getByTestId("mac-result").filter({ hasText: FIRST.mac }).waitFor();
            await page.getByRole("button", { name: "Next" }).click();
            await page.getByRole("heading", { name: "2 · BMC password" }).waitFor();
            await page.getByLabel("BMC password", { exact: true }).fill("Wrong-pass-1");
            await page.getByRole("button", { name: "Clear the password" }).click();
            assertEquals(await page.getByLabel("BMC password", { exact: true }).inputValue(), "");
            await page.getByLabel("BMC password", { exact: true }).fill("Wrong-pass-1");
            await page.getByRole("button", { name: "Show" }).click();
            assertEquals(
              await page.getByLabel("BMC password", { exact: true }).getAttribute("type"),
              "text",
            );
            await audit(page, "scan: password", "Next");
            await page.getByRole("button", { name: "Next" }).click();
            await page.getByRole("heading", { name: "3 · Location" }).waitFor();
            await pick(page, "Site", "DCOA");
            await pick(page, "Location", "Hall A");
            await pick(page, "Rack", "RB06");
            await pick(page, "Device type", "SYS-1029U-TRT");
            // Until the role is chosen, the disabled Go says what is missing.
            await page.getByTestId("go-missing").filter({ hasText: "Missing: role" }).waitFor();
            await pick(page, "Role", "Server");
            await pick(page, "BMC prefix", "10.16.28.0/24");
            await page.getByLabel("U position").fill("12");
            await page.locator("[data-u='12'][data-state=target]").waitFor();
            await audit(page, "scan: location", "Go");
            await page.getByRole("button", { name: "Go" }).click();
            await page.getByTestId("reg-status").filter({ hasText: /^failed$/ }).waitFor({
              timeout: 30_000,
            });
            const firstButton = await page.locator("section.card button").first().innerText();
            assertEquals(firstButton, "Retry");
            assert(await page.getByLabel("BMC password (empty: keep the stored one)").isVisible());
            await audit(page, "go: failed", "Retry");
            await shot("4-go-retry");
            await page.getByLabel("BMC password (empty: keep the stored one)").fill(FIRST.password);
            await page.getByRole("button", { name: "Retry" }).click();
            await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({
              timeout: 30_000,
            });
            await page.locator("[data-step=kea]").filter({
              hasText: "Reserved 10.16.28.11 on both DHCP servers",
            }).waitFor();
            await audit(page, "go: ok", "Next server");
            await page.getByText("Details", { exact: true }).click();
            await audit(page, "go: details open");
            await shot("4-go");
          },
        )
      ) return;

      if (
        !await t.step("a MAC already in use stops at step 1, naming who holds it", async () => {
          await page.getByRole("button", { name: "Next server" }).click();
          await page.getByLabel("BMC MAC", { exact: true }).fill(FIRST.mac.replaceAll(":", "-"));
          await page.getByTestId("mac-owner").filter({ hasText: "dcoa-rb06u12" }).waitFor();
          assertEquals(await page.getByRole("button", { name: "Next" }).count(), 0);
          assert(await page.getByRole("link", { name: "Open dcoa-rb06u12" }).isVisible());
          await audit(page, "scan: MAC registered", "Rescan");
          await shot("1-scan-mac-in-use");
          await page.getByLabel("BMC MAC", { exact: true }).fill(FOREIGN_MAC);
          await page.getByTestId("mac-owner").filter({ hasText: "legacy-box-bmc" }).waitFor();
          assertEquals(await page.getByRole("button", { name: "Next" }).count(), 0);
          await page.getByRole("button", { name: "Rescan" }).click();
          assertEquals(await page.getByLabel("BMC MAC", { exact: true }).inputValue(), "");
        })
      ) return;

      if (
        !await t.step("the second server in the rack: 3 taps at most plus two scans", async () => {
          await page.goto("/");
          await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
          let taps = 0;
          const tap = async (name: string) => {
            taps++;
            await page.getByRole("button", { name, exact: true }).click();
          };
          // The remembered rack and the unit above the last one are on the first screen.
          await page.getByTestId("where").filter({ hasText: "DCOA · Hall A · RB06 · U13" })
            .waitFor();
          await shot("1-scan-mac");
          await tap("Open camera");
          await page.getByRole("heading", { name: "3 · Location" }).waitFor({ timeout: 20_000 });
          await page.getByTestId("name-preview").filter({ hasText: "dcoa-rb06u13" }).waitFor();
          await shot("3-location");
          await tap("Go");
          await page.getByRole("heading", { name: "4 · dcoa-rb06u13" }).waitFor();
          await page.getByTestId("reg-status").filter({ hasText: /^(running|ok)$/ }).waitFor({
            timeout: 30_000,
          });
          assert(taps <= 3, `${taps} taps`);
          // "Scanned the BMC password" belonged to the location step: gone now.
          assertEquals(await page.getByTestId("notice").count(), 0);
          await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({
            timeout: 30_000,
          });
        })
      ) return;

      if (
        !await t.step("servers, detail, import: audited", async () => {
          await page.goto("/servers");
          await page.locator("[data-testid=server-list] li", { hasText: "dcoa-rb06u13" }).waitFor();
          await audit(page, "servers");
          await page.getByRole("link", { name: /dcoa-rb06u12/ }).click();
          await page.getByTestId("detail-status").filter({ hasText: "ok" }).waitFor();
          await page.getByRole("heading", { name: "Audit" }).waitFor();
          await audit(page, "detail");
          await shot("6-server-detail");
          await page.getByRole("button", { name: "Decommission…" }).click();
          await audit(page, "detail: confirm decommission", "Cancel");
          await page.getByRole("button", { name: "Cancel" }).click();
          await page.goto("/import");
          await page.waitForSelector("[data-island=ImportPanel][data-hydrated=true]");
          await audit(page, "import");
          await page.getByLabel("or paste JSON").fill(JSON.stringify([
            {
              device_name: "dcoa-rb07u30",
              bmc_mac: FOREIGN_MAC,
              bmc_password: "x",
              bmc_ip: "10.16.28.150",
            },
            { device_name: "Bad Name", bmc_mac: "01:00:5e:00:00:01", bmc_password: "" },
          ]));
          await page.getByRole("button", { name: "Preview" }).click();
          await page.locator("tr[data-valid=false]").first().waitFor();
          await audit(page, "import: preview");
        })
      ) return;
      assertEquals(errors, []);
    } finally {
      await context.close();
      await browser.close();
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

Deno.test({
  name: "PWA: a password label scanned for the MAC says which label to scan",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const tmp = await Deno.makeTempDir();
  const y4m = `${tmp}/label.y4m`;
  const painter = await launchChromium();
  try {
    await writeLabelY4m(painter, [
      { text: "ONLYPASS99", format: "QRCode", x: 240, y: 160, scale: 8 },
    ], y4m);
  } finally {
    await painter.close();
  }
  await using served = await serveApp({ world: true });
  const browser = await launchChromium(fakeCameraArgs(y4m));
  try {
    const page = await browser.newPage({ viewport: { width: 360, height: 740 } });
    await page.goto(`${served.url}/`);
    await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
    await page.getByRole("button", { name: "Open camera" }).click();
    await page.getByTestId("notice").filter({
      hasText: "That is the password label; scan the MAC label.",
    }).waitFor({ timeout: 20_000 });
    assertEquals(await page.getByLabel("BMC MAC", { exact: true }).inputValue(), "");
  } finally {
    await browser.close();
    await Deno.remove(tmp, { recursive: true });
  }
});
