/** `/api/v1/reference`: Netbox's sites, locations, racks and the rest the form offers. */
import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppDeps, AppEnv } from "../../app_types.ts";

export function referenceRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
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
}
