/**
 * Reading real labels: 60 scenes of each symbology the scanner reads, labels drawn by bwip-js (an
 * encoder independent of the ZXing decoder) onto 1280×720 camera frames with the degradations of a
 * dark aisle, each fed to the scanner's own per-tick reader for up to 10 frames in headless
 * Chromium. Reports the share read within 10 frames and the time per tick.
 */
import bwipjs from "bwip-js";
import type { Browser } from "playwright-core";

/** The degradations of a dark aisle; every scene is dim (the label's white at 150 of 255). */
export const DEGRADATIONS = ["blur", "noise", "rotated", "contrast", "glare", "small"] as const;
export type Degradation = typeof DEGRADATIONS[number];

export const SYMBOLOGIES = [
  { name: "Code 128", bcid: "code128", format: "code_128", payload: "mac" },
  { name: "Code 39", bcid: "code39", format: "code_39", payload: "mac-plain" },
  { name: "QR", bcid: "qrcode", format: "qr_code", payload: "password" },
  { name: "Data Matrix", bcid: "datamatrix", format: "data_matrix", payload: "password" },
] as const;

export const SCENES = 60;
export const MAX_FRAMES = 10;
const FRAME = { width: 1280, height: 720 };

/** Scene `i` of 60: each degradation alone (5 scenes each), then every pair of them (2 each). */
export function sceneDegradations(i: number): Degradation[] {
  if (i < 30) return [DEGRADATIONS[i % 6]];
  const pairs = DEGRADATIONS.flatMap((a, j) => DEGRADATIONS.slice(j + 1).map((b) => [a, b]));
  return pairs[(i - 30) % pairs.length];
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One label in front of the camera. */
export interface Scene {
  symbology: string;
  text: string;
  /** The label's PNG (bwip-js, 1 px per module, quiet zone included), base64. */
  png: string;
  degradations: Degradation[];
  /** Rotation in degrees (±20 when rotated). */
  angle: number;
  /** Label width as a share of the frame width: ¼ when small, else 0.4 (1-D) or ⅓ (2-D), so
   * that it sits inside the reticle as a technician aims it. */
  widthShare: number;
  /** Centre offset from the frame centre, as shares of the frame size. */
  dx: number;
  dy: number;
  /** Glare spot centre in the label (0–1 of its box) and radius (share of the code width). */
  glare: { x: number; y: number; r: number };
}

function payload(kind: string, rand: () => number): string {
  const hex = () => Math.floor(rand() * 256).toString(16).padStart(2, "0").toUpperCase();
  const mac = ["3C", "EC", "EF", hex(), hex(), hex()];
  if (kind === "mac") return mac.join(":");
  if (kind === "mac-plain") return mac.join("");
  const chars = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!-_";
  return Array.from({ length: 14 }, () => chars[Math.floor(rand() * chars.length)]).join("");
}

/** The scenes of every symbology (the same on every run). */
export async function labelScenes(): Promise<Scene[]> {
  const scenes: Scene[] = [];
  for (const [s, sym] of SYMBOLOGIES.entries()) {
    const rand = prng(0x5ca1ab1e + s);
    for (let i = 0; i < SCENES; i++) {
      const degradations = sceneDegradations(i);
      const text = payload(sym.payload, rand);
      const oneD = sym.bcid === "code128" || sym.bcid === "code39";
      const png = await bwipjs.toBuffer({
        bcid: sym.bcid,
        text,
        scale: 1,
        // A MAC label's bars are about a seventh as tall as the code is wide (bwip-js: mm).
        ...(oneD
          ? { height: sym.bcid === "code128" ? 12 : 10, paddingwidth: 10, paddingheight: 4 }
          : { padding: 4 }),
        backgroundcolor: "FFFFFF",
      });
      const has = (d: Degradation) => degradations.includes(d);
      scenes.push({
        symbology: sym.name,
        text,
        png: btoa(String.fromCharCode(...png)),
        degradations,
        angle: has("rotated") ? (rand() < 0.5 ? -20 : 20) : 0,
        widthShare: has("small") ? 0.25 : oneD ? 0.4 : 1 / 3,
        dx: (rand() - 0.5) * 0.06,
        dy: (rand() - 0.5) * 0.06,
        glare: { x: 0.2 + rand() * 0.6, y: 0.2 + rand() * 0.6, r: 0.05 + rand() * 0.03 },
      });
    }
  }
  return scenes;
}

/** One scene's outcome: the frame it was read at (0-based) or -1, and each tick's time. */
export interface SceneResult {
  symbology: string;
  degradations: Degradation[];
  readAt: number;
  wrong?: string;
  tickMs: number[];
}

/**
 * Runs every scene through `createFrameReader(detector).next()` of the built scanner chunk
 * (served at `origin`), a fresh reader per scene, drawing each frame with new sensor noise.
 */
export async function readLabels(
  browser: Browser,
  origin: string,
  scannerUrl: string,
  wasmUrl: string,
  scenes: Scene[],
): Promise<SceneResult[]> {
  const page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(async ({ scannerUrl, wasmUrl, scenes, frame, maxFrames }) => {
      const mod = await import(scannerUrl);
      const detector = await mod.loadDetector(wasmUrl);
      const canvas = document.createElement("canvas");
      canvas.width = frame.width;
      canvas.height = frame.height;
      const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
      const gauss = () => {
        const u = 1 - Math.random(), v = Math.random();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
      };
      const noise = Float32Array.from({ length: frame.width * frame.height + 65536 }, gauss);
      const results = [];
      for (const scene of scenes) {
        const has = (d: Degradation) => scene.degradations.includes(d);
        const bytes = Uint8Array.from(atob(scene.png), (c) => c.charCodeAt(0));
        const label = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
        const white = 150, black = has("contrast") ? white * 0.7 : 20;
        const w = scene.widthShare * frame.width;
        const h = w * label.height / label.width;
        const cx = frame.width * (0.5 + scene.dx), cy = frame.height * (0.5 + scene.dy);
        const rad = scene.angle * Math.PI / 180;
        // The glare spot's centre in frame pixels (a point of the label, turned with it).
        const lx = (scene.glare.x - 0.5) * w, ly = (scene.glare.y - 0.5) * h;
        const gx = cx + lx * Math.cos(rad) - ly * Math.sin(rad);
        const gy = cy + lx * Math.sin(rad) + ly * Math.cos(rad);
        const gr = scene.glare.r * w;
        // Dark aisle: the label's white is dim grey; at 30 % contrast its black is 70 % of that.
        // The label is drawn at opacity α over a grey g so that its 0–255 lands on black–white.
        const alpha = (white - black) / 255, under = black / (1 - alpha);
        const draw = () => {
          ctx.filter = "none";
          ctx.globalAlpha = 1;
          ctx.setTransform(1, 0, 0, 1, 0, 0);
          ctx.fillStyle = "rgb(40,40,40)"; // a server's front panel
          ctx.fillRect(0, 0, frame.width, frame.height);
          ctx.translate(cx, cy);
          ctx.rotate(rad);
          // Out of focus: a Gaussian blur of 0.4 of the narrowest bar's width.
          if (has("blur")) ctx.filter = `blur(${(w / label.width * 0.4).toFixed(2)}px)`;
          ctx.fillStyle = `rgb(${under},${under},${under})`;
          ctx.fillRect(-w / 2, -h / 2, w, h);
          ctx.globalAlpha = alpha;
          ctx.imageSmoothingEnabled = true;
          ctx.imageSmoothingQuality = "high";
          ctx.drawImage(label, -w / 2, -h / 2, w, h);
          ctx.setTransform(1, 0, 0, 1, 0, 0);
          ctx.globalAlpha = 1;
          ctx.filter = "none";
          const img = ctx.getImageData(0, 0, frame.width, frame.height);
          const d = img.data;
          // Sensor noise: a new stretch of the precomputed Gaussian samples every frame.
          const sigma = has("noise") ? 8 : 2;
          let k = Math.floor(Math.random() * 65536);
          for (let i = 0; i < d.length; i += 4) {
            const v = d[i] + sigma * noise[k++];
            d[i] = d[i + 1] = d[i + 2] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
          if (has("glare")) {
            for (let y = Math.max(0, gy - gr | 0); y < Math.min(frame.height, gy + gr); y++) {
              for (let x = Math.max(0, gx - gr | 0); x < Math.min(frame.width, gx + gr); x++) {
                const q = ((x - gx) ** 2 + (y - gy) ** 2) / (gr * gr);
                if (q >= 1) continue;
                const i = (y * frame.width + x) * 4;
                const v = d[i] + 255 * 1.5 * (1 - q);
                d[i] = d[i + 1] = d[i + 2] = v > 255 ? 255 : v;
              }
            }
          }
          ctx.putImageData(img, 0, 0);
        };
        const reader = mod.createFrameReader(detector);
        const tickMs: number[] = [];
        let readAt = -1, wrong: string | undefined;
        for (let f = 0; f < maxFrames && readAt < 0; f++) {
          draw();
          const started = performance.now();
          const codes = await reader.next(canvas);
          tickMs.push(performance.now() - started);
          for (const c of codes) {
            if (c.rawValue === scene.text) readAt = f;
            else wrong = c.rawValue;
          }
        }
        results.push({
          symbology: scene.symbology,
          degradations: scene.degradations,
          readAt,
          ...(readAt < 0 && wrong ? { wrong } : {}),
          tickMs,
        });
      }
      return results;
    }, { scannerUrl, wasmUrl, scenes, frame: FRAME, maxFrames: MAX_FRAMES });
  } finally {
    await page.close();
  }
}
