/** The scanner in headless Chromium: decode time per frame of a drawn label. */
import { chromium } from "playwright-core";
import type { AssetManifest } from "../components/islands.tsx";
import { BUILD, PUBLIC } from "./pwa_build.ts";

export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** PNG of a barcode drawn by ZXing's writer (its WASM read from the npm cache). */
async function barcodePng(text: string, format: "Code128" | "QRCode"): Promise<Uint8Array> {
  const { prepareZXingModule, writeBarcode } = await import("zxing-wasm/writer");
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache: string };
  const lock = JSON.parse(await Deno.readTextFile("deno.lock"));
  const key = Object.keys(lock.npm ?? {}).find((k) => k.startsWith("zxing-wasm@"))!;
  const version = key.slice("zxing-wasm@".length).split("_")[0];
  const wasm = await Deno.readFile(
    `${npmCache}/registry.npmjs.org/zxing-wasm/${version}/dist/writer/zxing_writer.wasm`,
  );
  await prepareZXingModule({ overrides: { wasmBinary: wasm.buffer }, fireImmediately: true });
  const out = await writeBarcode(text, { format, scale: 2 });
  if (!out.image) throw new Error(`Cannot draw ${format}: ${out.error}`);
  return new Uint8Array(await out.image.arrayBuffer());
}

export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

const DECODE_PAGE =
  `<!doctype html><meta charset=utf-8><title>decode bench</title><canvas></canvas>`;

/** Times one scanner tick (`createFrameReader().read()`, i.e. drawing the frame into the
 * decode canvas plus `detect()`) on 1280×720 (what the scanner asks the camera for) and 640×480
 * frames holding each label, in headless Chromium. */
/** A blank page and the build output, for measuring the scanner in Chromium. */
export function serveBuild() {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/") {
      return new Response(DECODE_PAGE, { headers: { "content-type": "text/html" } });
    }
    if (!path.startsWith(PUBLIC) || path.includes("..")) return new Response(null, { status: 404 });
    try {
      const data = await Deno.readFile(`${BUILD}/${path.slice(PUBLIC.length)}`);
      const type = path.endsWith(".js")
        ? "text/javascript"
        : path.endsWith(".wasm")
        ? "application/wasm"
        : "application/octet-stream";
      return new Response(data, { headers: { "content-type": type } });
    } catch {
      return new Response(null, { status: 404 });
    }
  });
}

export async function decodeTimes(manifest: AssetManifest, scanner: string, frames: number) {
  const server = serveBuild();
  const labels = [
    {
      name: "Code 128 MAC",
      text: "3C:EC:EF:12:34:56",
      png: await barcodePng("3C:EC:EF:12:34:56", "Code128"),
    },
    {
      name: "QR password",
      text: "Xq7-pW2!kLm9zR",
      png: await barcodePng("Xq7-pW2!kLm9zR", "QRCode"),
    },
  ];
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${server.addr.port}/`);
    const out = await page.evaluate(async ({ scannerUrl, wasmUrl, labels, frames }) => {
      const native = "BarcodeDetector" in globalThis;
      const t0 = performance.now();
      const mod = await import(scannerUrl);
      const detector = await mod.loadDetector(wasmUrl);
      const loadMs = performance.now() - t0;
      const canvas = document.querySelector("canvas")!;
      const ctx = canvas.getContext("2d", { willReadFrequently: true })!;
      const perLabel = [];
      for (const [width, height] of [[1280, 720], [640, 480]]) {
        canvas.width = width;
        canvas.height = height;
        for (const label of labels) {
          const bytes = Uint8Array.from(atob(label.b64), (c) => c.charCodeAt(0));
          const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
          ctx.fillStyle = "#fff";
          ctx.fillRect(0, 0, width, height);
          ctx.imageSmoothingEnabled = false;
          ctx.drawImage(bitmap, (width - bitmap.width) >> 1, (height - bitmap.height) >> 1);
          // The scanner's own path: each tick decodes one pass of the frame through its
          // canvas, the whole frame scaled down or (large frames) the reticle region 1:1.
          const passes = Math.max(width, height) > mod.MAX_FRAME_SIDE
            ? ["frame", "centre"]
            : ["frame"];
          for (const pass of passes) {
            const reader = mod.createFrameReader(detector);
            const r = mod.frameRegion(width, height, pass);
            const times: number[] = [];
            let first = 0;
            let decoded = "";
            for (let i = 0; i <= frames; i++) {
              const started = performance.now();
              const codes = await reader.read(canvas, pass);
              const ms = performance.now() - started;
              if (i === 0) first = ms; // the very first includes compiling the WASM
              else times.push(ms);
              decoded = codes[0]?.rawValue ?? "";
            }
            perLabel.push({
              name: label.name,
              frame: `${width}×${height}`,
              pass: pass === "frame"
                ? (r.dw === width ? "whole frame" : `whole frame at ${r.dw}×${r.dh}`)
                : `reticle ${r.sw}×${r.sh}${r.dw === r.sw ? "" : ` at ${r.dw}×${r.dh}`}`,
              ok: decoded === label.text,
              decoded,
              first,
              times,
            });
          }
        }
      }
      return { native, loadMs, perLabel };
    }, {
      scannerUrl: PUBLIC + scanner,
      wasmUrl: manifest.wasm,
      labels: labels.map((l) => ({
        name: l.name,
        text: l.text,
        b64: btoa(String.fromCharCode(...l.png)),
      })),
      frames,
    });
    return out;
  } finally {
    await browser.close();
    await server.shutdown();
  }
}
