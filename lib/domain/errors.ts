/** Domain conditions a caller can act on; each maps to one HTTP status in the error mapper. */
import { redactText, truncateSafely } from "./redact.ts";

/** A plain error class whose `name` is `name` (spelled out: class names do not survive bundling). */
function namedError<const N extends string>(name: N) {
  return class extends Error {
    override name: N = name;
  };
}

/** Invalid input: a 400 (or 422) with one message per field. */
export class ValidationFailed extends Error {
  override name = "ValidationFailed";
  constructor(readonly fields: Record<string, string>, message = "The request has invalid fields") {
    super(message);
  }
}

export class NotFound extends namedError("NotFound") {}

/** A Netbox reference (site, rack, …) named in the request does not exist: 422. */
export class UnknownReference extends Error {
  override name = "UnknownReference";
  constructor(readonly field: string, readonly value: string | number) {
    super(`No ${field.replace(/_/g, " ")} "${value}" in Netbox`);
  }
}

/** The rack units are taken by another device: 409. */
export class RackSlotTaken extends Error {
  override name = "RackSlotTaken";
  constructor(readonly rack: string, readonly position: number, readonly otherDevice: string) {
    super(`Rack ${rack} U${position} is already occupied by ${otherDevice}`);
  }
}

/** The MAC belongs to another device (Netbox or Kea) or another registration: 409. */
export class MacAlreadyRegistered extends Error {
  override name = "MacAlreadyRegistered";
  constructor(readonly mac: string, readonly otherDevice: string) {
    super(`BMC MAC ${mac} is already registered to ${otherDevice}`);
  }
}

/** The Metal3 driver needs a boot MAC and none is known: the step ends `blocked`. */
export class BootMacRequired extends Error {
  override name = "BootMacRequired";
  constructor(readonly driver: string) {
    super(
      `The ${driver} driver needs the boot NIC MAC (Metal3 refuses the host without it): scan or enter the boot MAC and retry`,
    );
  }
}

/** A generic 409 (e.g. decommissioning a provisioned host without force). */
export class Conflict extends Error {
  override name = "Conflict";
}

/** The request is larger than the service accepts (e.g. an import over 5,000 servers): 413. */
export class PayloadTooLarge extends namedError("PayloadTooLarge") {}

/** The service is stopping (SIGTERM): no new work is taken; send it again shortly (503). */
export class ShuttingDown extends Error {
  override name = "ShuttingDown";
  constructor() {
    super("The service is shutting down: send the request again in a moment");
  }
}

/** No or invalid credentials (HTTP 401). The message names the reason, never the token. */
export class AuthenticationFailed extends namedError("AuthenticationFailed") {}

/** Valid credentials but not allowed (HTTP 403), e.g. not in the required group. */
export class AccessDenied extends namedError("AccessDenied") {}

/** The login round trip failed (HTTP 400): bad state, refused code, provider error. */
export class LoginFailed extends namedError("LoginFailed") {}

/** Integrations we call; names appear in errors, logs and metrics. */
export type Integration = "netbox" | "openbao" | "kea" | "kubernetes" | "redfish" | "oidc";

/** Any failed external call: names the integration, operation and status; never carries a secret. */
export class IntegrationError extends Error {
  override name = "IntegrationError";
  readonly integration: Integration;
  readonly operation: string;
  readonly method: string;
  /** URL with credentials and secret query values removed. */
  readonly url: string;
  /** HTTP status; 0 for network errors and timeouts. */
  readonly status: number;
  /** Parsed response body (redacted), when there was one. */
  readonly body: unknown;

  constructor(
    init: {
      integration: Integration;
      operation: string;
      method: string;
      url: string;
      status: number;
      body?: unknown;
      message?: string;
      cause?: unknown;
    },
  ) {
    const what = init.status === 0 ? "unreachable" : `HTTP ${init.status}`;
    super(
      init.message ??
        `${init.integration} ${init.operation} failed: ${what} (${init.method} ${init.url})${
          summarizeBody(init.body)
        }`,
      { cause: init.cause },
    );
    this.integration = init.integration;
    this.operation = init.operation;
    this.method = init.method;
    this.url = init.url;
    this.status = init.status;
    this.body = init.body;
  }

  /** Network errors, timeouts, 429 and 5xx are worth another try. */
  get transient(): boolean {
    return isTransientStatus(this.status);
  }
}

export function isTransientStatus(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

/** Longest upstream text kept in a message, after redaction. */
export const DETAIL_MAX = 300;

/**
 * A summary of an error body for a message: the upstream's own message fields (Netbox `detail`
 * or per-field lists, OpenBao `errors`, Redfish `error.message`, a Kubernetes Status' reason and
 * causes, Kea `text`), never a text body copied whole. Redacted before it is cut to length.
 */
export function summarizeBody(body: unknown, secrets: readonly string[] = []): string {
  if (body == null || typeof body !== "object") return "";
  const b = body as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));
  let parts: string[];
  if (b.kind === "Status") {
    const causes = (b.details as { causes?: Record<string, unknown>[] })?.causes ?? [];
    const said = causes.filter((c) => c.message).map((c) =>
      c.field ? `${c.field}: ${text(c.message)}` : text(c.message)
    );
    parts = [
      [b.reason, said.length ? said.join("; ") : b.message].filter(Boolean).map(text).join(": "),
    ];
  } else if ("detail" in b) parts = [text(b.detail)];
  else if ("message" in b) parts = [text(b.message)];
  else if (Array.isArray(b.errors)) parts = b.errors.map(text);
  else if (b.error && typeof b.error === "object") {
    parts = [text((b.error as Record<string, unknown>).message ?? "")];
  } else if (Array.isArray(body)) parts = body.map((a) => text(a?.text ?? ""));
  else {parts = Object.entries(b).map(([k, v]) =>
      `${k}: ${Array.isArray(v) ? v.map(text).join(" ") : text(v)}`
    );}
  const joined = parts.filter(Boolean).join("; ");
  return joined ? `: ${truncateSafely(redactText(joined, secrets), DETAIL_MAX, secrets)}` : "";
}
