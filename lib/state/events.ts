/** In-process event bus for live progress: step changes and registration updates, never secrets. */
import type { StepName, StepStatus } from "../domain/model.ts";
import type { Registration } from "./store.ts";

export type LiveEvent =
  | {
    type: "step";
    id: string;
    device_name: string;
    step: StepName;
    status: StepStatus;
    message?: string;
  }
  | { type: "registration"; registration: PublicRegistration }
  /** A drift check whose findings differ from the previous one: counts only, no details. */
  | { type: "drift"; checked_at: string; findings: number; counts: Record<string, number> };

/** The registration as API clients see it (internal fields dropped). */
export type PublicRegistration = Omit<Registration, "slot">;

export function publicView(r: Registration): PublicRegistration {
  const { slot: _slot, ...rest } = r;
  return rest;
}

type Listener = (e: LiveEvent) => void;

export class EventBus {
  #listeners = new Set<Listener>();

  /** Returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(event: LiveEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A broken subscriber (closed socket) must not stop the others.
      }
    }
  }
}
