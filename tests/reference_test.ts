/** Netbox references as users write them: the reference API, the BMC prefix picker and the
 * servers list's site filter, against the simulated Netbox. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp } from "./app_harness.ts";
import { RegistrationStore } from "../lib/state/store.ts";
import { siteFilter } from "../lib/registration/reference.ts";
import { backends } from "./state_backends.ts";

Deno.test("reference API: site and location by id, slug or name", async (t) => {
  await using app = await startTestApp();
  const nb = app.world.netbox;
  const siteId = [...nb.sites.values()].find((s) => s.slug === "dcoa")!.id;
  const locationId = [...nb.locations.values()].find((l) => l.slug === "hall-a")!.id;
  // A second site with a location of the same slug: only the site tells them apart.
  const dcob = nb.addSite({ name: "DCOB", slug: "dcob" });
  const hallB = nb.addLocation({ name: "Hall A", slug: "hall-a", siteId: dcob.id });
  nb.addRack({ name: "RC01", siteId: dcob.id, locationId: hallB.id });
  const get = async (path: string) => await app.call("GET", `/api/v1/reference/${path}`);

  await t.step("locations?site= takes the id, the slug and the name alike", async () => {
    for (const site of [String(siteId), "dcoa", "DCOA", " dcoa "]) {
      const res = await get(`locations?site=${encodeURIComponent(site)}`);
      assertEquals(res.status, 200, `${site}: ${res.text}`);
      assertEquals(res.body.map((l: { id: number }) => l.id), [locationId], site);
    }
  });

  await t.step("racks?location= takes the id, the slug or the name, within a site", async () => {
    for (const query of [`location=${locationId}`, "site=dcoa&location=hall-a"]) {
      const res = await get(`racks?${query}`);
      assertEquals(res.status, 200, res.text);
      assertEquals(res.body.map((r: { name: string }) => r.name), ["RB06", "RB07"], query);
    }
    const byName = await get("racks?site=DCOB&location=Hall%20A");
    assertEquals(byName.body.map((r: { name: string }) => r.name), ["RC01"]);
    const bySite = await get("racks?site=dcoa");
    assertEquals(bySite.body.map((r: { name: string }) => r.name), ["RB06", "RB07"]);
  });

  await t.step("a rack's elevation by id, or by name within the site and location", async () => {
    const rb06 = [...nb.racks.values()].find((r) => r.name === "RB06")!;
    const byId = await get(`racks/${rb06.id}/elevation`);
    assertEquals(byId.status, 200, byId.text);
    for (const query of ["site=dcoa", "site=DCOA&location=Hall%20A", "location=" + locationId]) {
      const res = await get(`racks/rb06/elevation?${query}`);
      assertEquals(res.status, 200, `${query}: ${res.text}`);
      assertEquals(res.body, byId.body, query);
    }
    assertEquals((await get("racks/RB06/elevation")).body, byId.body);
    assertEquals((await get("racks/RB99/elevation?site=dcoa")).status, 422);
  });

  await t.step("a location slug two sites share: 409 asking for the id or the site", async () => {
    const res = await get("racks?location=hall-a");
    assertEquals(res.status, 409, res.text);
    assert(res.body.error.message.includes("or give the site"), res.body.error.message);
  });

  await t.step("an unknown site or location: 422 naming the field", async () => {
    const site = await get("locations?site=dcox");
    assertEquals(site.status, 422);
    assertEquals(Object.keys(site.body.error.fields), ["site"]);
    assertEquals(site.body.error.message, 'No site "dcox" in Netbox');
    const location = await get("racks?site=dcoa&location=ra07");
    assertEquals(location.status, 422);
    assertEquals(Object.keys(location.body.error.fields), ["location"]);
  });
});

Deno.test("reference API: the BMC prefix picker lists BMC-role prefixes", async (t) => {
  await t.step("the prefix whose role is bmc, alone; ?all=true adds the others after", async () => {
    await using app = await startTestApp();
    const nb = app.world.netbox;
    const pxe = nb.addIpamRole({ name: "Provisioning", slug: "provisioning" });
    nb.addPrefix({ prefix: "172.16.0.0/22", description: "PXE", roleId: pxe.id });
    nb.addPrefix({ prefix: "10.0.0.0/16", description: "no role" });
    const oob = nb.addIpamRole({ name: "OOB", slug: "out-of-band" });
    nb.addPrefix({ prefix: "10.16.29.0/24", description: "OOB by name", roleId: oob.id });
    const res = await app.call("GET", "/api/v1/reference/prefixes");
    assertEquals(res.status, 200);
    // bmc before oob (the configured order), matched by slug or by name.
    assertEquals(res.body.map((p: { prefix: string }) => p.prefix), [
      "10.16.28.0/24",
      "10.16.29.0/24",
    ]);
    assertEquals(res.body[0].role, { id: 1, name: "BMC", slug: "bmc" });
    const all = await app.call("GET", "/api/v1/reference/prefixes?all=true");
    assertEquals(all.body.map((p: { prefix: string }) => p.prefix), [
      "10.16.28.0/24",
      "10.16.29.0/24",
      "172.16.0.0/22",
      "10.0.0.0/16",
    ]);
  });

  await t.step("ONBOARDING_BMC_PREFIX_ROLES chooses the roles", async () => {
    await using app = await startTestApp({ env: { BMC_PREFIX_ROLES: "Provisioning" } });
    const nb = app.world.netbox;
    const pxe = nb.addIpamRole({ name: "Provisioning", slug: "pxe" });
    nb.addPrefix({ prefix: "172.16.0.0/22", roleId: pxe.id });
    const res = await app.call("GET", "/api/v1/reference/prefixes");
    assertEquals(res.body.map((p: { prefix: string }) => p.prefix), ["172.16.0.0/22"]);
  });

  await t.step("every prefix when none has a BMC role", async () => {
    await using app = await startTestApp();
    const nb = app.world.netbox;
    for (const p of nb.prefixes.values()) p.role_id = null;
    nb.addPrefix({ prefix: "172.16.0.0/22" });
    const res = await app.call("GET", "/api/v1/reference/prefixes");
    assertEquals(res.body.map((p: { prefix: string }) => p.prefix), [
      "10.16.28.0/24",
      "172.16.0.0/22",
    ]);
  });
});

Deno.test("GET /servers?site= finds the same servers by the site's id, slug and name", async (t) => {
  await using app = await startTestApp();
  const siteId = [...app.world.netbox.sites.values()].find((s) => s.slug === "dcoa")!.id;
  const items = [
    { ...FULL_ITEM, site: "dcoa" },
    {
      ...FULL_ITEM,
      device_name: "dcoa-rb06u32",
      bmc_mac: "3c:ec:ef:a1:9c:f2",
      position: 32,
      site: "DCOA",
    },
    {
      ...FULL_ITEM,
      device_name: "dcoa-rb06u33",
      bmc_mac: "3c:ec:ef:a1:9c:f3",
      position: 33,
      site: siteId,
    },
    MINIMAL_ITEM,
  ];
  const res = await app.call("POST", "/api/v1/servers/import", items);
  assertEquals(res.body.map((r: { status: string }) => r.status), ["ok", "ok", "ok", "ok"]);
  const names = async (site: string) => {
    // Our registrations only (the list also shows the Netbox devices we did not register).
    const list = await app.call(
      "GET",
      `/api/v1/servers?source=ours&site=${encodeURIComponent(site)}`,
    );
    assertEquals(list.status, 200, list.text);
    return list.body.items.map((r: { device_name: string }) => r.device_name).sort();
  };
  const dcoa = ["dcoa-rb06u31", "dcoa-rb06u32", "dcoa-rb06u33"];

  await t.step("id, slug and name give the same three", async () => {
    for (const site of [String(siteId), "dcoa", "DCOA", "Dcoa"]) {
      assertEquals(await names(site), dcoa, site);
    }
  });

  await t.step("another site, or one Netbox does not know, gives none", async () => {
    app.world.netbox.addSite({ name: "DCOB", slug: "dcob" });
    assertEquals(await names("dcob"), []);
    assertEquals(await names("nowhere"), []);
  });
});

for (const backend of backends("the site filter on PostgreSQL")) {
  Deno.test(`${backend.name}: RegistrationStore.list(): a resolved site filter also finds records not yet resolved`, async () => {
    const state = await backend.open();
    try {
      const store = new RegistrationStore(state.kv, state.coordination);
      const base = {
        status: "queued" as const,
        source: "import" as const,
        bmc_username: "ADMIN",
        steps: {} as never,
        created: {},
        warnings: [],
        actor: "test",
        created_at: "",
        updated_at: "",
      };
      const records = [
        { id: "a", device_name: "a", bmc_mac: "3c:ec:ef:00:00:01", request: { site: "dcoa" } },
        { id: "b", device_name: "b", bmc_mac: "3c:ec:ef:00:00:02", request: { site: 1 } },
        { id: "c", device_name: "c", bmc_mac: "3c:ec:ef:00:00:03", request: { site: "DCOA" } },
        { id: "d", device_name: "d", bmc_mac: "3c:ec:ef:00:00:04", request: { site: "dcob" } },
        {
          id: "e",
          device_name: "e",
          bmc_mac: "3c:ec:ef:00:00:05",
          request: { site: "elsewhere" },
          resolved: { siteId: 1, siteSlug: "dcoa", siteName: "DCOA" } as never,
        },
      ];
      for (const r of records) await store.create({ ...base, ...r });
      const found = async (site: Parameters<typeof store.list>[0]) =>
        (await store.list(site)).items.map((r) => r.id).sort();
      const resolved = { id: 1, names: ["1", "dcoa", "dcoa"] };
      assertEquals(await found({ site: resolved }), ["a", "b", "c", "e"]);
      // Without Netbox only the text as written can match.
      assertEquals(await found({ site: "DCOA" }), ["a", "c", "e"]);
      assertEquals(await found({ site: await siteFilter(undefined, "dcob") }), ["d"]);
    } finally {
      await state.close();
    }
  });
}

Deno.test("every Netbox field of an import item by id, slug or name", async () => {
  await using app = await startTestApp();
  const nb = app.world.netbox;
  const id = <T extends { id: number }>(m: Map<number, T>, f: (o: T) => boolean) =>
    [...m.values()].find(f)!.id;
  const byIds = {
    site: id(nb.sites, (s) => s.slug === "dcoa"),
    location: id(nb.locations, (l) => l.slug === "hall-a"),
    rack: id(nb.racks, (r) => r.name === "RB06"),
    device_type: id(nb.deviceTypes, (d) => d.slug === "sys-1029u"),
    device_role: id(nb.roles, (r) => r.slug === "server"),
    tenant: id(nb.tenants, (r) => r.slug === "platform"),
    bmc_prefix: id(nb.prefixes, (p) => p.prefix === "10.16.28.0/24"),
  };
  const bySlugs = {
    site: "dcoa",
    location: "hall-a",
    rack: "RB06",
    device_type: "sys-1029u",
    device_role: "server",
    tenant: "platform",
    bmc_prefix: "10.16.28.0/24",
  };
  const byNames = {
    site: "DCOA",
    location: "Hall A",
    rack: "rb06",
    device_type: "SYS-1029U-TRT",
    device_role: "Server",
    tenant: "Platform",
    bmc_prefix: "10.16.28.0/24",
  };
  const items = [byIds, bySlugs, byNames].map((refs, i) => ({
    device_name: `dcoa-rb06u${20 + i}`,
    bmc_mac: `3c:ec:ef:a1:20:0${i}`,
    bmc_password: "S3cr3t!pass",
    position: 20 + i,
    ...refs,
  }));
  const res = await app.call("POST", "/api/v1/servers/import", items);
  assertEquals(res.status, 200, res.text);
  for (const r of res.body) assertEquals(r.status, "ok", r.error);
  const devices = items.map((i) => [...nb.devices.values()].find((d) => d.name === i.device_name)!);
  const refsOf = (d: (typeof devices)[number]) => [
    d.site_id,
    d.location_id,
    d.rack_id,
    d.device_type_id,
    d.role_id,
    d.tenant_id,
  ];
  assertEquals(refsOf(devices[1]), refsOf(devices[0]));
  assertEquals(refsOf(devices[2]), refsOf(devices[0]));
});
