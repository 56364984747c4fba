/** What every `/api/v1` route file shares: reading and validating the request, the actor. */
import type { Context } from "hono";
import type { z } from "zod";
import { ValidationFailed } from "../../lib/domain/errors.ts";
import { fieldErrors } from "../../lib/domain/schemas.ts";
import type { AppEnv } from "../../app_types.ts";

/** The JSON body, or a 400 when it is not JSON. */
export async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new ValidationFailed({ body: "The body must be JSON" }, "The body is not valid JSON");
  }
}

/** Validates with a shared schema, or throws a 400 naming each bad field. */
export function validate<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationFailed(fieldErrors(parsed.error));
  return parsed.data;
}

export function actorOf(c: Context<AppEnv>): string {
  return c.get("user")?.sub ?? "anonymous";
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationFailed({ body: "The body must be JSON" }, "The body is not valid JSON");
  }
}
