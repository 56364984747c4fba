/** Step 4: the registration's steps live, a failure's reason with its Retry, what was made. */
import { createdRows } from "../../client/format.ts";
import { CreatedObjects, StepList, TERMINAL } from "../registration.tsx";
import { RetryForm } from "../retry_form.tsx";
import { type Progress, STEP_NAMES, STEPS } from "./model.ts";

export interface GoStepProps {
  progress: Progress;
  goError: string;
  wasmUrl?: string;
  netboxUrl?: string;
  onRetryResult: (error: string) => void;
  onNext: () => void;
}

/** Loaded on Go (a lazy chunk): the first steps do not need it. */
export function GoStep(props: GoStepProps) {
  const { progress } = props;
  const failed = progress.status === "failed" || progress.status === "blocked";
  const failedStep = STEPS.map((s) => progress.steps?.[s]).find((v) =>
    v?.status === "failed" || v?.status === "blocked"
  );
  const created = progress.created ? createdRows(progress.created, props.netboxUrl) : [];
  const retryForm = (
    <RetryForm registration={progress} wasmUrl={props.wasmUrl} onResult={props.onRetryResult} />
  );
  return (
    <section class="card" aria-labelledby="go-title">
      <h1 id="go-title" tabIndex={-1} data-step-title="go">4 · {progress.device_name}</h1>
      <p>
        Status:{" "}
        <span class={`pill st-${progress.status}`} data-testid="reg-status">
          {progress.status}
        </span>
      </p>
      {failed && (
        <div class="failure" data-testid="failure">
          <p class="error" role="alert">
            {failedStep?.message ?? progress.error ?? "The registration did not complete"}
          </p>
          {retryForm}
        </div>
      )}
      {props.goError && <p class="error" role="alert">{props.goError}</p>}
      <StepList
        live
        steps={STEPS.map((s) => [s, progress.steps?.[s] ?? { status: "pending" }])}
        label={(s) => STEP_NAMES[s]}
      />
      {/* Done, but created without a boot MAC: it can be added now (the form says so). */}
      {!failed && TERMINAL.has(progress.status) && retryForm}
      {created.length > 0 && (
        <details>
          <summary>Details</summary>
          <CreatedObjects rows={created} />
        </details>
      )}
      <div class="actions sticky">
        <a class="button" href={`/servers/${progress.id}`}>Open server</a>
        {TERMINAL.has(progress.status) && (
          <button type="button" class={failed ? "" : "primary"} onClick={props.onNext}>
            Next server
          </button>
        )}
      </div>
    </section>
  );
}
