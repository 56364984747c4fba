/** Redfish BMC check against the Redfish fake: vendors, wrong password, non-Redfish hosts, faults. */
import assert from "node:assert/strict";
import { type BmcCheck, createRedfishClient } from "../lib/integrations/redfish.ts";
import { createFakeRedfish, type FakeRedfishOptions } from "../sim/redfish/mod.ts";
import { asFetch, type Handler, serveFake } from "../sim/faults.ts";
import { createLogger } from "../lib/observability/log.ts";
import { Metrics } from "../lib/observability/metrics.ts";

const PASSWORD = "Zk4-label-p4ss";
const creds = { host: "10.16.28.31", username: "ADMIN", password: PASSWORD };

function setup(options: Partial<FakeRedfishOptions> = {}, timeoutMs?: number) {
  const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD, ...options });
  const client = createRedfishClient({ fetch: asFetch(fake.handler), timeoutMs });
  return { fake, client };
}

/** The host NIC MACs of an `ok` check. */
function macs(check: BmcCheck): string[] {
  assert.equal(check.outcome, "ok", JSON.stringify(check));
  return check.outcome === "ok" ? check.nics.map((n) => n.mac) : [];
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
      nics: [
        { id: "1", mac: "3c:ec:ef:00:11:22", link: "LinkUp" },
        { id: "2", mac: "3c:ec:ef:00:11:23", link: "NoLink" },
      ],
      bootMac: "3c:ec:ef:00:11:22",
      bootReason:
        'the first PXE (IPv4) entry of the boot order, Boot0002 "UEFI: PXE IP4 Intel(R) ' +
        'Ethernet Controller X550"',
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
    assert.deepEqual(macs(check), ["b0:83:fe:aa:bb:01"]);
  });

  await t.step("HPE: MACAddress only, no PermanentMACAddress", async () => {
    const { client } = setup({ vendor: "HPE", nicMacs: ["94:40:c9:00:00:01"] });
    const check = await client.checkBmc(creds);
    assert.equal(macs(check)[0], "94:40:c9:00:00:01");
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
    assert.equal(macs(check!).length, 2);
    assert.equal(check?.outcome === "ok" && check.passwordChangeRequired, false);
    // ServiceRoot ∥ Systems; system ∥ NIC and boot option collections ∥ AccountService ∥
    // Accounts; NICs ∥ boot options ∥ accounts. (Boot options added with the boot-order rule.)
    assert.equal(rounds, 3, JSON.stringify(calls.map((c) => c.path)));
    assert.equal(calls.length, 2 + 5 + (2 + 5 + 2));
  });

  // Since sessions are tried (as Ironic does) a wrong password is sent once each way: Basic, then
  // one session login, never alongside anything else.
  await t.step("a wrong password is sent once each way, with nothing else alongside", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: "the-real-one" });
    const { calls } = await roundTrips(fake.handler, async (f) => {
      failed(await createRedfishClient({ fetch: f }).checkBmc(creds), "wrong-password");
    });
    assert.deepEqual(calls.filter((c) => c.auth).map((c) => c.path), ["/redfish/v1/Systems"]);
    const basic = calls.find((c) => c.auth)!;
    const login = calls.filter((c) => c.path === "/redfish/v1/SessionService/Sessions");
    assert.equal(login.length, 1);
    assert.ok(login[0].start >= basic.end, "the login waits for the Basic answer");
    assert.equal(calls.length, 3, JSON.stringify(calls.map((c) => c.path)));
    assert.equal(fake.state.authFailures, 2);
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
    assert.deepEqual(macs(check), [
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
    // Basic once, one session login: neither is retried (it could lock the account).
    assert.equal(fake.state.authFailures, 2);
    assert.equal(fake.state.sessionLogins, 0);
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
    assert.deepEqual(macs(check), []);
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
    assert.match(await metrics.render(), /integration="redfish",operation="check BMC"/);
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

const BMC_MAC = "3c:ec:ef:a1:9c:e8";
/** Port n's MAC. */
const port = (n: number) => `3c:ec:ef:a1:77:0${n}`;

/** Checks a fake built from `options` and returns the ok result. */
async function checkOk(options: Partial<FakeRedfishOptions>, system?: string) {
  const { fake, client } = setup(options);
  const check = await client.checkBmc({ ...creds, bmcMac: BMC_MAC, system });
  assert.equal(check.outcome, "ok", JSON.stringify(check));
  return { fake, check: check as BmcCheck & { outcome: "ok" } };
}

Deno.test("checkBmc() names the boot NIC only when the BMC's answer is unambiguous", async (t) => {
  await t.step("the only host NIC, leaving out the BMC's MAC and the ToManager link", async () => {
    const { check } = await checkOk({
      nics: [{ mac: BMC_MAC }, { mac: port(1) }, { mac: "aa:bb:cc:dd:ee:fe", toManager: true }],
      bootOrder: [{ kind: "disk" }],
    });
    assert.deepEqual(check.nics, [{ id: "2", mac: port(1), link: "NoLink" }]);
    assert.equal(check.bootMac, port(1));
    assert.equal(check.bootReason, "the only host NIC (2)");
  });

  await t.step("iDRAC lists port 3 first: the boot order's PXE device on port 1", async () => {
    const { check } = await checkOk({
      vendor: "Dell",
      nics: [1, 2, 3, 4].map((n) => ({ mac: port(n) })),
      listOrder: [2, 0, 1, 3],
      bootOrder: [{ kind: "disk" }, { kind: "pxe4", nic: 0 }, { kind: "pxe4", nic: 2 }],
    });
    assert.equal(check.nics[0].mac, port(3), "the list starts with port 3");
    assert.equal(check.bootMac, port(1));
    assert.match(check.bootReason, /PXE Device 2: Integrated NIC 1 Port 1 Partition 1/);
  });

  await t.step("Dell in legacy BIOS mode: the boot order names NIC.Integrated.1-2-1", async () => {
    const { fake, check } = await checkOk({
      vendor: "Dell",
      bootMode: "Legacy",
      nics: [1, 2, 3].map((n) => ({ mac: port(n) })),
      bootOrder: [{ kind: "disk" }, { kind: "pxe4", nic: 1 }],
    });
    assert.equal(check.bootMac, port(2));
    assert.match(check.bootReason, /NIC\.Integrated\.1-2-1/);
    assert.ok(fake.state.requests.some((r) => r.endsWith("/BootOptions")), "asked, not listed");
  });

  await t.step("AMI lists 3, 2, 1: PXE IPv4 is preferred over an earlier HTTP entry", async () => {
    const { check } = await checkOk({
      vendor: "Gigabyte",
      nics: [1, 2, 3].map((n) => ({ mac: port(n), link: "LinkUp" as const })),
      listOrder: [2, 1, 0],
      bootOrder: [
        { kind: "disk" },
        { kind: "cd" },
        { kind: "pxe6", nic: 2 },
        { kind: "http", nic: 2 },
        { kind: "pxe4", nic: 0 },
        { kind: "pxe4", nic: 1 },
      ],
    });
    assert.deepEqual(check.nics.map((n) => n.mac), [port(3), port(2), port(1)]);
    assert.equal(check.bootMac, port(1));
    assert.match(check.bootReason, /^the first PXE \(IPv4\) entry of the boot order, Boot0007 /);
  });

  await t.step(
    "HPE lists the add-in card before the OCP port; references ≠ member ids",
    async () => {
      const { check } = await checkOk({
        vendor: "HPE",
        nics: [{ mac: port(1) }, { mac: port(2), link: "LinkUp" }],
        listOrder: [1, 0],
        bootOrder: [{ kind: "shell" }, { kind: "pxe4", nic: 0 }, { kind: "pxe4", nic: 1 }],
      });
      assert.equal(check.bootMac, port(1));
      assert.match(check.bootReason, /Boot0011 "OCP 3\.0 Slot 14 Port 1/);
    },
  );

  await t.step("only HTTP boot entries: the first of them", async () => {
    const { check } = await checkOk({
      nics: [{ mac: port(1) }, { mac: port(2) }],
      bootOrder: [{ kind: "disk" }, { kind: "http", nic: 1 }, { kind: "http", nic: 0 }],
    });
    assert.equal(check.bootMac, port(2));
    assert.match(check.bootReason, /^the first HTTP boot entry/);
  });

  await t.step("a disabled boot option is skipped", async () => {
    const { check } = await checkOk({
      nics: [{ mac: port(1) }, { mac: port(2) }],
      bootOrder: [{ kind: "pxe4", nic: 1, enabled: false }, { kind: "pxe4", nic: 0 }],
    });
    assert.equal(check.bootMac, port(1));
  });

  await t.step("no network boot entry: the NIC whose device function boots by PXE", async () => {
    const { check } = await checkOk({
      nics: [{ mac: port(1), functionBootMode: "Disabled" }, {
        mac: port(2),
        functionBootMode: "PXE",
      }],
      bootOrder: [{ kind: "disk" }],
    });
    assert.equal(check.bootMac, port(2));
    assert.equal(check.bootReason, "the only NIC whose network device function boots by PXE (2)");
  });

  await t.step("ambiguous: no boot MAC, the candidates with their link state", async () => {
    const { check } = await checkOk({
      nics: [{ mac: port(1), link: "LinkUp" }, { mac: port(2), link: "LinkDown" }],
      bootOrder: [{ kind: "disk" }, { kind: "cd" }],
    });
    assert.equal(check.bootMac, "");
    assert.deepEqual(check.nics, [
      { id: "1", mac: port(1), link: "LinkUp" },
      { id: "2", mac: port(2), link: "LinkDown" },
    ]);
    assert.match(check.bootReason, /lists 2 host NICs and neither its boot order/);
  });

  await t.step("PXE only over IPv6: not ours, so no boot MAC", async () => {
    const { check } = await checkOk({
      nics: [{ mac: port(1) }, { mac: port(2) }],
      bootOrder: [{ kind: "pxe6", nic: 1 }],
    });
    assert.equal(check.bootMac, "");
  });

  await t.step("the first PXE entry is the BMC's own MAC: nothing is chosen", async () => {
    const { check } = await checkOk({
      nics: [{ mac: BMC_MAC }, { mac: port(1) }, { mac: port(2) }],
      bootOrder: [{ kind: "pxe4", nic: 0 }, { kind: "pxe4", nic: 1 }],
    });
    assert.equal(check.bootMac, "");
  });
});

Deno.test("checkBmc() leaves the choice of system to the operator on a multi-system BMC", async (t) => {
  const options = { systemIds: ["Node0", "Node1", "Node2"], vendor: "HPE" as const };

  await t.step("several systems and none picked: pick-system, nothing chosen", async () => {
    const { fake, client } = setup(options);
    const check = await client.checkBmc(creds);
    assert.equal(check.outcome, "pick-system", JSON.stringify(check));
    if (check.outcome !== "pick-system") return;
    assert.deepEqual(check.systems.map((s) => [s.id, s.path, s.serial]), [
      ["Node0", "/redfish/v1/Systems/Node0", "S421234X0123456-0"],
      ["Node1", "/redfish/v1/Systems/Node1", "S421234X0123456-1"],
      ["Node2", "/redfish/v1/Systems/Node2", "S421234X0123456-2"],
    ]);
    assert.equal(
      check.message,
      "The BMC at 10.16.28.31 manages 3 systems (Node0, Node1, Node2): pick the one in this " +
        "slot (bmc_system) and Retry",
    );
    assert.ok(!fake.state.requests.some((r) => /EthernetInterfaces|BootOptions/.test(r)));
  });

  await t.step("picked by Id or by path: that system's path and boot NIC", async () => {
    for (const system of ["Node1", "/redfish/v1/Systems/Node1/"]) {
      const { fake, check } = await checkOk(options, system);
      assert.equal(check.systemPath, "/redfish/v1/Systems/Node1");
      assert.equal(check.systemId, "Node1");
      assert.equal(check.bootMac, fake.macsBySystem.get("/redfish/v1/Systems/Node1")![0]);
    }
  });

  await t.step("a system the BMC does not have: pick-system naming it", async () => {
    const { client } = setup(options);
    const check = await client.checkBmc({ ...creds, system: "Node9" });
    assert.equal(check.outcome, "pick-system");
    assert.match(failed(check, "pick-system"), /has no system "Node9" \(Node0, Node1, Node2\)/);
  });
});

Deno.test("checkBmc() logs in with a session when the BMC refuses Basic authentication", async (t) => {
  await t.step("one session login, used with X-Auth-Token, deleted afterwards", async () => {
    const seen: string[] = [];
    const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD, auth: "session-only" });
    const client = createRedfishClient({
      fetch: asFetch((req) => {
        if (req.headers.has("x-auth-token")) seen.push(new URL(req.url).pathname);
        return fake.handler(req);
      }),
    });
    const check = await client.checkBmc(creds);
    assert.equal(check.outcome, "ok", JSON.stringify(check));
    assert.equal(check.outcome === "ok" && check.serial, "S421234X0123456");
    assert.equal(fake.state.sessionLogins, 1);
    assert.equal(fake.state.openSessions, 0, "the session was deleted");
    assert.equal(fake.state.authFailures, 1, "only the Basic attempt was refused");
    assert.equal(seen.at(-1), "/redfish/v1/SessionService/Sessions/1");
    assert.ok(seen.includes("/redfish/v1/Systems/1/EthernetInterfaces/1"));
  });

  await t.step("a failed session login is the wrong password; nothing is retried", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: "other", auth: "session-only" });
    const client = createRedfishClient({ fetch: asFetch(fake.handler) });
    assert.match(failed(await client.checkBmc(creds), "wrong-password"), /rejected the scanned/);
    assert.deepEqual(fake.state.requests.toSorted(), [
      "GET /redfish/v1/",
      "GET /redfish/v1/Systems",
      "POST /redfish/v1/SessionService/Sessions",
    ]);
  });

  await t.step("a session login the BMC does not offer after all: Basic's refusal", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: "other" });
    fake.faults.add({ match: "POST /redfish/v1/SessionService/Sessions", status: 405 });
    const client = createRedfishClient({ fetch: asFetch(fake.handler) });
    assert.match(failed(await client.checkBmc(creds), "wrong-password"), /rejected the scanned/);
  });

  await t.step("a BMC without sessions: the Basic refusal is the answer", async () => {
    const fake = createFakeRedfish({ username: "ADMIN", password: "other" });
    const noSessions: Handler = async (req) => {
      const res = await fake.handler(req);
      if (new URL(req.url).pathname !== "/redfish/v1/") return res;
      const { Links: _links, SessionService: _service, ...root } = await res.json();
      return Response.json(root);
    };
    const client = createRedfishClient({ fetch: asFetch(noSessions) });
    failed(await client.checkBmc(creds), "wrong-password");
    assert.equal(fake.state.authFailures, 1);
    assert.ok(!fake.state.requests.some((r) => r.startsWith("POST")));
  });
});

Deno.test("checkBmc() names the system as soon as the BMC has accepted the credentials (onSystem)", async (t) => {
  /** Each `onSystem` call with the requests the BMC had seen by then. */
  async function named(options: Partial<FakeRedfishOptions>, system?: string) {
    const { fake, client } = setup(options);
    const calls: { path: string; seen: string[] }[] = [];
    const check = await client.checkBmc({
      ...creds,
      system,
      onSystem: (path) => calls.push({ path, seen: [...fake.state.requests] }),
    });
    return { check, calls };
  }

  await t.step("once, after the Systems collection and before the system is read", async () => {
    for (const options of [{}, { auth: "session-only" as const }]) {
      const { check, calls } = await named(options);
      assert.equal(check.outcome, "ok");
      assert.deepEqual(calls.map((c) => c.path), ["/redfish/v1/Systems/1"]);
      assert.ok(calls[0].seen.includes("GET /redfish/v1/Systems"), calls[0].seen.join());
      assert.ok(!calls[0].seen.some((r) => r.startsWith("GET /redfish/v1/Systems/1")));
    }
  });

  await t.step("the picked system of several", async () => {
    const { calls } = await named({ systemIds: ["Node0", "Node1"] }, "Node1");
    assert.deepEqual(calls.map((c) => c.path), ["/redfish/v1/Systems/Node1"]);
  });

  await t.step("never when the check ends before the system is known", async () => {
    for (
      const [options, outcome] of [
        [{ password: "the-real-one" }, "wrong-password"],
        [{ systemIds: ["Node0", "Node1"] }, "pick-system"],
        [{ passwordChangeRequired: true }, "ok"],
      ] satisfies [Partial<FakeRedfishOptions>, string][]
    ) {
      const { check, calls } = await named(options);
      assert.equal(check.outcome, outcome);
      assert.deepEqual(calls, []);
    }
  });
});
