/**
 * Camera + barcode decoding, loaded only when the camera opens: the native `BarcodeDetector` when
 * it reads our formats, else the `barcode-detector` ponyfill (ZXing WASM served by us).
 */

export const FORMATS = ["code_128", "code_39", "qr_code", "data_matrix"];

interface Detector {
  detect(source: CanvasImageSource | Blob): Promise<{ rawValue: string; format: string }[]>;
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
  const detector = await loadDetector(options.wasmUrl);
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
        for (const code of await detector.detect(video)) {
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
