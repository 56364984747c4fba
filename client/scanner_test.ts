/** Unit tests of the scanner's frame geometry: what each decode pass reads, and at what size. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { frameRegion, MAX_CENTRE_PIXELS, MAX_FRAME_SIDE } from "./scanner.ts";

Deno.test("frameRegion() scales the whole frame down and keeps the reticle region sharp", async (t) => {
  await t.step("a 1280×720 frame is decoded at 640×360, all of it", () => {
    assertEquals(frameRegion(1280, 720, "frame"), {
      sx: 0,
      sy: 0,
      sw: 1280,
      sh: 720,
      dw: 640,
      dh: 360,
    });
  });

  await t.step("a frame that already fits is not rescaled", () => {
    assertEquals(frameRegion(640, 480, "frame"), {
      sx: 0,
      sy: 0,
      sw: 640,
      sh: 480,
      dw: 640,
      dh: 480,
    });
  });

  await t.step("portrait and large frames: the longer side is capped, aspect kept", () => {
    const portrait = frameRegion(720, 1280, "frame");
    assertEquals([portrait.dw, portrait.dh], [360, 640]);
    const uhd = frameRegion(3840, 2160, "frame");
    assertEquals(uhd.dw, MAX_FRAME_SIDE);
    assert(Math.abs(uhd.dw / uhd.dh - 3840 / 2160) < 0.01);
  });

  await t.step("the centre pass is the reticle of the 4:3 box, 1:1 on a 1280×720 frame", () => {
    // The box shows the middle 960×720 (object-fit: cover); the reticle is inset 10% / 25%.
    assertEquals(frameRegion(1280, 720, "centre"), {
      sx: 256,
      sy: 180,
      sw: 768,
      sh: 360,
      dw: 768,
      dh: 360,
    });
  });

  await t.step("a portrait frame's reticle is centred and inside the frame", () => {
    const r = frameRegion(720, 1280, "centre");
    assertEquals([r.sw, r.sh], [576, 270]);
    assertEquals([r.sx, r.sy], [72, 505]);
    assertEquals([r.dw, r.dh], [r.sw, r.sh]);
  });

  await t.step("a 1080p reticle is scaled to the pixel budget", () => {
    const r = frameRegion(1920, 1080, "centre");
    assertEquals([r.sw, r.sh], [1152, 540]);
    assert(r.dw * r.dh <= MAX_CENTRE_PIXELS * 1.01, `${r.dw}×${r.dh}`);
    assert(r.dw < r.sw && Math.abs(r.dw / r.dh - r.sw / r.sh) < 0.01);
  });
});
