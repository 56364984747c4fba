/** The two resource types the fake serves, and its Status errors (NotFound, Invalid, Conflict, …). */
import type { FieldCause } from "./schema.ts";

export interface ResourceType {
  kind: "Secret" | "BareMetalHost";
  plural: string;
  group: string;
  apiVersion: string;
  /** `secrets` / `baremetalhosts.metal3.io`, as the API server names them in messages. */
  qualified: string;
  /** Kind as written in Invalid messages: `Secret` / `BareMetalHost.metal3.io`. */
  qualifiedKind: string;
  statusSubresource: boolean;
  /** Custom resources refuse an update without metadata.resourceVersion. */
  unconditionalUpdate: boolean;
}

export const SECRETS: ResourceType = {
  kind: "Secret",
  plural: "secrets",
  group: "",
  apiVersion: "v1",
  qualified: "secrets",
  qualifiedKind: "Secret",
  statusSubresource: false,
  unconditionalUpdate: true,
};
export const BMHS: ResourceType = {
  kind: "BareMetalHost",
  plural: "baremetalhosts",
  group: "metal3.io",
  apiVersion: "metal3.io/v1alpha1",
  qualified: "baremetalhosts.metal3.io",
  qualifiedKind: "BareMetalHost.metal3.io",
  statusSubresource: true,
  unconditionalUpdate: false,
};

/** A response that is not the happy path; thrown inside the fake and turned into a Status. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
  toJSON() {
    return {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

export const notFound = (t: ResourceType, name: string) =>
  new StatusError(404, "NotFound", `${t.qualified} "${name}" not found`, {
    name,
    group: t.group,
    kind: t.plural,
  });

export function invalid(t: ResourceType, name: string, causes: FieldCause[]): StatusError {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  return new StatusError(422, "Invalid", `${t.qualifiedKind} "${name}" is invalid: ${list}`, {
    name,
    group: t.group,
    kind: t.kind,
    causes: causes.map((c) => ({ reason: c.reason, message: c.message, field: c.field })),
  });
}

export const badRequest = (message: string) => new StatusError(400, "BadRequest", message);

export function conflictModified(t: ResourceType, name: string): StatusError {
  return new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${t.qualified} "${name}": the object has been modified; ` +
      "please apply your changes to the latest version and try again",
    { name, group: t.group, kind: t.plural },
  );
}
