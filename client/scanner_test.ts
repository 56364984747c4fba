/** Unit tests of the scanner's frame geometry and pass schedule: what each decode pass reads, at
 * what size and angle, and how its pixels are prepared. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  frameRegion,
  levelBars,
  MAX_CENTRE_PIXELS,
  MAX_FRAME_SIDE,
  MAX_ZOOM_PIXELS,
  passAngle,
  passSchedule,
  stretchContrast,
} from "./scanner.ts";

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

Deno.test("passSchedule() gives one pass per tick and covers tilted and small labels", async (t) => {
  await t.step("a camera frame: whole, reticle, 1-D passes upright, tilted, upright again", () => {
    assertEquals(passSchedule(1280, 720), [
      "frame",
      "centre",
      "bars",
      "zoom",
      "bars+20",
      "bars-20",
      "zoom+20",
      "zoom-20",
      "bars",
      "zoom",
    ]);
  });

  await t.step("a frame decoded whole at full size has no separate upright reticle pass", () => {
    const passes = passSchedule(640, 480);
    assertEquals(passes[0], "frame");
    assert(!passes.includes("centre"));
  });

  await t.step("every pass comes round within the 10 frames a label is given", () => {
    for (const [w, h] of [[1280, 720], [720, 1280], [640, 480], [1920, 1080]]) {
      assert(passSchedule(w, h).length <= 10, `${w}×${h}`);
    }
  });

  await t.step("a 1-D code tilted up to ±31° is within 11° of some pass, at both sizes", () => {
    // Read along rows, a 1-D code of a MAC label's proportions fails beyond about 11° of tilt.
    const passes = passSchedule(1280, 720);
    for (let tilt = -31; tilt <= 31; tilt++) {
      for (const kind of ["bars", "zoom"]) {
        const near = passes.filter((p) =>
          p.startsWith(kind) && Math.abs(tilt - passAngle(p)) <= 11
        );
        assert(near.length > 0, `${kind} at ${tilt}°`);
      }
    }
    assertEquals(passAngle("frame"), 0);
  });
});

Deno.test("frameRegion() zooms into the middle of the reticle within its pixel budget", () => {
  // The reticle of a 1280×720 frame is 768×360 at (256, 180); its middle 60 % is drawn 2×.
  assertEquals(frameRegion(1280, 720, "zoom"), {
    sx: 410,
    sy: 252,
    sw: 461,
    sh: 216,
    dw: 922,
    dh: 432,
  });
  assertEquals(frameRegion(1280, 720, "zoom+20"), frameRegion(1280, 720, "zoom"));
  assertEquals(frameRegion(1280, 720, "bars-20"), frameRegion(1280, 720, "centre"));
  const fhd = frameRegion(1920, 1080, "zoom");
  assert(fhd.dw * fhd.dh <= MAX_ZOOM_PIXELS * 1.01, `${fhd.dw}×${fhd.dh}`);
  assert(fhd.dw > fhd.sw, "still enlarged");
});

/** A `width`×`height` grey picture from `level(x, y)`. */
function picture(width: number, height: number, level: (x: number, y: number) => number) {
  const image = new ImageData(width, height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      image.data[i] = image.data[i + 1] = image.data[i + 2] = level(x, y);
      image.data[i + 3] = 255;
    }
  }
  return image;
}

const at = (image: ImageData, x: number, y: number) => image.data[(y * image.width + x) * 4];

Deno.test("stretchContrast() spreads a dim label over the full range", async (t) => {
  await t.step("30 % contrast (levels 105–150) becomes black and white", () => {
    const out = stretchContrast(picture(40, 10, (x) => (x % 4 < 2 ? 105 : 150)));
    assertEquals([at(out, 0, 5), at(out, 2, 5)], [0, 255]);
  });

  await t.step("a small dark code in a bright region keeps its black and white", () => {
    // 0.5 % of the pixels dark: a 1 % cut would put black at white's level.
    const out = stretchContrast(picture(200, 10, (x) => (x < 1 ? 0 : 255)));
    assertEquals([at(out, 0, 5), at(out, 100, 5)], [0, 255]);
  });

  await t.step("a few outliers (a glare spot) do not set the range", () => {
    const out = stretchContrast(
      picture(100, 10, (x, y) => (x === 0 && y === 0 ? 255 : x % 4 < 2 ? 105 : 150)),
    );
    assertEquals(at(out, 2, 5), 255);
  });
});

Deno.test("levelBars() binarizes a dim 1-D code against its neighbourhood, not one level", async (t) => {
  // A label 200 px wide at 30 % contrast (bars 105, spaces 150, 4 px each) on a dark panel (40),
  // 30 rows: ZXing's one threshold per row lies between the panel and the label's white.
  const label = (x: number) =>
    x < 40 || x >= 240 ? 40 : x < 60 || x >= 220 ? 150 : x % 8 < 4 ? 105 : 150;

  await t.step("bars black, spaces and the quiet zone white, a third of the rows", () => {
    const out = levelBars(picture(280, 30, label), 1);
    assertEquals([out.width, out.height], [280, 10]);
    const row = Array.from({ length: 160 }, (_, i) => at(out, 60 + i, 5));
    assertEquals(row, Array.from({ length: 160 }, (_, i) => (label(60 + i) === 105 ? 0 : 255)));
    assertEquals([at(out, 50, 5), at(out, 230, 5)], [255, 255]);
    assertEquals(out.data[3], 255);
  });

  await t.step("a flat panel with sensor noise stays white, not black-and-white speckle", () => {
    const noisy = (x: number, y: number) => 40 + ((x * 7 + y * 13) % 5) * 3;
    const out = levelBars(picture(100, 30, noisy), 1);
    assert(out.data.every((v) => v === 255));
  });

  await t.step("a blurred one-module bar between wide ones keeps its black", () => {
    // Wide bars (8 px, level 30) around a 2 px bar that blur left at 125 in a 150 space: the
    // neighbourhood's mean is lower than the thin bar, which sharpening brings under it.
    const blurred = (x: number) => {
      const m = x % 32;
      return m < 8 ? 30 : m === 15 || m === 16 ? 125 : m === 14 || m === 17 ? 140 : 150;
    };
    const out = levelBars(picture(256, 30, blurred), 1);
    for (const x of [79, 80, 111, 112, 143, 144]) assertEquals(at(out, x, 5), 0, `x = ${x}`);
    for (const x of [76, 84, 108, 116]) assertEquals(at(out, x, 5), 255, `x = ${x}`);
  });
});
