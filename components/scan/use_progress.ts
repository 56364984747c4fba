/**
 * The live progress of the registration followed after Go: its snapshots over the events socket
 * (and re-read on every reconnect), its step events applied in place. An answer read before an
 * event can arrive after it: only a newer snapshot (`updated_at`) replaces what is shown.
 */
import { useEffect, useState } from "preact/hooks";
import { api, newer, subscribeEvents } from "../../client/api.ts";
import type { Progress } from "./model.ts";

export interface LiveProgress {
  progress: Progress | null;
  /** Starts following a registration (or stops, with null). */
  follow: (p: Progress | null) => void;
  /** Re-reads the followed registration (after a Retry). */
  reload: () => void;
}

export function useProgress(): LiveProgress {
  const [progress, setProgress] = useState<Progress | null>(null);
  // Only while this registration is still the one on screen, and never an older snapshot.
  const show = (r: Progress) => setProgress((p) => p?.id === r.id ? newer(p, r) : p);
  const read = (id: string) =>
    api<Progress>("GET", `/api/v1/servers/${id}`).then((a) => {
      if (a.ok) show(a.body);
    }).catch(() => {});

  const followId = progress?.id;
  useEffect(() => {
    if (!followId) return;
    return subscribeEvents((e) => {
      if (e.type === "registration") {
        const r = e.registration as Progress;
        if (r.id === followId) show(r);
      } else if (e.type === "step" && e.id === followId) {
        setProgress((p) =>
          p && {
            ...p,
            steps: {
              ...p.steps,
              [e.step as string]: { status: e.status as string, message: e.message as string },
            },
          }
        );
      }
    }, () => read(followId));
  }, [followId]);

  return { progress, follow: setProgress, reload: () => followId && read(followId) };
}
