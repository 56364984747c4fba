/** Above every step: how far the flow is, and on the scan steps where the server goes. */
import type { Step } from "./model.ts";

const ORDER: Step[] = ["mac", "password", "location", "go"];

export function StepHeader(props: { step: Step; where: string; onChoose: () => void }) {
  const indicator = ORDER.indexOf(props.step);
  return (
    <>
      <div class="steps-indicator" aria-hidden="true">
        {[0, 1, 2, 3].map((i) => <span key={i} class={i <= indicator ? "on" : ""} />)}
      </div>
      <p class="sr-only">Step {indicator + 1} of 4</p>
      {(props.step === "mac" || props.step === "password") && (
        <div class="where" data-testid="where">
          <p>
            {props.where
              ? (
                <>
                  Registering to <strong>{props.where}</strong>
                </>
              )
              : "No rack chosen yet"}
          </p>
          <button type="button" onClick={props.onChoose}>
            {props.where ? "Change" : "Choose"}
          </button>
        </div>
      )}
    </>
  );
}
