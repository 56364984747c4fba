/** Unit tests of the scanner's frame geometry and pass schedule: what each decode pass reads, at
 * what size and angle, and how its pixels are prepared. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  frameRegion,
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
  await t.step("a camera frame: whole, reticle, 1-D passes upright and tilted, zoomed", () => {
    assertEquals(passSchedule(1280, 720), [
      "frame",
      "centre",
      "bars",
      "bars+20",
      "bars-20",
      "zoom",
      "zoom+20",
      "zoom-20",
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

  await t.step("the bar filter deepens a thin blurred bar and averages noise along it", () => {
    // A one-pixel bar at x = 10 blurred to 20 levels below the 150 of its surroundings, and one
    // noisy pixel at (30, 5) 40 levels below, as contrast-stretched with and without the filter.
    const scene = (x: number, y: number) =>
      x === 10 ? 130 : x === 9 || x === 11 ? 140 : x === 30 && y === 5 ? 110 : x < 2 ? 0 : 150;
    const plain = stretchContrast(picture(40, 11, scene));
    const bars = stretchContrast(picture(40, 11, scene), true);
    const depth = (img: ImageData, x: number) => at(img, 20, 5) - at(img, x, 5);
    assert(depth(bars, 10) > depth(plain, 10), `bar ${depth(bars, 10)} vs ${depth(plain, 10)}`);
    assert(
      depth(bars, 30) < depth(plain, 30) / 2,
      `noise ${depth(bars, 30)} vs ${depth(plain, 30)}`,
    );
  });
});
