/** Bulk import: validate each item on its own, submit with bounded concurrency, report in input order. */
import {
  Conflict,
  MacAlreadyRegistered,
  PayloadTooLarge,
  RackSlotTaken,
  UnknownReference,
  ValidationFailed,
} from "../domain/errors.ts";
import type { EventBus } from "../state/events.ts";
import type { Engine } from "./engine.ts";
import { actionable } from "./step.ts";
import type { StepName } from "../domain/model.ts";
import type { ReferenceMemo } from "./preflight.ts";
import {
  fieldErrors,
  IMPORT_MAX_ITEMS,
  importItemSchema,
  unknownFields,
} from "../domain/schemas.ts";
import type { Registration } from "../state/store.ts";

/** Largest import body or import WebSocket message (10 MB), also the HTTP body limit. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

type StepReport = "done" | "skipped" | "failed" | "pending";

export interface ImportResult {
  index: number;
  device_name: string;
  status: "ok" | "failed";
  steps: Record<StepName, StepReport>;
  warnings: string[];
  error?: string;
  fields?: Record<string, string>;
  bmc_ip?: string;
  id?: string;
}

export type ImportEvent =
  | {
    type: "step";
    index: number;
    device_name: string;
    step: StepName;
    status: string;
    message?: string;
  }
  | ({ type: "result" } & ImportResult);

const NO_STEPS: Record<StepName, StepReport> = {
  netbox: "pending",
  openbao: "pending",
  kea: "pending",
  metal3: "pending",
};
/** How long one import waits for its servers before reporting them as still running. */
const IMPORT_WAIT_MS = 60 * 60 * 1000;

/** The warning for keys that are not import fields (other tools' extra columns), if any. */
function unknownFieldsWarning(raw: unknown): string[] {
  const unknown = unknownFields(raw);
  return unknown.length ? [`Unknown fields ignored: ${unknown.join(", ")}`] : [];
}

function resultOf(index: number, r: Registration, warnings: string[]): ImportResult {
  const steps = Object.fromEntries(
    Object.entries(r.steps).map(([k, s]) => [
      k,
      s.status === "blocked" ? "failed" : s.status === "running" ? "pending" : s.status,
    ]),
  ) as Record<StepName, StepReport>;
  return {
    index,
    id: r.id,
    device_name: r.device_name,
    status: r.status === "ok" ? "ok" : "failed",
    steps,
    warnings: [...warnings, ...r.warnings],
    ...(r.status !== "ok" ? { error: r.error ?? `Registration is ${r.status}` } : {}),
    ...(r.bmc_ip ? { bmc_ip: r.bmc_ip } : {}),
  };
}

/** Runs `work` over every item, `size` at a time, with the item parsed and its device name ("" when
 * it has none as a string). */
async function eachItem(
  items: unknown[],
  size: number,
  work: (
    index: number,
    raw: unknown,
    parsed: ReturnType<typeof importItemSchema.safeParse>,
    name: string,
  ) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      const raw = items[index];
      const name = (raw as { device_name?: unknown })?.device_name;
      await work(index, raw, importItemSchema.safeParse(raw), typeof name === "string" ? name : "");
    }
  }));
}

export interface ImportDeps {
  engine: Engine;
  events: EventBus;
  config: { IMPORT_CONCURRENCY: number };
}

/** An import is a JSON array of at most IMPORT_MAX_ITEMS servers. */
function assertImportList(items: unknown): asserts items is unknown[] {
  if (!Array.isArray(items)) throw new ValidationFailed({ body: "Send a JSON array of servers" });
  if (items.length > IMPORT_MAX_ITEMS) {
    throw new PayloadTooLarge(
      `At most ${IMPORT_MAX_ITEMS} servers per import (got ${items.length})`,
    );
  }
}

/** Imports `items` (unvalidated JSON); every item is independent. */
export async function runImport(
  deps: ImportDeps,
  items: unknown,
  options: { actor: string; concurrency?: number; onEvent?: (e: ImportEvent) => void },
): Promise<ImportResult[]> {
  assertImportList(items);
  const results: ImportResult[] = new Array(items.length);
  // By name, because the first step (OpenBao) runs before submit returns the registration id.
  const indexByName = new Map<string, number>();
  const emit = (e: ImportEvent) => options.onEvent?.(e);
  const finish = (result: ImportResult) => {
    results[result.index] = result;
    emit({ type: "result", ...result });
  };
  const unsubscribe = deps.events.subscribe((e) => {
    if (e.type !== "step") return;
    const index = indexByName.get(e.device_name);
    if (index !== undefined) {
      emit({
        type: "step",
        index,
        device_name: e.device_name,
        step: e.step,
        status: e.status,
        message: e.message,
      });
    }
  });
  const waiting: Promise<void>[] = [];
  const references: ReferenceMemo = new Map();
  try {
    await eachItem(
      items,
      options.concurrency ?? deps.config.IMPORT_CONCURRENCY,
      async (index, raw, parsed, name) => {
        const warnings = unknownFieldsWarning(raw);
        if (!parsed.success) {
          const fields = fieldErrors(parsed.error);
          finish({
            index,
            device_name: name,
            status: "failed",
            steps: { ...NO_STEPS },
            warnings,
            error: `Invalid: ${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join("; ")}`,
            fields,
          });
          return;
        }
        indexByName.set(parsed.data.device_name, index);
        try {
          const record = await deps.engine.submit(parsed.data, {
            actor: options.actor,
            source: "import",
            references,
          });
          waiting.push(
            deps.engine.waitFor(record.id, IMPORT_WAIT_MS).then((r) =>
              finish(resultOf(index, r, warnings))
            ),
          );
        } catch (e) {
          const known = e instanceof ValidationFailed || e instanceof UnknownReference ||
            e instanceof RackSlotTaken || e instanceof MacAlreadyRegistered;
          finish({
            index,
            device_name: parsed.data.device_name,
            status: "failed",
            steps: { ...NO_STEPS },
            warnings,
            error: known ? (e as Error).message : `pre-flight: ${actionable(e)}`,
            ...(e instanceof ValidationFailed ? { fields: e.fields } : {}),
          });
        }
      },
    );
    await Promise.all(waiting);
  } finally {
    unsubscribe();
  }
  return results;
}

/** What a dry run says of one item: "ready" passed validation and every pre-flight check. */
export interface PreviewResult {
  index: number;
  device_name: string;
  status: "ready" | "failed";
  error?: string;
  fields?: Record<string, string>;
  /** A registration of this name and MAC exists: importing runs it again. */
  existing_id?: string;
}

/**
 * The checks an import makes before writing (validation, Netbox references, rack units, MAC
 * held by Netbox or Kea), writing nothing: `POST /servers/import?dry_run=true`.
 */
export async function previewImport(
  deps: ImportDeps,
  items: unknown,
  options: { concurrency?: number } = {},
): Promise<PreviewResult[]> {
  assertImportList(items);
  const results: PreviewResult[] = new Array(items.length);
  const references: ReferenceMemo = new Map();
  await eachItem(
    items,
    options.concurrency ?? deps.config.IMPORT_CONCURRENCY,
    async (index, _raw, parsed, device_name) => {
      if (!parsed.success) {
        const fields = fieldErrors(parsed.error);
        results[index] = {
          index,
          device_name,
          status: "failed",
          error: `Invalid: ${Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join("; ")}`,
          fields,
        };
        return;
      }
      try {
        const found = await deps.engine.preflight(parsed.data, references);
        results[index] = { index, status: "ready", ...found };
      } catch (e) {
        const known = e instanceof ValidationFailed || e instanceof UnknownReference ||
          e instanceof RackSlotTaken || e instanceof MacAlreadyRegistered ||
          e instanceof Conflict;
        results[index] = {
          index,
          device_name: parsed.data.device_name,
          status: "failed",
          error: known ? (e as Error).message : `pre-flight: ${actionable(e)}`,
          ...(e instanceof ValidationFailed ? { fields: e.fields } : {}),
        };
      }
    },
  );
  return results;
}
