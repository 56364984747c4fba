/**
 * Go: registers online (with a fresh idempotency key), or queues the registration in the outbox
 * with its password encrypted when there is no network.
 */
import { api, errorMessage } from "../../client/api.ts";
import { queueRegistration } from "../../client/outbox.ts";
import { type Progress, type registrationBody, STEPS } from "./model.ts";

export type GoResult = { error: string } | { queued: string } | { progress: Progress };

export async function register(
  body: ReturnType<typeof registrationBody>,
  password: string,
  outboxKey: JsonWebKey | null | undefined,
  preview: string,
): Promise<GoResult> {
  const queue = async (): Promise<GoResult> => {
    if (!outboxKey) {
      return { error: "Offline and no server key known yet: connect once, then try again." };
    }
    await queueRegistration(body, password, outboxKey, preview);
    return { queued: preview };
  };
  if (!navigator.onLine) return await queue();
  try {
    const answer = await api<{ id: string; device_name: string; status: string }>(
      "POST",
      "/api/v1/servers/register",
      {
        body: { ...body, bmc_password: password },
        headers: { "idempotency-key": crypto.randomUUID() },
      },
    );
    if (!answer.ok) return { error: errorMessage(answer) };
    return {
      progress: {
        id: answer.body.id,
        device_name: answer.body.device_name,
        status: answer.body.status,
        steps: Object.fromEntries(STEPS.map((s) => [s, { status: "pending" }])),
      },
    };
  } catch {
    return await queue();
  }
}
