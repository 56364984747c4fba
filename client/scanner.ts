/**
 * Camera + barcode decoding, loaded only when the camera opens: the native `BarcodeDetector` when
 * it reads our formats, else the `barcode-detector` ponyfill (ZXing WASM served by us).
 */

export const FORMATS = ["code_128", "code_39", "qr_code", "data_matrix"];

/** One decoded barcode. */
export interface DetectedCode {
  rawValue: string;
  format: string;
}

interface Detector {
  detect(source: CanvasImageSource | OffscreenCanvas | Blob | ImageData): Promise<DetectedCode[]>;
}

let detectorPromise: Promise<Detector> | null = null;

/** The decoder, created once per page. */
export function loadDetector(wasmUrl: string): Promise<Detector> {
  detectorPromise ??= (async () => {
    const Native = (globalThis as {
      BarcodeDetector?: { new (o: unknown): Detector; getSupportedFormats(): Promise<string[]> };
    }).BarcodeDetector;
    if (Native) {
      const supported = await Native.getSupportedFormats().catch(() => [] as string[]);
      if (FORMATS.every((f) => supported.includes(f))) return new Native({ formats: FORMATS });
    }
    const { BarcodeDetector, prepareZXingModule } = await import("barcode-detector/ponyfill");
    prepareZXingModule({
      overrides: {
        // Never the CDN default: the .wasm comes from our origin (and the service worker cache).
        locateFile: (path: string, prefix: string) =>
          path.endsWith(".wasm") && wasmUrl ? new URL(wasmUrl, location.href).href : prefix + path,
      },
    });
    return new BarcodeDetector({ formats: FORMATS as never[] }) as unknown as Detector;
  })();
  return detectorPromise;
}

/**
 * Longest side of the whole-frame pass. ZXing's time grows with the pixel count: a Code 128 on a
 * 1280×720 frame took it about 55 ms, the frame drawn at 640×360 and decoded takes about 20 ms.
 */
export const MAX_FRAME_SIDE = 640;
/** Pixel budget of the reticle pass (640×480): its region is drawn 1:1 when it fits. */
export const MAX_CENTRE_PIXELS = 640 * 480;
/** The camera box's shape and the reticle's inset in it (`.camera`, `.camera .reticle` in
 * static/app.css): the video is shown `object-fit: cover`, so the frame is cropped to 4:3. */
const VIEW_ASPECT = 4 / 3;
const RETICLE_INSET = { x: 0.1, y: 0.25 };
/** Pixel budget of a zoom pass: the middle of the reticle at up to twice its size. */
export const MAX_ZOOM_PIXELS = 1024 * 480;
/** The share of the reticle's width and height a zoom pass reads. */
const ZOOM_SHARE = 0.6;

/**
 * What one decode pass reads. `frame`: the whole frame, scaled down (a label held anywhere);
 * `centre`: the region under the reticle at full resolution, contrast stretched (codes the scaled
 * frame blurs away); `bars`: the same for 1-D codes, binarized by `levelBars` (whose averaging
 * along the bars smears the modules of a 2-D code, hence apart); `zoom`: the middle of the reticle
 * drawn twice as large, also through `levelBars` (a label a quarter of the frame wide has bars
 * about one pixel wide, which ZXing reads once they are two). `+20`/`-20`: the region turned
 * upright from that tilt: a 1-D code read along rows fails beyond about 11° of tilt and a phone is
 * rarely held straighter, so passes at 0° and ±20° cover ±31° (2-D codes are read at any angle).
 */
export type FramePass =
  | "frame"
  | "centre"
  | "bars"
  | "bars+20"
  | "bars-20"
  | "zoom"
  | "zoom+20"
  | "zoom-20";

/** The degrees a pass turns its region by. */
export function passAngle(pass: FramePass): number {
  return pass.endsWith("+20") ? 20 : pass.endsWith("-20") ? -20 : 0;
}

/**
 * The passes the scanner cycles through, one per tick, so that a tick costs one decode (a frame
 * every 150 ms; a label is given every pass within 10 ticks): the whole frame first, the reticle,
 * the upright 1-D passes, the tilted ones, then the upright ones again: a label held
 * straight (the usual case) gets two tries of each in a cycle, against the noise of a dim frame.
 * A frame small enough to be decoded whole at full resolution has no separate reticle pass.
 */
export function passSchedule(width: number, height: number): FramePass[] {
  const small = Math.max(width, height) <= MAX_FRAME_SIDE;
  return [
    "frame",
    ...(small ? [] : ["centre"] as const),
    "bars",
    "zoom",
    "bars+20",
    "bars-20",
    "zoom+20",
    "zoom-20",
    "bars",
    "zoom",
  ];
}

/** The source rectangle of a frame to decode and the size it is drawn at. */
export interface FrameRegion {
  sx: number;
  sy: number;
  sw: number;
  sh: number;
  dw: number;
  dh: number;
}

/** What part of a `width`×`height` frame a pass decodes, and at what size (aspect kept). */
export function frameRegion(width: number, height: number, pass: FramePass): FrameRegion {
  let sx = 0, sy = 0, sw = width, sh = height, scale: number;
  if (pass === "frame") {
    scale = Math.min(1, MAX_FRAME_SIDE / Math.max(width, height));
  } else {
    // The part of the frame the camera box shows, then the reticle inside it.
    const viewW = Math.min(width, height * VIEW_ASPECT);
    const viewH = Math.min(height, width / VIEW_ASPECT);
    sw = Math.round(viewW * (1 - 2 * RETICLE_INSET.x));
    sh = Math.round(viewH * (1 - 2 * RETICLE_INSET.y));
    sx = Math.round((width - sw) / 2);
    sy = Math.round((height - sh) / 2);
    scale = Math.min(1, Math.sqrt(MAX_CENTRE_PIXELS / (sw * sh)));
  }
  if (pass.startsWith("zoom")) {
    const zw = Math.round(sw * ZOOM_SHARE), zh = Math.round(sh * ZOOM_SHARE);
    sx += Math.round((sw - zw) / 2);
    sy += Math.round((sh - zh) / 2);
    sw = zw;
    sh = zh;
    scale = Math.min(2, Math.sqrt(MAX_ZOOM_PIXELS / (sw * sh)));
  }
  return {
    sx,
    sy,
    sw,
    sh,
    dw: Math.max(1, Math.round(sw * scale)),
    dh: Math.max(1, Math.round(sh * scale)),
  };
}

/**
 * Grey levels of `image` stretched so that its darkest and brightest pixels reach black and white:
 * ZXing treats a block whose levels differ by less than 24 as blank, which a dim, blurred,
 * 30 %-contrast label can be.
 */
export function stretchContrast(image: ImageData): ImageData {
  const pixels = rgbaWords(image);
  const grey = new Uint8Array(pixels.length);
  const histogram = new Uint32Array(256);
  for (let p = 0; p < pixels.length; p++) histogram[grey[p] = greyOf(pixels[p]) >> 2]++;
  // The darkest 0.1 % (a small code's modules can be under 1 % of the region) and the brightest
  // 1 % (a glare spot) are left out of the range.
  let lo = 0, hi = 255;
  for (let n = 0; lo < 255 && n + histogram[lo] <= grey.length / 1000; lo++) n += histogram[lo];
  for (let n = 0; hi > lo && n + histogram[hi] <= grey.length / 100; hi--) n += histogram[hi];
  if (hi - lo < 16) return image; // nothing but one level: no code to bring out
  const word = new Uint32Array(256);
  for (let v = 0; v < 256; v++) {
    const l = Math.max(0, Math.min(255, Math.round((v - lo) * 255 / (hi - lo))));
    word[v] = (0xff000000 | l << 16 | l << 8 | l) >>> 0;
  }
  for (let p = 0; p < pixels.length; p++) pixels[p] = word[grey[p]];
  return image;
}

/** The pixels of `image` one 32-bit word each (RGBA, little-endian as every browser is). */
function rgbaWords(image: ImageData): Uint32Array {
  return new Uint32Array(image.data.buffer, image.data.byteOffset, image.width * image.height);
}

/** r + 2g + b (0–1020) of an RGBA word. */
function greyOf(v: number): number {
  return (v & 255) + ((v >> 7) & 0x1fe) + ((v >> 16) & 255);
}

/** Box sums over `grey` (`width` wide): each pixel's sum of the `2·hx+1`×`2·hy+1` around it,
 * clipped at the edges, and how many pixels that was. */
function boxMean(grey: Float32Array, width: number, hx: number, hy: number): Float32Array {
  const height = grey.length / width;
  const cols = new Float32Array(grey.length);
  for (let x = 0; x < width; x++) {
    let sum = 0, n = 0;
    for (let y = 0; y < Math.min(hy, height); y++, n++) sum += grey[y * width + x];
    for (let y = 0; y < height; y++) {
      if (y + hy < height) sum += grey[(y + hy) * width + x], n++;
      if (y - hy - 1 >= 0) sum -= grey[(y - hy - 1) * width + x], n--;
      cols[y * width + x] = sum / n;
    }
  }
  if (!hx) return cols;
  const out = new Float32Array(grey.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let sum = 0, n = 0;
    for (let x = 0; x < Math.min(hx, width); x++, n++) sum += cols[row + x];
    for (let x = 0; x < width; x++) {
      if (x + hx < width) sum += cols[row + x + hx], n++;
      if (x - hx - 1 >= 0) sum -= cols[row + x - hx - 1], n--;
      out[row + x] = sum / n;
    }
  }
  return out;
}

/** Rows the bar filter averages along upright bars (noise falls by 3, the bars stay). */
const BAR_ROWS = 9;
/** Frame rows per row of the bar filter's output: the rows are averaged anyway, and ZXing's time
 * falls with the pixel count. */
const BAR_STEP = 3;
/** Half the width of the neighbourhood whose mean is a pixel's threshold: wider than a wide bar
 * or space, narrower than a glare spot's slope. */
const BAR_WINDOW = 30;
/** Below this spread (levels, after the filter) a neighbourhood holds no code: it is left white,
 * not turned into black-and-white noise. */
const BAR_MIN_SPREAD = 8;

/**
 * A 1-D code's bars binarized for ZXing, out of a dim, noisy, blurred or glared region: rows
 * averaged along the (upright) bars, an unsharp mask across them (`sharpen`: how far each pixel
 * is pushed from its left and right neighbours), then each pixel black when below the mean of its
 * neighbourhood, white otherwise. ZXing's own row threshold is one level per row, which a dark
 * panel beside a 30 %-contrast label or a glare spot throws off, and its own sharpening is too
 * weak for a blurred one-module bar (out of focus, a 2 px bar of a label 0.4 of the frame wide
 * keeps under half its depth).
 */
export function levelBars(image: ImageData, sharpen: number): ImageData {
  const { width, height } = image;
  // Grey levels (r + 2g + b) summed down each column.
  const rgba = rgbaWords(image);
  const columns = new Int32Array((height + 1) * width);
  for (let p = 0; p < rgba.length; p++) columns[p + width] = columns[p] + greyOf(rgba[p]);
  // Each output row is the mean of the BAR_ROWS frame rows around every BAR_STEP-th one.
  const rows = Math.max(1, Math.floor(height / BAR_STEP)), half = BAR_ROWS >> 1;
  const smooth = new Float32Array(width * rows);
  for (let j = 0; j < rows; j++) {
    const centre = j * BAR_STEP + (BAR_STEP >> 1);
    const from = Math.max(0, centre - half), to = Math.min(height - 1, centre + half);
    const n = 4 * (to - from + 1);
    for (let x = 0; x < width; x++) {
      smooth[j * width + x] = (columns[(to + 1) * width + x] - columns[from * width + x]) / n;
    }
  }
  const level = new Float32Array(smooth.length);
  for (let p = 0; p < smooth.length; p++) {
    const x = p % width;
    const l = smooth[x > 0 ? p - 1 : p], r = smooth[x < width - 1 ? p + 1 : p];
    level[p] = (1 + 2 * sharpen) * smooth[p] - sharpen * (l + r);
  }
  const hy = Math.round(half / BAR_STEP);
  const mean = boxMean(level, width, BAR_WINDOW, hy);
  const square = new Float32Array(level.length);
  for (let p = 0; p < level.length; p++) square[p] = (level[p] - mean[p]) ** 2;
  const variance = boxMean(square, width, BAR_WINDOW, hy);
  const minVariance = BAR_MIN_SPREAD ** 2;
  const out = new ImageData(width, rows);
  const data = out.data;
  for (let p = 0, i = 0; p < level.length; p++, i += 4) {
    data[i] = data[i + 1] = data[i + 2] = level[p] < mean[p] && variance[p] >= minVariance
      ? 0
      : 255;
    data[i + 3] = 255;
  }
  return out;
}

/** Unsharp amount of the 1:1 bar passes (a blurred module of about 2 px needs twice its depth) and
 * of the zoom passes (drawn 2× with smoothing: pushing a pixel from its interpolated neighbours
 * breaks up the bars of a small Code 128). */
const BARS_SHARPEN = 1;
const ZOOM_SHARPEN = 0.25;

type Canvas2D = {
  canvas: OffscreenCanvas | HTMLCanvasElement;
  ctx: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;
};

function newCanvas(): Canvas2D {
  const canvas = typeof OffscreenCanvas === "function"
    ? new OffscreenCanvas(1, 1)
    : document.createElement("canvas");
  // Read back every frame by the WASM decoder: keep the pixels in CPU memory.
  const ctx = canvas.getContext("2d", { willReadFrequently: true }) as Canvas2D["ctx"] | null;
  if (!ctx) throw new Error("No 2D canvas to decode camera frames");
  return { canvas, ctx };
}

/** Decodes camera frames through a small canvas, never the full-size frame. */
export interface FrameReader {
  /** Decodes one pass of the current frame of `source` (a video, canvas or bitmap). */
  read(source: FrameSource, pass: FramePass): Promise<DetectedCode[]>;
  /** What the scanner calls every tick: the next pass of `passSchedule()` on the current frame. */
  next(source: FrameSource): Promise<DetectedCode[]>;
}

/** What a frame can come from: the camera's video, or a picture (the bench, tests). */
export type FrameSource =
  | HTMLVideoElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | ImageBitmap
  | HTMLImageElement;

function sourceSize(source: FrameSource): { width: number; height: number } {
  return "videoWidth" in source
    ? { width: source.videoWidth, height: source.videoHeight }
    : { width: source.width, height: source.height };
}

/** A frame reader over `detector`, with its own canvases (one per pass, so none is resized per
 * frame). */
export function createFrameReader(detector: Detector): FrameReader {
  const canvases: Partial<Record<FramePass, Canvas2D>> = {};
  let tick = 0;
  const read = async (source: FrameSource, pass: FramePass) => {
    const { width, height } = sourceSize(source);
    if (!width || !height) return [];
    const r = frameRegion(width, height, pass);
    const c = canvases[pass] ??= newCanvas();
    if (c.canvas.width !== r.dw || c.canvas.height !== r.dh) {
      c.canvas.width = r.dw;
      c.canvas.height = r.dh;
    }
    const angle = passAngle(pass);
    if (r.dw !== r.sw || r.dh !== r.sh || angle) {
      // Filtered (not nearest-pixel) so thin bars blend rather than vanish when a frame shrinks.
      c.ctx.imageSmoothingEnabled = true;
      c.ctx.imageSmoothingQuality = "medium";
    } else c.ctx.imageSmoothingEnabled = false;
    if (pass === "frame") {
      c.ctx.drawImage(source, r.sx, r.sy, r.sw, r.sh, 0, 0, r.dw, r.dh);
      return await detector.detect(c.canvas);
    }
    // The region's centre to the canvas centre, turned by -angle (uprighting a code turned by
    // angle), then scaled; what the turn brings in from outside the region is frame too.
    c.ctx.setTransform(1, 0, 0, 1, 0, 0);
    c.ctx.translate(r.dw / 2, r.dh / 2);
    c.ctx.scale(r.dw / r.sw, r.dh / r.sh);
    c.ctx.rotate(-angle * Math.PI / 180);
    c.ctx.drawImage(source, -(r.sx + r.sw / 2), -(r.sy + r.sh / 2));
    c.ctx.setTransform(1, 0, 0, 1, 0, 0);
    const pixels = c.ctx.getImageData(0, 0, r.dw, r.dh);
    return await detector.detect(
      pass.startsWith("bars")
        ? levelBars(pixels, BARS_SHARPEN)
        : pass.startsWith("zoom")
        ? levelBars(pixels, ZOOM_SHARPEN)
        : stretchContrast(pixels),
    );
  };
  return {
    read,
    next(source) {
      const { width, height } = sourceSize(source);
      const passes = passSchedule(width, height);
      return read(source, passes[tick++ % passes.length]);
    },
  };
}

/** A running camera scan. */
export interface Scanner {
  stop(): void;
  /** Cycles to the next camera; resolves when it shows. */
  switchCamera(): Promise<void>;
  /** Torch on/off; false when the track has no torch. */
  setTorch(on: boolean): Promise<boolean>;
  readonly torchSupported: boolean;
  readonly cameraCount: number;
}

/** Opens the rear camera (preferred) into `video` and reports each decoded value. */
export async function startScanner(
  video: HTMLVideoElement,
  options: { wasmUrl: string; onCode: (value: string, format: string) => boolean | void },
): Promise<Scanner> {
  const reader = createFrameReader(await loadDetector(options.wasmUrl));
  let stream: MediaStream | null = null;
  let stopped = false;
  let deviceIndex = -1;
  let devices: MediaDeviceInfo[] = [];

  const open = async (deviceId?: string) => {
    stream?.getTracks().forEach((t) => t.stop());
    stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: deviceId ? { deviceId: { exact: deviceId } } : {
        facingMode: { ideal: "environment" },
        width: { ideal: 1280 },
        height: { ideal: 720 },
      },
    });
    video.srcObject = stream;
    video.muted = true;
    video.playsInline = true;
    await video.play().catch(() => {});
  };
  await open();
  devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) =>
    d.kind === "videoinput"
  );
  const track = () => stream?.getVideoTracks()[0];
  const caps = (track()?.getCapabilities?.() ?? {}) as { torch?: boolean };

  const tick = async () => {
    if (stopped) return;
    try {
      if (video.readyState >= 2) {
        // The first accepted code of a frame wins; the others in the same frame are not offered.
        for (const code of await reader.next(video)) {
          if (options.onCode(code.rawValue, code.format) === true) break;
        }
      }
    } catch {
      // A frame that cannot be read is normal while the camera settles.
    }
    if (!stopped) setTimeout(tick, 150);
  };
  tick();

  return {
    stop() {
      stopped = true;
      stream?.getTracks().forEach((t) => t.stop());
      video.srcObject = null;
    },
    async switchCamera() {
      if (devices.length < 2) return;
      deviceIndex = (deviceIndex + 1) % devices.length;
      await open(devices[deviceIndex].deviceId);
    },
    async setTorch(on: boolean) {
      if (!caps.torch) return false;
      await track()?.applyConstraints({ advanced: [{ torch: on } as MediaTrackConstraintSet] });
      return true;
    },
    torchSupported: Boolean(caps.torch),
    cameraCount: devices.length,
  };
}

/** Short beep and vibration confirming a scan. */
export function confirmScan(): void {
  navigator.vibrate?.(80);
  try {
    const ctx = new AudioContext();
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 1200;
    gain.gain.value = 0.1;
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.08);
    osc.onended = () => ctx.close();
  } catch {
    // No audio (e.g. autoplay policy): the vibration and the screen still confirm.
  }
}
