/** Liveness, readiness and metrics endpoints. */
import { Hono } from "hono";
import type { AppDeps } from "../main.ts";

const READY_TIMEOUT_MS = 3000;

/** `/healthz`, `/readyz` (KV and each configured integration, with detail) and `/metrics`. */
export function systemRoutes(deps: AppDeps): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const checks: Record<string, { status: "ok" | "failed" | "not configured"; message?: string }> =
      {};
    const probe = async (name: string, fn: (() => Promise<unknown>) | undefined) => {
      if (!fn) {
        checks[name] = { status: "not configured" };
        return;
      }
      try {
        await Promise.race([
          fn(),
          new Promise((_, reject) =>
            setTimeout(
              () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
              READY_TIMEOUT_MS,
            )
          ),
        ]);
        checks[name] = { status: "ok" };
      } catch (e) {
        checks[name] = { status: "failed", message: (e as Error).message };
      }
    };
    const i = deps.integrations;
    await Promise.all([
      probe("kv", async () => await deps.kv.get(["readyz"])),
      probe("netbox", i.netbox && (() => i.netbox!.health())),
      probe("openbao", i.openbao && (() => i.openbao!.health())),
      probe("kea", i.kea && (() => i.kea!.health())),
      probe("kubernetes", i.kubernetes && (() => i.kubernetes!.health())),
    ]);
    // Only KV is fatal: an unreachable integration fails its step, which is retryable, so the pod stays in rotation.
    const ready = checks.kv.status === "ok";
    return c.json({ status: ready ? "ready" : "not ready", checks }, ready ? 200 : 503);
  });

  app.get(
    "/metrics",
    (c) =>
      c.body(deps.metrics.render(), 200, {
        "content-type": "text/plain; version=0.0.4; charset=utf-8",
      }),
  );
  return app;
}
