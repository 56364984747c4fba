/** The one place that turns errors into `{"error": {code, message, fields?}}` responses. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../lib/domain/config.ts";
import {
  BootMacRequired,
  Conflict,
  IntegrationError,
  MacAlreadyRegistered,
  NotFound,
  PayloadTooLarge,
  RackSlotTaken,
  ShuttingDown,
  UnknownReference,
  ValidationFailed,
} from "../lib/domain/errors.ts";

import type { Logger } from "../lib/observability/log.ts";

export interface ErrorBody {
  error: { code: string; message: string; fields?: Record<string, string> };
}

/** Status, code and safe message for an error; never a stack trace. */
export function describeError(err: unknown): { status: number; body: ErrorBody } {
  const out = (status: number, code: string, message: string, fields?: Record<string, string>) => ({
    status,
    body: { error: fields ? { code, message, fields } : { code, message } },
  });
  if (err instanceof ValidationFailed) return out(400, "invalid_request", err.message, err.fields);
  if (err instanceof UnknownReference) {
    return out(422, "unknown_reference", err.message, { [err.field]: err.message });
  }
  if (err instanceof RackSlotTaken) return out(409, "rack_slot_taken", err.message);
  if (err instanceof MacAlreadyRegistered) return out(409, "mac_already_registered", err.message);
  if (err instanceof Conflict) return out(409, "conflict", err.message);
  if (err instanceof BootMacRequired) return out(409, "boot_mac_required", err.message);
  if (err instanceof NotFound) return out(404, "not_found", err.message);
  if (err instanceof PayloadTooLarge) return out(413, "payload_too_large", err.message);
  if (err instanceof ShuttingDown) return out(503, "shutting_down", err.message);
  if (err instanceof IntegrationError) {
    return out(
      err.status === 0 || err.status >= 500 ? 503 : 502,
      `${err.integration}_error`,
      err.message,
    );
  }
  if (err instanceof HTTPException) {
    const code = ({
      400: "bad_request",
      401: "unauthorized",
      403: "forbidden",
      404: "not_found",
      413: "payload_too_large",
      429: "rate_limited",
    } as Record<number, string>)[err.status] ?? "error";
    return out(err.status, code, err.message || code.replace(/_/g, " "));
  }
  if (err instanceof ConfigError) return out(500, "misconfigured", err.message);
  return out(500, "internal", "Internal error: the incident was logged");
}

/** Hono `onError` handler; logs 5xx only. */
export function errorHandler(log: Logger) {
  return (err: Error, c: Context) => {
    const { status, body } = describeError(err);
    if (status >= 500) {
      log.error("request failed", { requestId: c.get("requestId" as never), error: err });
    }
    if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="onboarding"');
    return c.json(body, status as 400);
  };
}
