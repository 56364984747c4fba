/** The `/api/v1` surface: parse, call lib/, respond. No business logic here. */
import { type Context, Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { ValidationFailed } from "../lib/domain/errors.ts";
import { publicView } from "../lib/state/events.ts";
import { canonicalMac } from "../lib/domain/mac.ts";
import { MAX_BODY_BYTES, previewImport, runImport } from "../lib/registration/import.ts";
import { RateLimiter } from "./middleware/rate_limit.ts";
import {
  listServers,
  serverFilters,
  serverListQuerySchema,
} from "../lib/registration/inventory.ts";
import { fieldErrors, registerRequestSchema, retryRequestSchema } from "../lib/domain/schemas.ts";
import { RotationFailed } from "../lib/registration/rotation.ts";
import { driftQuerySchema, driftRepairSchema, repairRequested } from "../lib/registration/drift.ts";
import type { Registration } from "../lib/state/store.ts";
import type { AppDeps, AppEnv } from "../app_types.ts";

const WAIT_MAX_SECONDS = 300;

/** The JSON body, or a 400 when it is not JSON. */
async function readJson(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    throw new ValidationFailed({ body: "The body must be JSON" }, "The body is not valid JSON");
  }
}

/** Validates with a shared schema, or throws a 400 naming each bad field. */
function validate<T extends z.ZodType>(schema: T, raw: unknown): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ValidationFailed(fieldErrors(parsed.error));
  return parsed.data;
}

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

export function actorOf(c: Context<AppEnv>): string {
  return c.get("user")?.sub ?? "anonymous";
}

export function apiRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { engine, store, events } = deps;
  const limiter = new RateLimiter(deps.config.WRITE_RATE_LIMIT);

  // Writes are rate limited per client (user when logged in, else address); the import socket
  // starts an import, so opening it is a write too.
  app.use(async (c, next) => {
    const write = !/^(GET|HEAD)$/.test(c.req.method) || c.req.path.endsWith("/servers/import/ws");
    if (write) {
      const wait = limiter.take(c.get("user")?.sub ?? c.get("clientAddress"));
      if (wait > 0) {
        c.header("Retry-After", String(wait));
        throw new HTTPException(429, { message: `Too many writes: try again in ${wait} s` });
      }
    }
    await next();
  });

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

  app.post("/servers/import", async (c) => {
    const items = await c.req.json().catch(() => {
      throw new ValidationFailed(
        { body: "The body must be a JSON array" },
        "The body is not valid JSON",
      );
    });
    // Preview: the same pre-flight, nothing written.
    if (c.req.query("dry_run") === "true") return c.json(await previewImport(deps, items));
    const results = await runImport(deps, items, { actor: actorOf(c) });
    return c.json(results);
  });

  app.get(
    "/servers/import/ws",
    upgradeWebSocket((c) => {
      const actor = actorOf(c);
      // A client may ask for less parallelism than configured, never more.
      const requested = Number(c.req.query("concurrency"));
      const concurrency = Number.isInteger(requested) && requested >= 1
        ? Math.min(requested, deps.config.IMPORT_CONCURRENCY)
        : undefined;
      let started = false;
      return {
        onOpen: (_e, ws) => void deps.sockets.add(ws),
        onClose: (_e, ws) => void deps.sockets.delete(ws),
        onMessage: (event, ws) => {
          if (started) return;
          started = true;
          const data = event.data;
          const size = typeof data === "string"
            ? new TextEncoder().encode(data).byteLength
            : data instanceof Blob
            ? data.size
            : (data as ArrayBuffer).byteLength;
          if (size > MAX_BODY_BYTES) {
            ws.send(JSON.stringify({
              type: "error",
              error: { code: "payload_too_large", message: "The message is larger than 10 MB" },
            }));
            ws.close(1009, "message too big");
            return;
          }
          let items: unknown;
          try {
            items = JSON.parse(String(event.data));
          } catch {
            ws.send(
              JSON.stringify({
                type: "error",
                error: { code: "invalid_request", message: "Send one JSON array" },
              }),
            );
            ws.close(1003, "invalid JSON");
            return;
          }
          const send = (m: unknown) => {
            if (ws.readyState === 1) ws.send(JSON.stringify(m));
          };
          // The import carries on when the client goes away; it only stops streaming.
          runImport(deps, items, { actor, concurrency, onEvent: send }).then((results) => {
            const ok = results.filter((r) => r.status === "ok").length;
            send({ type: "done", done: true, ok, failed: results.length - ok });
            if (ws.readyState === 1) ws.close(1000, "done");
          }).catch((e) => {
            send({
              type: "error",
              error: { code: "import_failed", message: (e as Error).message },
            });
            if (ws.readyState === 1) ws.close(1011, "import failed");
          });
        },
      };
    }),
  );

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

  // Drift between the record and Netbox, OpenBao, Kea and Metal3 (lib/registration/drift.ts).
  app.get("/drift", async (c) => {
    const { server } = validate(driftQuerySchema, c.req.query());
    return c.json(await deps.drift.check(server));
  });

  app.post("/drift/repair", async (c) => {
    const request = validate(driftRepairSchema, await readJson(c));
    if (request.force && deps.authEnabled && !c.get("user")?.admin) {
      throw new HTTPException(403, { message: "Only administrators may force a drift repair" });
    }
    return c.json(await repairRequested(deps.drift, request, actorOf(c)));
  });

  // Demo only: breaks something in the simulated systems so the Drift page has work.
  app.post("/demo/drift", async (c) => {
    if (!deps.makeDrift) throw new HTTPException(404, { message: "Only in the demo" });
    return c.json({ done: await deps.makeDrift() });
  });

  app.get(
    "/events",
    upgradeWebSocket(() => {
      let unsubscribe = () => {};
      return {
        onOpen: (_e, ws) => {
          deps.sockets.add(ws);
          unsubscribe = events.subscribe((event) => {
            if (ws.readyState === 1) ws.send(JSON.stringify(event));
          });
        },
        onClose: (_e, ws) => {
          deps.sockets.delete(ws);
          unsubscribe();
        },
        onError: () => unsubscribe(),
      };
    }),
  );

  const reference = () => {
    if (!deps.reference) {
      throw new HTTPException(503, { message: "Netbox is not configured: no reference data" });
    }
    return deps.reference;
  };
  // `site` and `location` as users write them: a Netbox id, slug or name.
  const siteParam = async (c: Context) => {
    const v = c.req.query("site")?.trim();
    return v ? (await reference().site(v)).id : undefined;
  };
  app.get("/reference/sites", async (c) => c.json(await reference().sites()));
  app.get(
    "/reference/locations",
    async (c) => c.json(await reference().locations(await siteParam(c))),
  );
  const rackScope = async (c: Context) => {
    const siteId = await siteParam(c);
    const location = c.req.query("location")?.trim();
    const locationId = location ? (await reference().location(location, siteId)).id : undefined;
    return { siteId, locationId };
  };
  app.get("/reference/racks", async (c) => c.json(await reference().racks(await rackScope(c))));
  app.get("/reference/device-types", async (c) => c.json(await reference().deviceTypes()));
  app.get("/reference/device-roles", async (c) => c.json(await reference().deviceRoles()));
  app.get(
    "/reference/prefixes",
    async (c) => c.json(await reference().prefixes(c.req.query("all") === "true")),
  );
  app.get("/reference/tenants", async (c) => c.json(await reference().tenants()));
  // The rack by id, or by name within `?site=&location=` (racks have no slug).
  app.get("/reference/racks/:rack/elevation", async (c) => {
    const ref = c.req.param("rack");
    const id = /^\d+$/.test(ref) && !c.req.query("site") && !c.req.query("location")
      ? Number(ref)
      : (await reference().rack(ref, await rackScope(c))).id;
    return c.json(await reference().elevation(id));
  });

  app.get("/config/public", (c) =>
    c.json({
      device_name_template: deps.config.DEVICE_NAME_TEMPLATE,
      demo: Boolean(deps.demo),
      auth_enabled: deps.authEnabled,
      bmc_driver: deps.config.BMC_DRIVER,
      outbox_public_key: deps.outboxKey.publicJwk,
    }));

  return app;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationFailed({ body: "The body must be JSON" }, "The body is not valid JSON");
  }
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
