/** Redfish BMC check against the Redfish fake: vendors, wrong password, non-Redfish hosts, faults. */
import assert from "node:assert/strict";
import { type BmcCheck, createRedfishClient } from "../lib/redfish.ts";
import { createFakeRedfish, type FakeRedfishOptions } from "../lib/sim/redfish.ts";
import { asFetch, type Handler, serveFake } from "../lib/sim/faults.ts";
import { createLogger } from "../lib/log.ts";
import { Metrics } from "../lib/metrics.ts";

const PASSWORD = "Zk4-label-p4ss";
const creds = { host: "10.16.28.31", username: "ADMIN", password: PASSWORD };

function setup(options: Partial<FakeRedfishOptions> = {}, timeoutMs?: number) {
  const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD, ...options });
  const client = createRedfishClient({ fetch: asFetch(fake.handler), timeoutMs });
  return { fake, client };
}

function failed(check: BmcCheck, outcome: string): string {
  assert.equal(check.outcome, outcome, JSON.stringify(check));
  assert.ok("message" in check);
  return check.message;
}

Deno.test("checkBmc() reads vendor, model, serial, system and NIC MACs", async (t) => {
  await t.step("Supermicro: /redfish/v1/Systems/1", async () => {
    const { fake, client } = setup({
      serial: "S99887766",
      nicMacs: ["3C:EC:EF:00:11:22", "3c-ec-ef-00-11-23"],
    });
    assert.deepEqual(await client.checkBmc(creds), {
      outcome: "ok",
      vendor: "Supermicro",
      model: "SYS-1029U-TRT",
      serial: "S99887766",
      systemId: "1",
      systemPath: "/redfish/v1/Systems/1",
      passwordChangeRequired: false,
      nicMacs: ["3c:ec:ef:00:11:22", "3c:ec:ef:00:11:23"],
    });
    assert.ok(fake.state.requests.includes("GET /redfish/v1/"));
    assert.equal(fake.state.authFailures, 0);
  });

  await t.step("Dell: System.Embedded.1 path, upper-case MACs canonicalised", async () => {
    const { client } = setup({ vendor: "Dell", nicMacs: ["b0:83:fe:aa:bb:01"] });
    const check = await client.checkBmc(creds);
    assert.equal(check.outcome, "ok");
    if (check.outcome !== "ok") return;
    assert.equal(check.vendor, "Dell Inc.");
    assert.equal(check.systemId, "System.Embedded.1");
    assert.equal(check.systemPath, "/redfish/v1/Systems/System.Embedded.1");
    assert.deepEqual(check.nicMacs, ["b0:83:fe:aa:bb:01"]);
  });

  await t.step("HPE: MACAddress only, no PermanentMACAddress", async () => {
    const { client } = setup({ vendor: "HPE", nicMacs: ["94:40:c9:00:00:01"] });
    const check = await client.checkBmc(creds);
    assert.equal(check.outcome === "ok" && check.nicMacs[0], "94:40:c9:00:00:01");
  });

  await t.step("the unauthenticated probe carries no credentials", async () => {
    const seen: (string | null)[] = [];
    const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD });
    const client = createRedfishClient({
      fetch: asFetch((req) => {
        if (new URL(req.url).pathname === "/redfish/v1/") {
          seen.push(req.headers.get("authorization"));
        }
        return fake.handler(req);
      }),
    });
    await client.checkBmc(creds);
    assert.deepEqual(seen, [null]);
  });

  await t.step("https on the default port, or a configured scheme and port", async () => {
    const urls: string[] = [];
    const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD });
    const recording = (req: Request) => {
      urls.push(new URL(req.url).origin);
      return fake.handler(req);
    };
    await createRedfishClient({ fetch: asFetch(recording) }).checkBmc(creds);
    await createRedfishClient({ fetch: asFetch(recording), scheme: "http", port: 8443 })
      .checkBmc({ ...creds, host: "fd00::31" });
    assert.equal(urls[0], "https://10.16.28.31");
    assert.equal(urls.at(-1), "http://[fd00::31]:8443");
  });
});

/** Runs `fn` with a fetch that answers after `ms`; returns the longest chain of calls in which each
 * starts after the previous one ended (sequential round trips) and the calls made. */
async function roundTrips(handler: Handler, fn: (f: typeof fetch) => Promise<unknown>, ms = 5) {
  const calls: { path: string; auth: boolean; start: number; end: number }[] = [];
  await fn(asFetch(async (req) => {
    const call = {
      path: new URL(req.url).pathname,
      auth: req.headers.has("authorization"),
      start: performance.now(),
      end: Infinity,
    };
    calls.push(call);
    await new Promise((r) => setTimeout(r, ms));
    try {
      return await handler(req);
    } finally {
      call.end = performance.now();
    }
  }));
  const depth = new Map<typeof calls[number], number>();
  for (const c of calls.toSorted((a, b) => a.end - b.end)) {
    const before = calls.filter((o) => o.end <= c.start).map((o) => depth.get(o) ?? 0);
    depth.set(c, 1 + Math.max(0, ...before));
  }
  return { rounds: Math.max(...depth.values()), calls };
}

Deno.test("checkBmc() asks independent questions side by side", async (t) => {
  await t.step("a standard BMC takes three round trips", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD, vendor: "Dell" });
    let check: BmcCheck | undefined;
    const { rounds, calls } = await roundTrips(fake.handler, async (f) => {
      check = await createRedfishClient({ fetch: f }).checkBmc(creds);
    });
    assert.equal(check?.outcome === "ok" && check.nicMacs.length, 2);
    assert.equal(check?.outcome === "ok" && check.passwordChangeRequired, false);
    // ServiceRoot ∥ Systems; system ∥ NIC collection ∥ AccountService ∥ Accounts; NICs ∥ accounts.
    assert.equal(rounds, 3, JSON.stringify(calls.map((c) => c.path)));
    assert.equal(calls.length, 10);
  });

  await t.step("a wrong password is sent once, with nothing else alongside", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: "the-real-one" });
    const { calls } = await roundTrips(fake.handler, async (f) => {
      failed(await createRedfishClient({ fetch: f }).checkBmc(creds), "wrong-password");
    });
    assert.deepEqual(calls.filter((c) => c.auth).map((c) => c.path), ["/redfish/v1/Systems"]);
    assert.equal(fake.state.authFailures, 1);
  });

  await t.step("links at non-standard paths are followed, the guesses ignored", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD });
    const moved: Handler = async (req) => {
      const url = new URL(req.url);
      const at = (path: string) => fake.handler(new Request(new URL(path, url), req));
      const rewrite = async (res: Response, from: string, to: string) =>
        Response.json(JSON.parse((await res.text()).replaceAll(`"${from}"`, `"${to}"`)));
      switch (url.pathname) {
        case "/redfish/v1/":
          return rewrite(await at(url.pathname), "/redfish/v1/Systems", "/redfish/v1/Hosts");
        case "/redfish/v1/Hosts":
          return at("/redfish/v1/Systems");
        case "/redfish/v1/Systems":
        case "/redfish/v1/Systems/1/EthernetInterfaces":
          return Response.json({ error: { code: "Base.1.19.ResourceMissingAtURI" } }, {
            status: 404,
          });
        case "/redfish/v1/Systems/1":
          return rewrite(
            await at(url.pathname),
            "/redfish/v1/Systems/1/EthernetInterfaces",
            "/redfish/v1/Systems/1/Nics",
          );
        case "/redfish/v1/Systems/1/Nics":
          return at("/redfish/v1/Systems/1/EthernetInterfaces");
        default:
          return fake.handler(req);
      }
    };
    const check = await createRedfishClient({ fetch: asFetch(moved) }).checkBmc(creds);
    assert.equal(check.outcome === "ok" && check.systemPath, "/redfish/v1/Systems/1");
    assert.deepEqual(check.outcome === "ok" && check.nicMacs, [
      "3c:ec:ef:a1:9c:ea",
      "3c:ec:ef:a1:9c:eb",
    ]);
  });
});

Deno.test("checkBmc() reports a password that must be changed", async (t) => {
  await t.step("DSP0266: 403 PasswordChangeRequired on Systems → ok, flagged", async () => {
    const { client } = setup({ vendor: "Lenovo", passwordChangeRequired: true });
    const check = await client.checkBmc(creds);
    assert.equal(check.outcome, "ok");
    assert.equal(check.outcome === "ok" && check.passwordChangeRequired, true);
    assert.equal(check.outcome === "ok" && check.vendor, "Lenovo");
  });

  await t.step("firmware that only flags the account → read from ManagerAccount", async () => {
    const { client } = setup({ passwordChangeRequired: true, enforcePasswordChange: false });
    const check = await client.checkBmc(creds);
    assert.equal(check.outcome === "ok" && check.passwordChangeRequired, true);
    assert.equal(check.outcome === "ok" && check.serial, "S421234X0123456");
  });
});

Deno.test("checkBmc() classifies failures", async (t) => {
  await t.step("wrong password → wrong-password with an actionable message", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: "the-real-one" });
    const client = createRedfishClient({ fetch: asFetch(fake.handler) });
    const message = failed(await client.checkBmc(creds), "wrong-password");
    assert.equal(
      message,
      "The BMC rejected the scanned password for user ADMIN: rescan the password label",
    );
    assert.equal(fake.state.authFailures, 1, "a 401 is not retried (it could lock the account)");
  });

  await t.step("wrong user → wrong-password naming the user", async () => {
    const { client } = setup();
    const message = failed(await client.checkBmc({ ...creds, username: "root" }), "wrong-password");
    assert.match(message, /user root/);
  });

  await t.step("a web server without Redfish (HTML 404) → not-redfish", async () => {
    const html: Handler = () =>
      new Response("<html>Not Found</html>", {
        status: 404,
        headers: { "content-type": "text/html" },
      });
    const client = createRedfishClient({ fetch: asFetch(html) });
    assert.match(failed(await client.checkBmc(creds), "not-redfish"), /HTTP 404/);
  });

  await t.step("a 200 HTML page at /redfish/v1/ → not-redfish", async () => {
    const client = createRedfishClient({
      fetch: asFetch(() => new Response("<html>login</html>", { status: 200 })),
    });
    failed(await client.checkBmc(creds), "not-redfish");
  });

  await t.step("JSON that is not a ServiceRoot → not-redfish", async () => {
    const client = createRedfishClient({ fetch: asFetch(() => Response.json({ hello: 1 })) });
    failed(await client.checkBmc(creds), "not-redfish");
  });

  await t.step("network error → unreachable after 2 attempts", async () => {
    const { fake, client } = setup();
    fake.faults.add({ drop: true });
    failed(await client.checkBmc(creds), "unreachable");
    // The probe and the credential check, each tried twice.
    assert.deepEqual(fake.state.requests.toSorted(), [
      "GET /redfish/v1/",
      "GET /redfish/v1/",
      "GET /redfish/v1/Systems",
      "GET /redfish/v1/Systems",
    ]);
  });

  await t.step("a 503 then success → ok (one retry)", async () => {
    const { fake, client } = setup();
    fake.faults.add({ match: "GET /redfish/v1/Systems", status: 503, times: 1 });
    assert.equal((await client.checkBmc(creds)).outcome, "ok");
  });

  await t.step("5xx on every try → unreachable, retry later", async () => {
    const { fake, client } = setup();
    fake.faults.add({ match: "GET /redfish/v1/Systems", status: 500 });
    assert.match(failed(await client.checkBmc(creds), "unreachable"), /HTTP 500/);
  });

  await t.step("no answer within timeoutMs → unreachable", async () => {
    const { fake, client } = setup({}, 40);
    fake.faults.add({ delayMs: 120, times: 4 }); // probe and credential check, twice each
    assert.match(failed(await client.checkBmc(creds), "unreachable"), /no answer within 40 ms/);
    await new Promise((r) => setTimeout(r, 150)); // let the fake's delayed handlers finish
  });

  await t.step("a NIC collection that fails still gives ok without MACs", async () => {
    const { fake, client } = setup();
    fake.faults.add({ match: "/EthernetInterfaces", status: 404 });
    const check = await client.checkBmc(creds);
    assert.deepEqual(check.outcome === "ok" && check.nicMacs, []);
  });

  await t.step("a link to another host is not followed with credentials", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD });
    const hosts: string[] = [];
    const client = createRedfishClient({
      fetch: asFetch(async (req) => {
        hosts.push(new URL(req.url).host);
        const res = await fake.handler(req);
        if (new URL(req.url).pathname !== "/redfish/v1/Systems") return res;
        return Response.json({ Members: [{ "@odata.id": "https://evil.example/redfish/v1/S" }] });
      }),
    });
    failed(await client.checkBmc(creds), "not-redfish");
    assert.ok(hosts.every((h) => h === "10.16.28.31"));
  });
});

Deno.test("checkBmc() over a real socket", async (t) => {
  const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD, vendor: "Dell" });
  await using server = serveFake(fake.handler);
  const metrics = new Metrics();
  const client = createRedfishClient({ scheme: "http", port: server.port, metrics });
  const local = { ...creds, host: "127.0.0.1" };

  await t.step("ok, with the call metrics recorded", async () => {
    const check = await client.checkBmc(local);
    assert.equal(check.outcome === "ok" && check.systemId, "System.Embedded.1");
    assert.match(metrics.render(), /integration="redfish",operation="check BMC"/);
  });

  await t.step("the 401 carries WWW-Authenticate Basic", async () => {
    const res = await fetch(`${server.url}/redfish/v1/Systems`);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate") ?? "", /^Basic realm=/);
    await res.body?.cancel();
  });

  await t.step("one dropped connection is retried", async () => {
    fake.faults.add({ match: "GET /redfish/v1/Systems", drop: true, times: 1 });
    assert.equal((await client.checkBmc(local)).outcome, "ok");
  });

  await t.step("connections dropped every time → unreachable", async () => {
    fake.faults.add({ match: "GET /redfish/v1/", drop: true, times: 4 });
    failed(await client.checkBmc(local), "unreachable");
  });

  await t.step("host:port form of the address works too", async () => {
    const plain = createRedfishClient({ scheme: "http" });
    const check = await plain.checkBmc({ ...creds, host: `127.0.0.1:${server.port}` });
    assert.equal(check.outcome, "ok");
  });

  await t.step("nothing listening → unreachable", async () => {
    const closed = serveFake(fake.handler);
    const port = closed.port;
    await closed.close();
    const gone = createRedfishClient({ scheme: "http", port });
    failed(await gone.checkBmc(local), "unreachable");
  });
});

Deno.test("checkBmc() follows no redirect, so the password never leaves the BMC's address", async (t) => {
  // Another service on the network, to which a hostile or misconfigured "BMC" redirects.
  const elsewhere: string[] = [];
  await using other = serveFake((req) => {
    elsewhere.push(
      `${req.method} ${new URL(req.url).pathname} ${req.headers.get("authorization")}`,
    );
    return Response.json({ RedfishVersion: "1.11.0", Members: [] });
  });
  const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD });
  for (
    const [path, target] of [
      ["/redfish/v1/Systems", `${other.url}/redfish/v1/Systems`],
      ["/redfish/v1/", `${other.url}/redfish/v1/`],
    ]
  ) {
    await t.step(`a 307 from ${path} to another host`, async () => {
      elsewhere.length = 0;
      await using bmc = serveFake((req) =>
        new URL(req.url).pathname === path
          ? new Response(null, { status: 307, headers: { location: target } })
          : fake.handler(req)
      );
      const client = createRedfishClient({ scheme: "http", port: bmc.port });
      const message = failed(
        await client.checkBmc({ ...creds, host: "127.0.0.1" }),
        "not-redfish",
      );
      assert.match(message, /redirect \(HTTP 307\)/);
      assert.deepEqual(elsewhere, [], "nothing was sent where the redirect pointed");
    });
  }
});

Deno.test("checkBmc() never puts the password in a message or log line", async () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  const messages: string[] = [];
  const echo: Handler = (req) =>
    // A broken BMC that echoes the request headers back in its error.
    Response.json({ error: { message: [...req.headers].join(" ") + PASSWORD } }, { status: 500 });
  const cases: Array<[Handler, string]> = [
    [createFakeRedfish({ username: "ADMIN", password: "other" }).handler, "wrong-password"],
    [echo, "unreachable"],
    [() => {
      throw new TypeError(`connect failed for ADMIN:${PASSWORD}`);
    }, "unreachable"],
  ];
  for (const [handler, outcome] of cases) {
    const check = await createRedfishClient({ fetch: asFetch(handler) }).checkBmc(creds);
    messages.push(failed(check, outcome));
    log.warn("BMC check failed", { check });
  }
  const basic = btoa(`ADMIN:${PASSWORD}`);
  for (const text of [...messages, ...lines]) {
    assert.ok(!text.includes(PASSWORD) && !text.includes(basic), text);
  }
  assert.equal(lines.length, 3);
});
