/**
 * The flow's current step, walked like pages: each step forward is a history entry, so the phone's
 * back gesture goes back through the steps as the Back buttons do. Going back from the results of
 * Go starts the next server. A step change focuses its heading: screen readers announce it,
 * keyboards start there.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { Step } from "./model.ts";

export function useSteps(
  entered: { mac: string; password: string },
  onLeaveGo: () => void,
) {
  const [step, setStep] = useState<Step>("mac");
  const current = useRef({ ...entered, step, onLeaveGo });
  current.current = { ...entered, step, onLeaveGo };
  useEffect(() => {
    // A reloaded page starts at the MAC whatever step its history entry held; a fresh entry has no
    // step (read as the MAC) and is left alone: replaceState is a same-document navigation, dearer
    // than it looks on a slow phone, in the task of the first keystroke (pending effects run then).
    const held = (history.state as { step?: Step } | null)?.step;
    if (held && held !== "mac") history.replaceState({ step: "mac" }, "");
    const onPop = (e: PopStateEvent) => {
      const now = current.current;
      if (now.step === "go") return now.onLeaveGo();
      let target = (e.state as { step?: Step } | null)?.step ?? "mac";
      if (target === "go") target = "location";
      if (target === "location" && !now.password) target = "password";
      if (target !== "mac" && !now.mac) target = "mac";
      setStep(target);
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  const shownStep = useRef(step);
  useEffect(() => {
    if (shownStep.current === step) return;
    shownStep.current = step;
    const title = document.querySelector<HTMLElement>(`[data-step-title=${step}]`);
    // The effect runs after paint: a hand (or a scanner) already typing in this step keeps its field.
    const active = document.activeElement;
    if (active && active !== document.body && title?.closest("form")?.contains(active)) return;
    title?.focus();
  }, [step]);

  return {
    step,
    /** Moves forward with a history entry. */
    forward: (next: "password" | "location") => {
      history.pushState({ step: next }, "");
      setStep(next);
    },
    /** Replaces the current entry (Go's results, the next server's first step). */
    replace: (next: "mac" | "go") => {
      history.replaceState({ step: next }, "");
      setStep(next);
    },
  };
}
