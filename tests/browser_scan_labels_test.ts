/**
 * The scanner's per-tick reader on dark-aisle label frames drawn exactly as `deno task bench`
 * draws them (bench/labels.ts: bwip-js labels, dim, blurred, noisy, at 30 % contrast), for the
 * degradation classes the 1-D passes used to miss: each label is read within the 10 frames the
 * bench gives it.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { builtScanner, chromiumAvailable, launchChromium, serveApp } from "./browser_harness.ts";
import { labelScenes, MAX_FRAMES, readLabels } from "../bench/labels.ts";

Deno.test({
  name: "createFrameReader() reads blurred and 30 %-contrast 1-D labels within 10 ticks",
  ignore: !chromiumAvailable(),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const { scannerUrl, wasm } = await builtScanner();
  // Code 39 out of focus (its one-module bars keep under half their depth), alone and at 30 %
  // contrast; Code 128 at 30 % contrast beside sensor noise or blur, where one threshold per row
  // (pulled down by the dark panel around the label) fell below the label's black.
  const wanted = [
    ["Code 39", "blur"],
    ["Code 39", "blur,contrast"],
    ["Code 128", "blur,contrast"],
    ["Code 128", "noise,contrast"],
  ];
  const scenes = (await labelScenes()).filter((s) =>
    wanted.some(([sym, d]) => s.symbology === sym && s.degradations.join() === d)
  );
  assertEquals(scenes.length, 5 + 2 + 2 + 2);

  await using served = await serveApp();
  const browser = await launchChromium();
  try {
    const results = await readLabels(browser, served.url, scannerUrl, wasm, scenes);
    const unread = results.filter((r) => r.readAt < 0)
      .map((r) => `${r.symbology} ${r.degradations.join(" + ")}${r.wrong ? ` (${r.wrong})` : ""}`);
    assertEquals(unread, [], `not read within ${MAX_FRAMES} frames`);
  } finally {
    await browser.close();
  }
});
