/** Camera panel: opens on demand (the decoder loads only then), with camera switch and torch. */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Scanner } from "../client/scanner.ts";

export function Camera(
  props: {
    wasmUrl: string;
    label: string;
    /** Opens at once (the previous step's scan came from the camera: keep scanning). */
    autoOpen?: boolean;
    /** "Open camera" as a secondary button (beside another step's main action, e.g. Retry). */
    secondary?: boolean;
    /** Returns true when the value was accepted (the rest of the frame is then skipped). */
    onCode: (value: string, format: string) => boolean | void;
  },
) {
  const video = useRef<HTMLVideoElement>(null);
  const scanner = useRef<Scanner | null>(null);
  const onCode = useRef(props.onCode);
  onCode.current = props.onCode;
  const [state, setState] = useState<"closed" | "opening" | "open" | "error">("closed");
  const [error, setError] = useState("");
  const [torch, setTorch] = useState(false);

  const close = () => {
    scanner.current?.stop();
    scanner.current = null;
    setState("closed");
  };
  const mounted = useRef(true);
  useEffect(() => {
    if (props.autoOpen) open();
    return () => {
      mounted.current = false;
      close();
    };
  }, []);

  async function open() {
    setState("opening");
    try {
      const { startScanner } = await import("../client/scanner.ts");
      const started = await startScanner(video.current!, {
        wasmUrl: props.wasmUrl,
        onCode: (v, f) => scanner.current ? onCode.current(v, f) : true,
      });
      // The step may have moved on while the camera started: do not leave it running.
      if (!mounted.current) return started.stop();
      scanner.current = started;
      setState("open");
    } catch (e) {
      setError(
        (e as Error).name === "NotAllowedError"
          ? "Camera permission was refused: allow it in the browser settings, or type the value."
          : `The camera cannot start (${(e as Error).message}): type the value instead.`,
      );
      setState("error");
    }
  }

  return (
    <div>
      <div class="camera" hidden={state === "closed" || state === "error"}>
        <video ref={video} playsInline muted aria-label={`Camera: ${props.label}`} />
        <div class="reticle" aria-hidden="true" />
      </div>
      {state === "open" || state === "opening"
        ? (
          <div class="camera-controls">
            {(scanner.current?.cameraCount ?? 0) > 1 && (
              <button
                type="button"
                onClick={() => scanner.current?.switchCamera()}
              >
                Switch camera
              </button>
            )}
            {scanner.current?.torchSupported && (
              <button
                type="button"
                aria-pressed={torch}
                onClick={async () => {
                  if (await scanner.current?.setTorch(!torch)) setTorch(!torch);
                }}
              >
                Torch
              </button>
            )}
            <button type="button" onClick={close}>Close camera</button>
          </div>
        )
        : (
          <button type="button" class={props.secondary ? "" : "primary"} onClick={open}>
            Open camera
          </button>
        )}
      {state === "opening" && <p class="hint" role="status">Starting the camera…</p>}
      {error && <p class="error" role="alert">{error}</p>}
    </div>
  );
}
