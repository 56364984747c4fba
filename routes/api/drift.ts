/** `/api/v1/drift`: the check and the repair (lib/registration/drift.ts). */
import type { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  driftQuerySchema,
  driftRepairSchema,
  repairRequested,
} from "../../lib/registration/drift.ts";
import type { AppDeps, AppEnv } from "../../app_types.ts";
import { actorOf, readJson, validate } from "./common.ts";

export function driftRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
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
}
