/** `/api/v1/drift`: the latest check, a check now, and the repair (lib/registration/drift.ts). */
import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  checkRequested,
  driftCheckSchema,
  driftQuerySchema,
  driftRepairSchema,
  repairRequested,
} from "../../lib/registration/drift.ts";
import type { AppDeps, AppEnv } from "../../app_types.ts";
import { actorOf, parseJson, readJson, validate } from "./common.ts";

export function driftRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  // Drift between the record and Netbox, OpenBao, Kea and Metal3 (lib/registration/drift.ts):
  // the latest check as stored, a page at a time; checking reads every system (minutes at scale).
  app.get("/drift", async (c) => {
    return c.json(await deps.drift.view(validate(driftQuerySchema, c.req.query())));
  });

  app.post("/drift/check", async (c) => {
    const text = await c.req.text();
    const request = validate(driftCheckSchema, text.trim() ? parseJson(text) : {});
    return c.json(await checkRequested(deps.drift, request));
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
}
