/**
 * BMC password rotation (lib/registration/rotation.ts): at registration, on demand, with PasswordChangeRequired,
 * a policy refusal, crashes after the OpenBao write and after the PATCH, and a fleet via the CLI.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createLogger } from "../lib/observability/log.ts";
import { Metrics } from "../lib/observability/metrics.ts";
import { generatePassword } from "../lib/registration/rotation.ts";
import { ConnectionDropped } from "../sim/faults.ts";
import { createFakeRedfish, type FakeRedfish } from "../sim/redfish/mod.ts";
import { SIM_URLS } from "../sim/world.ts";
import { createServices } from "../app.ts";
import { runRotate } from "../scripts/rotate.ts";
import { dumpKv, MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

const NS = "metal3";
const NAME = MINIMAL_ITEM.device_name;
const SCANNED = MINIMAL_ITEM.bmc_password;
const IP = MINIMAL_ITEM.bmc_ip;

function bmc(options: Partial<Parameters<typeof createFakeRedfish>[0]> = {}): FakeRedfish {
  return createFakeRedfish({ username: "ADMIN", password: SCANNED, vendor: "Dell", ...options });
}

/** OpenBao's latest password, the Metal3 Secret's and the BMC's. */
function passwords(app: TestApp, device: FakeRedfish, name = NAME) {
  const secret = app.world.kubernetes.state.secret(NS, `${name}-bmc-secret`);
  return {
    openbao: app.world.openbao.latest(`bmc/${name}`)?.password as string | undefined,
    secret: secret?.data?.password ? atob(secret.data.password) : undefined,
    bmc: device.state.password,
  };
}

async function register(app: TestApp, extra: Record<string, unknown> = {}) {
  const [r] = (await app.call("POST", "/api/v1/servers/import", [{ ...MINIMAL_ITEM, ...extra }]))
    .body;
  return r;
}

Deno.test("generated passwords meet the policy and the BMC's limits", () => {
  const policy = { length: 16, symbols: "-_.+!", refused: "" };
  for (let i = 0; i < 200; i++) {
    const p = generatePassword(policy);
    assertEquals(p.length, 16);
    assert(/[a-z]/.test(p) && /[A-Z]/.test(p) && /[0-9]/.test(p) && /[-_.+!]/.test(p), p);
  }
  assertEquals(generatePassword(policy, { max: 12 }).length, 12);
  assertEquals(generatePassword({ ...policy, length: 8 }, { min: 10 }).length, 10);
  const noSymbols = generatePassword({ length: 20, symbols: "", refused: "abcXYZ" });
  assert(/^[A-Za-z0-9]{20}$/.test(noSymbols) && !/[abcXYZ]/.test(noSymbols), noSymbols);
});

Deno.test("rotation during registration: the scanned password is left only in OpenBao's history", async () => {
  await using app = await startTestApp({ world: { autoBmcs: false } });
  // The AccountService allows at most 12 characters here, which the generator honours.
  const device = bmc({ requireIfMatch: true, maxPasswordLength: 12 });
  app.world.bmcs.add(IP, device);
  const events: string[] = [];
  app.deps.events.subscribe((e) => events.push(JSON.stringify(e)));
  const r = await register(app, { rotate: true });
  assertEquals(r.status, "ok", r.error);

  const now = passwords(app, device);
  assert(now.bmc !== SCANNED, "the BMC has a new password");
  assertEquals(now.openbao, now.bmc);
  assertEquals(now.secret, now.bmc);
  assert(/[A-Z]/.test(now.bmc) && /[0-9]/.test(now.bmc) && now.bmc.length === 12);
  // The PATCH carried the account's ETag (this BMC requires it).
  assert(device.state.requests.includes("PATCH /redfish/v1/AccountService/Accounts/2"));
  assertEquals(device.state.passwordChanges, 1);

  const versions = app.world.openbao.versions(`bmc/${NAME}`);
  assertEquals(versions.map((v) => v.data?.password), [SCANNED, now.bmc]);
  const meta = app.world.openbao.state.keys.get(`bmc/${NAME}`)!.customMetadata;
  assertEquals(meta?.rotation, "current");

  const rec = (await app.call("GET", `/api/v1/servers/${r.id}`)).body;
  assertEquals(rec.rotation.status, "ok");
  assertEquals(rec.rotation.version, 2);
  // Nowhere else: the state store, logs, events, API answers, the Secret.
  const everywhere = [
    await dumpKv(app.deps.store.kv),
    app.logs.join("\n"),
    events.join("\n"),
    JSON.stringify(rec),
    JSON.stringify(app.world.kubernetes.state.secrets(NS)),
  ].join("\n");
  assert(!everywhere.includes(SCANNED), "scanned password leaked");
  assert(!everywhere.includes(now.bmc), "new password leaked");
});

Deno.test("PasswordChangeRequired is answered by the rotation; the system is read afterwards", async () => {
  await using app = await startTestApp({
    env: { BMC_ROTATE: "true", BMC_DRIVER: "redfish" },
    world: { autoBmcs: false },
  });
  const device = bmc({ passwordChangeRequired: true });
  app.world.bmcs.add(IP, device);
  const r = await register(app);
  assertEquals(r.status, "ok", r.error);
  assertEquals(device.state.passwordChangeRequired, false);
  const now = passwords(app, device);
  assert(now.bmc !== SCANNED);
  assertEquals([now.openbao, now.secret], [now.bmc, now.bmc]);
  const rec = await app.deps.store.mustGet(r.id);
  assertEquals(rec.bmc?.systemPath, "/redfish/v1/Systems/System.Embedded.1");
  assert(!rec.warnings.some((w) => w.includes("password change")), rec.warnings.join("; "));
  const host = app.world.kubernetes.state.bareMetalHost(NS, NAME)!;
  assert(String(host.spec.bmc?.address).endsWith("/redfish/v1/Systems/System.Embedded.1"));
});

Deno.test("a policy refusal leaves the old password current and says why", async (t) => {
  await t.step(
    "at registration: the Metal3 step fails, nothing gets the unproven password",
    async () => {
      await using app = await startTestApp({ world: { autoBmcs: false } });
      // This firmware refuses every symbol the default policy draws from.
      const device = bmc({ refusedCharacters: "-_.+!" });
      app.world.bmcs.add(IP, device);
      const r = await register(app, { rotate: true });
      assertEquals(r.status, "failed");
      assert(/refused the new password \(policy\)/.test(r.error), r.error);
      assertEquals(device.state.password, SCANNED);
      assertEquals(app.world.openbao.latest(`bmc/${NAME}`)?.password, SCANNED);
      // The pending version stays in the history, superseded by the old one written again.
      assertEquals(app.world.openbao.versions(`bmc/${NAME}`).length, 3);
      assertEquals(
        app.world.openbao.state.keys.get(`bmc/${NAME}`)!.customMetadata?.rotation,
        "rolled-back",
      );
      assert(!app.world.kubernetes.state.secret(NS, `${NAME}-bmc-secret`));
    },
  );

  await t.step(
    "on demand: 502 with the reason; OpenBao and the Secret keep the old one",
    async () => {
      await using app = await startTestApp({ world: { autoBmcs: false } });
      const device = bmc({ refusedCharacters: "-_.+!" });
      app.world.bmcs.add(IP, device);
      const r = await register(app);
      assertEquals(r.status, "ok", r.error);
      const res = await app.call("POST", `/api/v1/servers/${r.id}/rotate-credentials`);
      assertEquals(res.status, 502, res.text);
      assertEquals(res.body.error.code, "rotation_failed");
      assert(/policy/.test(res.body.error.message), res.body.error.message);
      assertEquals(res.body.rotation.status, "failed");
      const now = passwords(app, device);
      assertEquals(now, { openbao: SCANNED, secret: SCANNED, bmc: SCANNED });
    },
  );
});

Deno.test("a locked account fails without a half state", async () => {
  await using app = await startTestApp({ world: { autoBmcs: false } });
  const device = bmc();
  app.world.bmcs.add(IP, device);
  const r = await register(app);
  assertEquals(r.status, "ok", r.error);
  device.state.locked = true;
  const res = await app.call("POST", `/api/v1/servers/${r.id}/rotate-credentials`);
  assertEquals(res.status, 502);
  assert(/locked/.test(res.body.error.message), res.body.error.message);
  assertEquals(passwords(app, device), { openbao: SCANNED, secret: SCANNED, bmc: SCANNED });
  assertEquals(app.world.openbao.versions(`bmc/${NAME}`).length, 1, "nothing was written");
});

/** The BMC goes dark at its password PATCH (before or after applying it), as if our process died
 * there: nothing more reaches it until `restore()`. */
function darkAtPatch(device: FakeRedfish, apply: boolean) {
  let dark = false;
  return {
    bmc: {
      ...device,
      handler: async (req: Request) => {
        if (dark) throw new ConnectionDropped("dark");
        if (req.method === "PATCH") {
          dark = true;
          if (apply) await device.handler(req);
          throw new ConnectionDropped("dark");
        }
        return await device.handler(req);
      },
    },
    restore: () => dark = false,
  };
}

for (
  const [when, apply, expect] of [["after the OpenBao write", false, "old"], [
    "after the PATCH",
    true,
    "new",
  ]] as const
) {
  Deno.test(`a crash ${when} resumes to a password that works, OpenBao and the Secret agreeing`, async () => {
    await using app = await startTestApp({ world: { autoBmcs: false } });
    const device = bmc();
    app.world.bmcs.add(IP, device);
    const r = await register(app);
    assertEquals(r.status, "ok", r.error);
    const crash = darkAtPatch(device, apply);
    app.world.bmcs.add(IP, crash.bmc);
    const res = await app.call("POST", `/api/v1/servers/${r.id}/rotate-credentials`);
    assertEquals(res.status, 502);
    assertEquals(res.body.rotation.status, "running", "unresolved, left for the resume");
    const pending = app.world.openbao.latest(`bmc/${NAME}`)?.password;
    assert(pending !== SCANNED, "the pending version is in OpenBao");
    assertEquals(
      app.world.openbao.state.keys.get(`bmc/${NAME}`)!.customMetadata?.rotation,
      "pending",
    );
    // The process is gone; a new one starts on the same state store with the BMC back.
    await app.deps.engine.close();
    crash.restore();
    const metrics = new Metrics();
    const next = await createServices({
      config: app.config,
      kv: app.deps.store.kv,
      integrations: app.world.integrations({ metrics, timeoutMs: 1000 }),
      log: createLogger({ level: "error", write: () => {} }),
      metrics,
    });
    await next.engine.startWorker();
    let rec = await next.store.mustGet(r.id);
    for (let i = 0; i < 200 && rec.rotation?.status === "running"; i++) {
      await new Promise((res) => setTimeout(res, 10));
      rec = await next.store.mustGet(r.id);
    }
    await next.engine.close();
    const now = passwords(app, device);
    assertEquals(now.openbao, now.bmc, "OpenBao's current password opens the BMC");
    assertEquals(now.secret, now.bmc, "the Secret agrees");
    assertEquals(now.bmc === SCANNED ? "old" : "new", expect);
    assertEquals(rec.rotation?.status, expect === "new" ? "ok" : "failed");
    assertEquals(device.state.locked, false);
    // Both versions stay in OpenBao's history.
    const history = app.world.openbao.versions(`bmc/${NAME}`).map((v) => v.data?.password);
    assert(history.includes(SCANNED) && history.includes(pending));
  });
}

Deno.test("deno task rotate --all: 100 hosts, bounded concurrency, all agreeing", async () => {
  await using app = await startTestApp({ env: { IMPORT_CONCURRENCY: "16" } });
  const COUNT = 100;
  const items = Array.from({ length: COUNT }, (_, i) => ({
    device_name: `dcoa-rc01u${String(i + 1).padStart(3, "0")}`,
    bmc_mac: `3c:ec:ef:30:00:${(i + 1).toString(16).padStart(2, "0")}`,
    bmc_password: `Factory-pw-${i}`,
    bmc_ip: `10.16.28.${100 + i}`,
  }));
  const results = (await app.call("POST", "/api/v1/servers/import", items)).body;
  assert(results.every((r: { status: string }) => r.status === "ok"));

  let inFlight = 0;
  let peak = 0;
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRotate(["--all", "--concurrency", "5", "--url", "http://svc"], {
    fetch: async (input, init) => {
      const rotate = String(input).endsWith("/rotate-credentials");
      if (rotate) peak = Math.max(peak, ++inFlight);
      try {
        return await app.app.request(String(input).replace("http://svc", ""), init);
      } finally {
        if (rotate) inFlight--;
      }
    },
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env: () => undefined,
  });
  assertEquals(code, 0, err.join(""));
  assertEquals(out.length, COUNT);
  assert(peak > 1 && peak <= 5, `peak concurrency ${peak}`);
  assert(err.join("").includes(`[${COUNT}/${COUNT}] 0 failed`));
  for (const item of items) {
    const device = app.world.bmcs.bmcs.get(item.bmc_ip)!;
    const now = passwords(app, device, item.device_name);
    assert(now.bmc !== item.bmc_password, item.device_name);
    assertEquals([now.openbao, now.secret], [now.bmc, now.bmc], item.device_name);
  }
  // Rotated just now: --older-than 90d finds nothing to do.
  const again: string[] = [];
  assertEquals(
    await runRotate(["--all", "--older-than", "90d", "--url", "http://svc"], {
      fetch: async (input, init) =>
        await app.app.request(String(input).replace("http://svc", ""), init),
      stdout: (t) => again.push(t),
      stderr: () => {},
      env: () => undefined,
    }),
    0,
  );
  assertEquals(again, []);
  // One server by name.
  const before = app.world.bmcs.bmcs.get(items[7].bmc_ip)!.state.password;
  const one: string[] = [];
  assertEquals(
    await runRotate(["--server", items[7].device_name, "--url", "http://svc"], {
      fetch: async (input, init) =>
        await app.app.request(String(input).replace("http://svc", ""), init),
      stdout: (t) => one.push(t),
      stderr: () => {},
      env: () => undefined,
    }),
    0,
  );
  assertEquals(one.length, 1);
  assert(one[0].startsWith(`${items[7].device_name}\trotated`), one[0]);
  const device = app.world.bmcs.bmcs.get(items[7].bmc_ip)!;
  assert(device.state.password !== before);
  assertEquals(passwords(app, device, items[7].device_name).openbao, device.state.password);
});

Deno.test("deno task rotate: --help with examples, usage errors exit 2", async () => {
  const out: string[] = [];
  const io = {
    fetch,
    stdout: (t: string) => out.push(t),
    stderr: (t: string) => out.push(t),
    env: () => undefined,
  };
  assertEquals(await runRotate(["--help"], io), 0);
  assert(out.join("").includes("Examples:"));
  assertEquals(await runRotate(["--server", "x", "--all", "--url", "http://a"], io), 2);
  assertEquals(await runRotate(["--all", "--older-than", "3w", "--url", "http://a"], io), 2);
});

Deno.test("Redfish simulator: ManagerAccount ETag preconditions, password policy, lock-out", async () => {
  const device = bmc({ requireIfMatch: true, lockoutThreshold: 3, minPasswordLength: 10 });
  const basic = (pw: string) => ({ authorization: `Basic ${btoa(`ADMIN:${pw}`)}` });
  const call = (method: string, path: string, headers: Record<string, string>, body?: unknown) =>
    device.handler(
      new Request(`http://bmc${path}`, {
        method,
        headers: { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
  const account = "/redfish/v1/AccountService/Accounts/2";
  const read = await call("GET", account, basic(SCANNED));
  const body = await read.json();
  assertEquals(body.Password, null);
  assertEquals(read.headers.get("etag"), body["@odata.etag"]);
  const service = await (await call("GET", "/redfish/v1/AccountService", basic(SCANNED))).json();
  assertEquals([service.MinPasswordLength, service.AccountLockoutThreshold], [10, 3]);

  const patch = (etag: string | null, pw: string, login = SCANNED) =>
    call("PATCH", account, { ...basic(login), ...(etag ? { "if-match": etag } : {}) }, {
      Password: pw,
    });
  assertEquals((await patch(null, "Long-enough-1")).status, 428);
  assertEquals((await patch('W/"stale"', "Long-enough-1")).status, 412);
  const short = await patch(body["@odata.etag"], "Short-1");
  assertEquals(short.status, 400);
  assert(!(await short.text()).includes("Short-1"), "the value is not echoed");
  assertEquals((await patch(body["@odata.etag"], "Long-enough-1")).status, 204);
  assertEquals(device.state.password, "Long-enough-1");
  // The ETag changed with the password: the old one is now stale.
  assertEquals((await patch(body["@odata.etag"], "Long-enough-2", "Long-enough-1")).status, 412);
  assertEquals(device.state.failedLogins, 0);

  for (let i = 0; i < 3; i++) {
    assertEquals((await call("GET", "/redfish/v1/Systems", basic("wrong"))).status, 401);
  }
  assert(device.state.locked, "locked after AccountLockoutThreshold failures");
  assertEquals((await call("GET", "/redfish/v1/Systems", basic("Long-enough-1"))).status, 401);
});

Deno.test("a new password refused at its proof: the old one is tried once, the next rotation converges", async () => {
  await using app = await startTestApp({ world: { autoBmcs: false } });
  const device = bmc();
  app.world.bmcs.add(IP, device);
  const r = await register(app);
  assertEquals(r.status, "ok", r.error);
  // The BMC refuses the proof login (the second session login) although it took the password.
  let logins = 0;
  app.world.bmcs.add(IP, {
    ...device,
    handler: async (req) => {
      if (req.method === "POST" && req.url.endsWith("/Sessions") && ++logins === 2) {
        return Response.json({ error: { code: "Base.1.19.NoValidSession" } }, { status: 401 });
      }
      return await device.handler(req);
    },
  });
  const first = await app.call("POST", `/api/v1/servers/${r.id}/rotate-credentials`);
  assertEquals(first.status, 502);
  assert(/refuses the old one too/.test(first.body.error.message), first.body.error.message);
  assertEquals(first.body.rotation.status, "running");
  assertEquals(logins, 3, "one login with the new password, one with the old, no more");
  const second = await app.call("POST", `/api/v1/servers/${r.id}/rotate-credentials`);
  assertEquals(second.status, 200, second.text);
  const now = passwords(app, device);
  assertEquals([now.openbao, now.secret], [now.bmc, now.bmc]);
  assertEquals(device.state.locked, false);
});

Deno.test("someone else's Secret under the host's name: the BMC's password is not touched", async () => {
  await using app = await startTestApp({ world: { autoBmcs: false } });
  const device = bmc();
  app.world.bmcs.add(IP, device);
  // Created as `kubectl create` would: not this service's object.
  const res = await app.world.kubernetes.handler(
    new Request(`${SIM_URLS.kubernetes}/api/v1/namespaces/${NS}/secrets?fieldManager=kubectl`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${NAME}-bmc-secret`, namespace: NS },
        stringData: { username: "root", password: "their-password" },
      }),
    }),
  );
  assertEquals(res.status, 201);
  const r = await register(app, { rotate: true });
  assertEquals(r.status, "failed");
  assert(/is not/.test(r.error), r.error);
  assertEquals(device.state.passwordChanges, 0);
  assertEquals(device.state.password, SCANNED);
  assertEquals(app.world.openbao.versions(`bmc/${NAME}`).length, 1);
});
