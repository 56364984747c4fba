/** Liveness, readiness and metrics endpoints. */
import { type Context, Hono } from "hono";
import { inNetworks } from "../lib/domain/client_address.ts";
import { IntegrationError } from "../lib/domain/errors.ts";
import type { AppDeps, AppEnv } from "../app_types.ts";
import { keys } from "../lib/state/keys.ts";

const READY_TIMEOUT_MS = 3000;

class ReadyTimeout extends Error {
  override name = "ReadyTimeout";
}

/** A failure reduced to a class that says nothing about the upstream's answer. */
function failureClass(e: unknown): string {
  if (e instanceof ReadyTimeout) return "timeout";
  if (e instanceof IntegrationError) {
    if (e.status === 0) return /no answer within/.test(e.message) ? "timeout" : "unreachable";
    return `http ${Math.floor(e.status / 100)}xx`;
  }
  return "error";
}

/** Equal-time comparison of two strings (the metrics token). */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * `/healthz` (open), `/readyz` (open; upstream detail only for scrapers) and `/metrics` (scrapers
 * only). A scraper is a client inside ONBOARDING_METRICS_NETWORKS, or one that sends
 * `Authorization: Bearer <ONBOARDING_METRICS_TOKEN>`.
 */
export function systemRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { METRICS_NETWORKS: networks, METRICS_TOKEN: token } = deps.config;
  const isScraper = (c: Context<AppEnv>) => {
    const client = c.get("clientAddress");
    // No socket peer means an in-process call (tests, the demo's own checks).
    if (client === "local" || inNetworks(client, networks)) return true;
    const bearer = /^Bearer +(\S+) *$/i.exec(c.req.header("authorization") ?? "")?.[1];
    return Boolean(token && bearer && sameText(bearer, token));
  };

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.get("/readyz", async (c) => {
    const detail = isScraper(c);
    type Check = { status: "ok" | "failed" | "not configured"; class?: string; message?: string };
    const checks: Record<string, Check> = {};
    const probe = async (name: string, fn: (() => Promise<unknown>) | undefined) => {
      if (!fn) {
        checks[name] = { status: "not configured" };
        return;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          fn(),
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new ReadyTimeout(`no answer within ${READY_TIMEOUT_MS} ms`)),
              READY_TIMEOUT_MS,
            );
          }),
        ]);
        checks[name] = { status: "ok" };
      } catch (e) {
        checks[name] = {
          status: "failed",
          class: failureClass(e),
          ...(detail ? { message: (e as Error).message } : {}),
        };
      } finally {
        clearTimeout(timer);
      }
    };
    const i = deps.integrations;
    await Promise.all([
      probe("kv", async () => await deps.kv.get(keys.readiness())),
      probe("netbox", i.netbox && (() => i.netbox!.health())),
      probe("openbao", i.openbao && (() => i.openbao!.health())),
      probe("kea", i.kea && (() => i.kea!.health())),
      probe("kubernetes", i.kubernetes && (() => i.kubernetes!.health())),
    ]);
    // Only KV is fatal: an unreachable integration fails its step, which is retryable, so the pod stays in rotation.
    const ready = checks.kv.status === "ok";
    return c.json({ status: ready ? "ready" : "not ready", checks }, ready ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    if (!isScraper(c)) {
      return c.json({
        error: {
          code: "forbidden",
          message: "Metrics are served to ONBOARDING_METRICS_NETWORKS or with the metrics token",
        },
      }, 403);
    }
    return c.body(await deps.metrics.render(), 200, { "content-type": deps.metrics.contentType });
  });
  return app;
}
