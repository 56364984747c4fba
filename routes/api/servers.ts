/** `/api/v1/servers` (register, read, retry, decommission, rotate) and `/api/v1/macs`. */
import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ValidationFailed } from "../../lib/domain/errors.ts";
import { canonicalMac } from "../../lib/domain/mac.ts";
import { registerRequestSchema, retryRequestSchema } from "../../lib/domain/schemas.ts";
import { listServers, serverListQuerySchema } from "../../lib/registration/inventory.ts";
import { serverFilters } from "../../lib/registration/inventory_filters.ts";
import { RotationFailed } from "../../lib/registration/rotation.ts";
import { publicView } from "../../lib/state/events.ts";
import type { Registration } from "../../lib/state/store.ts";
import type { AppDeps, AppEnv } from "../../app_types.ts";
import { actorOf, parseJson, readJson, validate } from "./common.ts";

const WAIT_MAX_SECONDS = 300;

function summary(r: Registration) {
  return {
    id: r.id,
    device_name: r.device_name,
    status: r.status,
    links: {
      self: `/api/v1/servers/${r.id}`,
      status: `/api/v1/servers/${r.id}/status`,
      retry: `/api/v1/servers/${r.id}/retry`,
      events: "/api/v1/events",
    },
  };
}

/** Registering a server, waiting for it (`?wait=` seconds) when asked. */
export function registerRoute(app: Hono<AppEnv>, deps: AppDeps): void {
  const { engine } = deps;
  app.post("/servers/register", async (c) => {
    const raw = await readJson(c);
    const input = validate(registerRequestSchema, await decryptOutboxPassword(deps, raw));
    const record = await engine.submit(input, {
      actor: actorOf(c),
      source: "register",
      idempotencyKey: c.req.header("idempotency-key")?.slice(0, 200) || undefined,
    });
    const wait = Number(c.req.query("wait") ?? 0);
    if (!(wait > 0)) return c.json(summary(record), 202);
    const done = await engine.waitFor(record.id, Math.min(wait, WAIT_MAX_SECONDS) * 1000);
    if (done.status === "ok") {
      return c.json({ ...summary(done), registration: publicView(done) }, 201);
    }
    if (done.status === "failed" || done.status === "blocked") {
      return c.json({
        error: {
          code: done.status === "blocked" ? "registration_blocked" : "registration_failed",
          message: done.error ?? "The registration did not complete",
        },
        registration: publicView(done),
      }, done.status === "blocked" ? 409 : 502);
    }
    return c.json(summary(done), 202);
  });
}

/** Reading, retrying, decommissioning and rotating registered servers. */
export function serverRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  const { engine, store } = deps;
  app.get("/macs/:mac", async (c) => {
    const mac = canonicalMac(c.req.param("mac"));
    if (!mac) throw new ValidationFailed({ mac: "Not a MAC address" });
    return c.json(await engine.macHolders(mac));
  });

  const listDeps = { ...deps, kubernetes: deps.integrations.kubernetes };
  app.get("/servers", async (c) => {
    return c.json(await listServers(listDeps, validate(serverListQuerySchema, c.req.query())));
  });

  app.get("/servers/filters", async (c) => {
    return c.json(await serverFilters(listDeps, validate(serverListQuerySchema, c.req.query())));
  });

  app.get("/servers/:id", async (c) => {
    const r = await store.mustGet(c.req.param("id"));
    return c.json({ ...publicView(r), audit: await store.auditTrail(r.id) });
  });

  app.get("/servers/:id/status", async (c) => {
    const r = await store.mustGet(c.req.param("id"));
    return c.json({
      id: r.id,
      device_name: r.device_name,
      status: r.status,
      steps: r.steps,
      error: r.error,
      provisioning: r.provisioning,
    });
  });

  app.post("/servers/:id/retry", async (c) => {
    const text = await c.req.text();
    const input = text.trim() ? validate(retryRequestSchema, parseJson(text)) : {};
    const r = await engine.retry(c.req.param("id"), input, actorOf(c));
    return c.json(summary(r), 202);
  });

  app.delete("/servers/:id", async (c) => {
    const force = c.req.query("force") === "true";
    if (force && deps.authEnabled && !c.get("user")?.admin) {
      throw new HTTPException(403, { message: "Only administrators may force a decommission" });
    }
    const { registration, steps } = await engine.decommission(
      c.req.param("id"),
      { force },
      actorOf(c),
    );
    return c.json({
      id: registration.id,
      device_name: registration.device_name,
      status: registration.status,
      steps,
      // Claims stay until the operator has deleted the host (the record's warning says so).
      ...(registration.host_deletion ? { host_deletion: registration.host_deletion } : {}),
    });
  });

  // Replaces the BMC password (lib/registration/rotation.ts); a failure leaves the old one current (502).
  app.post("/servers/:id/rotate-credentials", async (c) => {
    if (deps.authEnabled && !c.get("user")?.admin) {
      throw new HTTPException(403, { message: "Only administrators may rotate BMC credentials" });
    }
    const id = c.req.param("id");
    try {
      const r = await engine.rotateCredentials(id, actorOf(c));
      return c.json({ id: r.id, device_name: r.device_name, rotation: r.rotation });
    } catch (e) {
      if (!(e instanceof RotationFailed)) throw e;
      const r = await store.mustGet(id);
      return c.json({
        error: { code: "rotation_failed", message: e.message },
        id: r.id,
        device_name: r.device_name,
        rotation: r.rotation,
      }, 502);
    }
  });
}

/** The PWA's offline outbox sends the password encrypted to our outbox key; open it here. */
async function decryptOutboxPassword(deps: AppDeps, raw: unknown): Promise<unknown> {
  if (!raw || typeof raw !== "object" || !("bmc_password_encrypted" in raw)) return raw;
  const { bmc_password_encrypted: sealed, ...rest } = raw as Record<string, unknown>;
  try {
    return { ...rest, bmc_password: await deps.outboxKey.decrypt(String(sealed)) };
  } catch {
    throw new ValidationFailed({
      bmc_password_encrypted:
        "Cannot be decrypted with this server's key: enter the password again",
    });
  }
}
