/**
 * The PWA end to end in headless Chromium with a fake camera showing a generated label (Code 128
 * MAC, QR password), against the real app on the simulated datacenter: scan → location → Go →
 * every step done; the offline outbox sent exactly once; screenshots of the screens that
 * tests/browser_field_test.ts does not take, at 360×740.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { Page } from "playwright-core";
import {
  barcodePng,
  builtScanner,
  chromiumAvailable,
  fakeCameraArgs,
  launchChromium,
  phoneContext,
  serveApp,
  writeLabelY4m,
} from "./browser_harness.ts";
import { createFakeRedfish } from "../sim/redfish/mod.ts";

const MAC = "3CECEF123456";
const PASSWORD = "RXYFTZXRQY";
const SHOTS = "docs/screenshots";

async function shot(page: Page, name: string) {
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: false });
}

/** Fills the location step for rack RB06 at `position` with a 1U Supermicro. */
async function fillLocation(page: Page, position: string) {
  await page.getByRole("heading", { name: "3 · Location" }).waitFor();
  const pick = async (label: string, option: string) => {
    const select = page.getByLabel(label, { exact: true });
    await select.locator("option", { hasText: option }).first().waitFor({ state: "attached" });
    await select.selectOption({ label: option });
  };
  await pick("Site", "DCOA");
  await pick("Location", "Hall A");
  await pick("Rack", "RB06");
  await pick("Device type", "SYS-1029U-TRT");
  await pick("Role", "Server");
  await pick("BMC prefix", "10.16.28.0/24");
  await page.getByLabel("U position").fill(position);
}

Deno.test({
  name: "PWA: scan → location → Go registers a server; offline registrations are sent once",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async (t) => {
  await Deno.mkdir(SHOTS, { recursive: true });
  const tmp = await Deno.makeTempDir();
  const y4m = `${tmp}/label.y4m`;
  const painter = await launchChromium();
  try {
    await writeLabelY4m(painter, [
      { text: MAC, format: "Code128", x: 40, y: 40, scale: 3 },
      { text: PASSWORD, format: "QRCode", x: 240, y: 220, scale: 8 },
    ], y4m);
  } finally {
    await painter.close();
  }

  await using served = await serveApp({ world: true });
  const browser = await launchChromium(fakeCameraArgs(y4m));
  try {
    const context = await phoneContext(browser, served.url);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    const requested: string[] = [];
    page.on("request", (r) => requested.push(r.url()));
    await t.step("the scan page loads no decoder until the camera opens", async () => {
      await page.goto("/");
      await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
      assert(!requested.some((u) => u.endsWith(".wasm")), "wasm fetched before the camera opened");
    });

    await t.step("the camera reads the Code 128 MAC; the QR beside it is ignored", async () => {
      await page.getByRole("button", { name: "Open camera" }).click();
      // The camera stays open on step 2 and may read the password at once: either step will do.
      await page.getByRole("heading", { name: /^(2 · BMC password|3 · Location)$/ }).first()
        .waitFor({ timeout: 20_000 });
      assert(
        requested.some((u) => /\/static\/build\/zxing_reader-[0-9A-F]+\.wasm$/.test(u)),
        "the decoder did not load our self-hosted wasm",
      );
    });

    await t.step("the camera stays open, reads the QR password, closes and moves on", async () => {
      // The MAC barcode beside the QR is the one already scanned: ignored, no "wrong label".
      await page.getByRole("heading", { name: "3 · Location" }).waitFor({ timeout: 20_000 });
      assertEquals(await page.locator("video").count(), 0);
      await page.getByTestId("notice").filter({ hasText: "Scanned the BMC password" }).waitFor();
      await page.getByRole("button", { name: "Back" }).click();
      assertEquals(await page.getByLabel("BMC password", { exact: true }).inputValue(), PASSWORD);
      // The MAC read in step 1, normalised, with its vendor.
      await page.locator(".hint", { hasText: "3c:ec:ef:12:34:56" }).filter({
        hasText: "Supermicro",
      })
        .waitFor();
      await page.getByLabel("Boot NIC MAC (optional)").fill("3c:ec:ef:12:34:99");
      await shot(page, "2-scan-password");
      await page.getByRole("button", { name: "Next" }).click();
    });

    await t.step("an occupied unit is refused before Go", async () => {
      await fillLocation(page, "3");
      await page.getByRole("alert").filter({ hasText: "occupied by dcoa-rb06u3" }).waitFor();
      assert(await page.getByRole("button", { name: "Go" }).isDisabled());
      assert((await page.locator("[data-state=conflict]").count()) === 1);
    });

    await t.step("a free unit is highlighted and the name previewed", async () => {
      await page.getByLabel("U position").fill("12");
      await page.getByTestId("name-preview").filter({ hasText: "dcoa-rb06u12" }).waitFor();
      await page.locator("[data-u='12'][data-state=target]").waitFor();
      assert(await page.getByRole("button", { name: "Go" }).isEnabled());
    });

    await t.step("Go shows every step done over the events WebSocket", async () => {
      await page.getByRole("button", { name: "Go" }).click();
      await Promise.race([
        page.getByRole("heading", { name: "4 · dcoa-rb06u12" }).waitFor(),
        page.getByTestId("go-error").waitFor().then(async () => {
          throw new Error(`Go failed: ${await page.getByTestId("go-error").innerText()}`);
        }),
      ]);
      await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({ timeout: 30_000 });
      const statuses = await page.locator("[data-step]").evaluateAll((els) =>
        els.map((e) => `${e.getAttribute("data-step")}=${e.getAttribute("data-status")}`)
      );
      assertEquals(statuses, ["netbox=done", "openbao=done", "kea=done", "metal3=done"]);
    });

    await t.step("the service worker precached the shell and the decoder", async () => {
      const cached = await page.evaluate(async () => {
        // `ready` never settles when the install failed (e.g. static/build was rebuilt meanwhile
        // and a precached file is gone): fail the step instead of hanging the run.
        await Promise.race([
          navigator.serviceWorker.ready,
          new Promise((_, fail) =>
            setTimeout(() => fail(new Error("no active service worker after 20 s")), 20_000)
          ),
        ]);
        const keys = await caches.keys();
        const urls: string[] = [];
        for (const k of keys) {
          for (const r of await (await caches.open(k)).keys()) urls.push(new URL(r.url).pathname);
        }
        return urls;
      });
      assert(cached.includes("/"), "the app shell is not cached");
      assert(cached.some((u) => /zxing_reader-.*\.wasm$/.test(u)), "the decoder is not cached");
    });

    await t.step("the servers list and detail show the registration", async () => {
      await page.getByRole("link", { name: "Servers" }).click();
      await page.locator("[data-testid=server-list] li", { hasText: "dcoa-rb06u12" }).waitFor();
      await shot(page, "5-servers");
      await page.getByRole("link", { name: /dcoa-rb06u12/ }).click();
      await page.getByTestId("detail-status").filter({ hasText: "ok" }).waitFor();
      await page.getByRole("heading", { name: "Audit" }).waitFor();
    });

    await t.step("offline: the registration is queued, then sent exactly once", async () => {
      await page.goto("/");
      await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
      await page.getByLabel("BMC MAC", { exact: true }).fill("3c:ec:ef:12:34:57");
      await page.getByRole("button", { name: "Next" }).click();
      await page.getByLabel("BMC password", { exact: true }).fill("OFFLINEPW1");
      await page.getByLabel("Boot NIC MAC (optional)").fill("3c:ec:ef:12:34:98");
      await page.getByRole("button", { name: "Next" }).click();
      await fillLocation(page, "14");
      await page.getByTestId("name-preview").filter({ hasText: "dcoa-rb06u14" }).waitFor();
      await context.setOffline(true);
      await page.getByRole("button", { name: "Go" }).click();
      const outbox = page.getByTestId("outbox");
      await outbox.filter({ hasText: "dcoa-rb06u14" }).waitFor();
      assert((await outbox.innerText()).includes("queued"));
      const stored = await page.evaluate(() =>
        new Promise<string>((resolve) => {
          const req = indexedDB.open("onboarding");
          req.onsuccess = () => {
            const all = req.result.transaction("outbox").objectStore("outbox").getAll();
            all.onsuccess = () => resolve(JSON.stringify(all.result));
          };
        })
      );
      assert(!stored.includes("OFFLINEPW1"), "the queued password is stored in clear");
      await shot(page, "7-offline-queue");

      await context.setOffline(false);
      await outbox.waitFor({ state: "detached", timeout: 20_000 });
      // What the queue sent is said, with a link to it.
      await page.getByRole("link", { name: "dcoa-rb06u14 registered" }).waitFor();
      // Replaying again (a second tab, a flaky answer) must not register twice.
      await page.evaluate(() => dispatchEvent(new Event("online")));
      const res = await fetch(`${served.url}/api/v1/servers?q=3c:ec:ef:12:34:57`);
      const list = await res.json() as { items: { device_name: string; id: string }[] };
      assertEquals(list.items.map((i) => i.device_name), ["dcoa-rb06u14"]);
      // The workflow runs after the 202: wait for it before counting what it created.
      for (let i = 0; i < 100; i++) {
        const r = await (await fetch(`${served.url}/api/v1/servers/${list.items[0].id}`)).json();
        if (r.status === "ok") break;
        assert(!["failed", "blocked"].includes(r.status), `replayed registration ${r.status}`);
        await new Promise((done) => setTimeout(done, 200));
      }
      const netboxDevices = [...served.world!.netbox.devices.values()]
        .filter((d) => d.name === "dcoa-rb06u14");
      assertEquals(netboxDevices.length, 1);
    });

    await t.step("import: paste JSON, preview per row, live progress", async () => {
      await page.getByRole("link", { name: "Import" }).click();
      await page.waitForSelector("[data-island=ImportPanel][data-hydrated=true]");
      const lazy = (chunk: string) =>
        requested.some((u) => new RegExp(`/static/build/${chunk}-[0-9A-Z]+\\.js$`).test(u));
      assert(!lazy("schemas"), "the validation chunk loaded before the panel was used");
      await page.getByLabel("or paste JSON").fill(JSON.stringify([
        {
          device_name: "dcoa-rb07u30",
          bmc_mac: "3c:ec:ef:12:35:01",
          bmc_password: "IMPORTPW01",
          bmc_ip: "10.16.28.150",
          boot_mac: "3c:ec:ef:12:35:02",
        },
        { device_name: "Bad Name", bmc_mac: "01:00:5e:00:00:01", bmc_password: "" },
        // Valid, but the API's pre-flight knows this MAC: refused before Import, not after.
        {
          device_name: "dcoa-rb07u33",
          bmc_mac: "3c:ec:ef:12:34:56",
          bmc_password: "IMPORTPW03",
          bmc_ip: "10.16.28.152",
        },
      ]));
      await page.getByRole("button", { name: "Preview" }).click();
      await page.locator("tr[data-valid=false]", { hasText: "dcoa-rb06u12" }).waitFor();
      assertEquals(await page.locator("tr[data-valid=false]").count(), 2);
      assertEquals(await page.getByRole("button", { name: /^Import/ }).innerText(), "Import 1");
      assert(lazy("schemas"), "Preview ran without loading the validation chunk");
      assert(!lazy("merge_import"), "the YAML + Kea merge code loaded on the JSON path");
      await shot(page, "8-import-preview");
      await page.getByRole("button", { name: /^Import/ }).click();
      await page.getByTestId("import-summary").filter({
        hasText: "1 ok, 0 failed, 2 not started",
      }).waitFor({ timeout: 30_000 });
      assertEquals(
        await page.locator("tr[data-valid=false]").filter({ hasText: "not started" }).count(),
        2,
      );
      assert(await page.getByRole("button", { name: /^Import/ }).isDisabled(), "imported twice?");
      await shot(page, "9-import-done");
    });

    await t.step(
      "import: YAML + Kea loads the merge code on demand and previews merged rows",
      async () => {
        await page.getByRole("button", { name: "YAML + Kea" }).click();
        // The original's short names; Kea's hostnames carry the site, a -bmc suffix and a domain.
        await page.getByRole("textbox", { name: "YAML device list" }).fill(
          "- {device_name: rb07u31, bmc_password: IMPORTPW02}\n- {device_name: rb07u32}\n",
        );
        await page.getByRole("textbox", { name: "Kea reservations JSON" }).fill(
          `// BMC network\n${
            JSON.stringify({
              Dhcp4: {
                subnet4: [{
                  id: 1,
                  subnet: "10.16.28.0/24",
                  reservations: [{
                    "hw-address": "3c:ec:ef:12:35:11",
                    "ip-address": "10.16.28.151",
                    hostname: "dcoa-rb07u31-bmc.bmc.platform.sunet.se",
                  }],
                }],
              },
            })
          }`,
        );
        await page.getByRole("button", { name: "Preview" }).click();
        await page.locator("tr[data-valid=true]", { hasText: "dcoa-rb07u31" }).waitFor();
        assert(
          requested.some((u) => /\/static\/build\/merge_import-[0-9A-Z]+\.js$/.test(u)),
          "the merge code did not load as its own chunk",
        );
        assertEquals(await page.locator("tr[data-valid=true]").count(), 1);
        await page.getByText("rb07u32 has no bmc_password").waitFor();
        await page.getByLabel("Device names").selectOption("yaml");
        await page.getByRole("button", { name: "Preview" }).click();
        await page.locator("tr[data-valid=true] td:nth-child(2)", { hasText: /^rb07u31$/ })
          .waitFor();
      },
    );
    await t.step("decommission from the detail page", async () => {
      await page.goto("/servers");
      await page.getByRole("link", { name: /dcoa-rb06u12/ }).click();
      await page.getByTestId("detail-status").filter({ hasText: "ok" }).waitFor();
      await page.getByRole("button", { name: "Decommission…" }).click();
      await page.getByRole("button", { name: "Decommission dcoa-rb06u12" }).click();
      await page.getByTestId("detail-status").filter({ hasText: "decommissioned" }).waitFor({
        timeout: 20_000,
      });
      assertEquals(
        [...served.world!.netbox.devices.values()].filter((d) => d.name === "dcoa-rb06u12").length,
        0,
      );
    });
    assertEquals(errors, []);
    await context.close();
  } finally {
    await browser.close();
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name:
    "PWA: the back gesture walks the steps; a rejected password, a missing boot MAC or a blade's system is given on Retry",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using served = await serveApp({ world: true });
  const world = served.world!;
  // The BMC at the first free address of the prefix knows another password than the one typed.
  world.bmcs.add("10.16.28.11", createFakeRedfish({ username: "ADMIN", password: "Right-pass-7" }));
  const browser = await launchChromium();
  try {
    const context = await phoneContext(browser, served.url);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto("/");
    await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
    await page.getByLabel("BMC MAC", { exact: true }).fill("3c:ec:ef:77:00:01");
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByLabel("BMC password", { exact: true }).click();
    await page.keyboard.type("Wrong-pass-1");
    await page.keyboard.press("Enter"); // as a scanner's trailing Enter
    await page.getByRole("heading", { name: "3 · Location" }).waitFor();
    // Back and forward through the browser's history keep what was entered.
    await page.goBack();
    await page.getByRole("heading", { name: "2 · BMC password" }).waitFor();
    await page.goBack();
    await page.getByRole("heading", { name: "1 · BMC MAC" }).waitFor();
    assertEquals(
      await page.getByLabel("BMC MAC", { exact: true }).inputValue(),
      "3c:ec:ef:77:00:01",
    );
    await page.goForward();
    await page.goForward();
    await fillLocation(page, "14");
    await page.getByRole("button", { name: "Go" }).click();
    await page.getByTestId("reg-status").filter({ hasText: /^failed$/ }).waitFor({
      timeout: 30_000,
    });
    await page.locator("[data-step=metal3]").filter({ hasText: "rejected" }).waitFor();

    // Another wrong one: the retried run fails again, and the screen ends on that, not "queued".
    await page.getByLabel("BMC password (empty: keep the stored one)").fill("Wrong-pass-2");
    await page.getByRole("button", { name: "Retry" }).click();
    const serverStatus = async () =>
      (await (await fetch(`${served.url}/api/v1/servers?q=dcoa-rb06u14`)).json()).items[0]?.status;
    for (let i = 0; i < 100; i++) {
      const stored = world.openbao.versions("bmc/dcoa-rb06u14").length === 2;
      if (stored && await serverStatus() === "failed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await page.waitForTimeout(300);
    assertEquals(await page.getByTestId("reg-status").innerText(), "failed");

    await page.getByLabel("BMC password (empty: keep the stored one)").fill("Right-pass-7");
    await page.getByRole("button", { name: "Retry" }).click();
    await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({ timeout: 30_000 });
    const secret = world.kubernetes.state.secret("metal3", "dcoa-rb06u14-bmc-secret");
    assertEquals(atob(secret?.data?.password ?? ""), "Right-pass-7");
    assertEquals(world.openbao.versions("bmc/dcoa-rb06u14").length, 3);

    // Scanning that MAC again names its registration at once.
    await page.getByRole("button", { name: "Next server" }).click();
    await page.getByLabel("BMC MAC", { exact: true }).fill("3C-EC-EF-77-00-01");
    await page.getByTestId("mac-owner").filter({ hasText: "dcoa-rb06u14" }).waitFor();

    // A BMC that does not answer and no boot MAC: the host is created without one (SPEC §6.2, only
    // libvirt blocks), and the boot MAC can be added afterwards.
    await page.getByLabel("BMC MAC", { exact: true }).fill("3c:ec:ef:77:00:02");
    await page.keyboard.press("Enter");
    await page.getByLabel("BMC password", { exact: true }).fill("Pass-2");
    await page.keyboard.press("Enter");
    await fillLocation(page, "16");
    await page.getByRole("button", { name: "Go" }).click();
    await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({ timeout: 30_000 });
    await page.getByTestId("no-boot-mac").waitFor();
    const host = () => world.kubernetes.state.bareMetalHost("metal3", "dcoa-rb06u16");
    assert(host() && !("bootMACAddress" in host()!.spec), "created without bootMACAddress");
    await page.getByLabel("Boot NIC MAC", { exact: true }).fill("0C-C4-7A-77-00-02");
    await page.getByRole("button", { name: "Add boot MAC" }).click();
    for (let i = 0; i < 100 && !host()?.spec.bootMACAddress; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(host()?.spec?.bootMACAddress, "0c:c4:7a:77:00:02");

    // A BMC that lists two NICs and does not say which boots: the detail page lists them with
    // their link state; the technician picks one.
    world.bmcs.add(
      "10.16.28.13",
      createFakeRedfish({
        username: "ADMIN",
        password: "Pass-3",
        nics: [{ mac: "0c:c4:7a:77:00:31", link: "LinkUp" }, { mac: "0c:c4:7a:77:00:32" }],
        bootOrder: [{ kind: "disk" }],
      }),
    );
    await page.getByRole("button", { name: "Next server" }).click();
    await page.getByLabel("BMC MAC", { exact: true }).fill("3c:ec:ef:77:00:03");
    await page.keyboard.press("Enter");
    await page.getByLabel("BMC password", { exact: true }).fill("Pass-3");
    await page.keyboard.press("Enter");
    await fillLocation(page, "18");
    await page.getByRole("button", { name: "Go" }).click();
    await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({ timeout: 30_000 });
    await page.getByRole("link", { name: "Open server" }).click();
    await page.waitForSelector("[data-island=ServerDetail][data-hydrated=true]");
    const candidates = page.getByTestId("boot-nic-candidates").locator("li");
    await candidates.first().waitFor();
    const texts = await candidates.allInnerTexts();
    assertEquals(texts.length, 2);
    assert(/0c:c4:7a:77:00:31[\s\S]*link up/.test(texts[0]), texts[0]);
    assert(/0c:c4:7a:77:00:32[\s\S]*no link/.test(texts[1]), texts[1]);
    await candidates.nth(1).getByRole("button", { name: "Use" }).click();
    await page.getByRole("button", { name: "Add boot MAC" }).click();
    const third = () => world.kubernetes.state.bareMetalHost("metal3", "dcoa-rb06u18");
    for (let i = 0; i < 100 && !third()?.spec.bootMACAddress; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assertEquals(third()?.spec?.bootMACAddress, "0c:c4:7a:77:00:32");
    await page.getByTestId("retry-form").waitFor({ state: "detached" });

    // A blade chassis' BMC manages several systems: Metal3 waits until the technician picks one.
    const chassis = createFakeRedfish({
      username: "ADMIN",
      password: "Pass-4",
      systemIds: ["Node0", "Node1"],
    });
    world.bmcs.add("10.16.28.14", chassis);
    await page.goto("/");
    await page.waitForSelector("[data-island=ScanFlow][data-hydrated=true]");
    await page.getByLabel("BMC MAC", { exact: true }).fill("3c:ec:ef:77:00:04");
    await page.keyboard.press("Enter");
    await page.getByLabel("BMC password", { exact: true }).fill("Pass-4");
    await page.keyboard.press("Enter");
    await fillLocation(page, "20");
    await page.getByRole("button", { name: "Go" }).click();
    await page.getByTestId("reg-status").filter({ hasText: /^blocked$/ }).waitFor({
      timeout: 30_000,
    });
    await page.locator("[data-step=metal3]").filter({ hasText: "manages 2 systems" }).waitFor();
    await page.getByLabel("BMC system of this server").selectOption("Node1");
    await page.getByRole("button", { name: "Retry" }).click();
    await page.getByTestId("reg-status").filter({ hasText: /^ok$/ }).waitFor({ timeout: 30_000 });
    assertEquals(
      world.kubernetes.state.bareMetalHost("metal3", "dcoa-rb06u20")?.spec.bootMACAddress,
      chassis.macsBySystem.get("/redfish/v1/Systems/Node1")![0],
    );

    // A search in the address (a reload, a shared link) is the list's search; a label's MAC works.
    await page.goto("/servers?q=3CEC.EF77.0002");
    await page.waitForSelector("[data-island=ServerList][data-hydrated=true]");
    assertEquals(await page.getByLabel("Search").inputValue(), "3CEC.EF77.0002");
    await page.locator("[data-testid=server-list] li", { hasText: "dcoa-rb06u16" }).waitFor();
    assertEquals(await page.locator("[data-testid=server-list] li").count(), 1);
    assertEquals(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});

Deno.test({
  name: "PWA: the Servers list shows Netbox devices we did not register, filtered by drop-downs",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using served = await serveApp({ world: true });
  const browser = await launchChromium();
  try {
    const context = await phoneContext(browser, served.url);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const registered = await fetch(`${served.url}/api/v1/servers/register?wait=30`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        bmc_mac: "3c:ec:ef:66:00:31",
        bmc_password: "Pass-31",
        site: "dcoa",
        location: "hall-a",
        rack: "RB06",
        position: 31,
        device_type: "sys-1029u",
        device_role: "server",
        bmc_prefix: "10.16.28.0/24",
        boot_mac: "0c:c4:7a:66:00:31",
      }),
    });
    assertEquals(registered.status, 201, await registered.text());
    await page.goto("/servers");
    await page.waitForSelector("[data-island=ServerList][data-hydrated=true]");
    // Our registration's card: rack · U · role, and the time as 2026-12-06 23:27 (24 h).
    const ours = page.locator("[data-testid=server-list] li[data-origin=ours]", {
      hasText: "dcoa-rb06u31",
    });
    await ours.waitFor();
    assert(
      /RB06 · U31 · Server · .* · \d{4}-\d\d-\d\d \d\d:\d\d/.test(await ours.innerText()),
      await ours.innerText(),
    );
    // dcoa-rb06u40 is in the simulated Netbox only: its card says so, with rack · U · role.
    const row = page.locator("[data-testid=server-list] li[data-origin=netbox]", {
      hasText: "dcoa-rb06u40",
    });
    await row.waitFor();
    assert((await row.innerText()).includes("RB06 · U40 · Server"), await row.innerText());
    assert((await row.innerText()).includes("Netbox: active"), await row.innerText());
    // The Role drop-down (under Filters) offers the roles in the data; one narrows the list.
    await page.getByText("Filters", { exact: true }).click();
    const role = page.getByLabel("Role", { exact: true });
    await role.locator("option", { hasText: "Storage" }).waitFor({ state: "attached" });
    await role.selectOption({ label: "Storage" });
    await page.waitForURL(/role=storage/);
    await page.locator("[data-testid=server-list] li", { hasText: "dcoa-rb06u40" }).waitFor({
      state: "detached",
    });
    const shown = await page.locator("[data-testid=server-list] li").allInnerTexts();
    assertEquals(shown.map((t) => t.split("\n")[0]).sort(), ["dcoa-rb06u1", "dcoa-rb07u20"]);
    assertEquals(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});

Deno.test({
  name: "createFrameReader() reads small codes on a 1280×720 frame: scaled frame, then reticle",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const { scannerUrl, wasm } = await builtScanner();
  // Once a 1280×720 frame is halved, ZXing reads 3 px modules (1.5 px) but not 2 px ones (1 px
  // bars straddling pixel pairs): those are read only at full resolution, under the reticle.
  const b64 = async (text: string, format: "Code128" | "QRCode", scale: number) =>
    btoa(String.fromCharCode(...await barcodePng({ text, format, x: 0, y: 0, scale })));
  const codes = { mac: await b64(MAC, "Code128", 3), qr: await b64(PASSWORD, "QRCode", 2) };

  await using served = await serveApp();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${served.url}/`);
    const read = await page.evaluate(async ({ scannerUrl, wasmUrl, codes }) => {
      const mod = await import(scannerUrl);
      const reader = mod.createFrameReader(await mod.loadDetector(wasmUrl));
      const canvas = document.createElement("canvas");
      canvas.width = 1280;
      canvas.height = 720;
      const ctx = canvas.getContext("2d")!;
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, 1280, 720);
      ctx.imageSmoothingEnabled = false;
      const bitmap = (data: string) =>
        createImageBitmap(
          new Blob([Uint8Array.from(atob(data), (c) => c.charCodeAt(0))], { type: "image/png" }),
        );
      // Odd offsets, as a camera would not line bars up with pixel pairs. The MAC's barcode lies
      // outside the reticle (x < 256), the small QR in its middle.
      ctx.drawImage(await bitmap(codes.mac), 41, 37);
      ctx.drawImage(await bitmap(codes.qr), 611, 331);
      const values = (found: { rawValue: string }[]) => found.map((c) => c.rawValue).sort();
      const frame = values(await reader.read(canvas, "frame"));
      const centre = values(await reader.read(canvas, "centre"));
      const ticks = [...values(await reader.next(canvas)), ...values(await reader.next(canvas))];
      return { frame, centre, ticks: [...new Set(ticks)].sort() };
    }, { scannerUrl, wasmUrl: wasm, codes });
    assertEquals(read.frame, [MAC]);
    assertEquals(read.centre, [PASSWORD]);
    assertEquals(read.ticks, [MAC, PASSWORD].sort());
  } finally {
    await browser.close();
  }
});
