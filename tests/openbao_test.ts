/** OpenBao client against the OpenBao fake: AppRole, token lifetime, KV v2 semantics, failures. */
import assert from "node:assert/strict";
import { createOpenBaoClient, type OpenBaoSettings } from "../lib/integrations/openbao.ts";
import { createFakeOpenBao, type FakeOpenBaoOptions } from "../sim/openbao/mod.ts";
import { asFetch, serveFake } from "../sim/faults.ts";
import { IntegrationError } from "../lib/integrations/http.ts";
import { createLogger } from "../lib/observability/log.ts";

const ROLE_ID = "2f1c7d9e-role-4a1b-9c3d-onboarding";
const SECRET_ID = "8b3e5f2a-secret-47cc-a1d0-0123456789ab";
const PASSWORD = "Xq7-scanned-BMC-pass";
const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 5 };

function setup(
  fakeOptions: FakeOpenBaoOptions = {},
  clientOptions: Partial<OpenBaoSettings> = {},
) {
  const fake = createFakeOpenBao({ roleId: ROLE_ID, secretId: SECRET_ID, ...fakeOptions });
  const client = createOpenBaoClient({
    url: "http://openbao.test:8200",
    roleId: ROLE_ID,
    secretId: SECRET_ID,
    fetch: asFetch(fake.handler),
    retry: FAST_RETRY,
    mountPoint: fakeOptions.mountPoint,
    ...clientOptions,
  });
  return { fake, client };
}

async function rejectsWith(p: Promise<unknown>): Promise<IntegrationError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof IntegrationError, `expected IntegrationError, got ${e}`);
    return e;
  }
  assert.fail("expected the call to fail");
}

const bmc = { username: "ADMIN", password: PASSWORD, bmc_mac: "3c:ec:ef:a1:9c:e8" };

Deno.test("createOpenBaoClient() logs in with AppRole and reads and writes KV v2", async (t) => {
  await t.step("write then read returns the data and version", async () => {
    const { fake, client } = setup();
    const { version } = await client.writeSecret("bmc/dcoa-rb06u31", bmc);
    assert.equal(version, 1);
    assert.deepEqual(await client.readSecret("bmc/dcoa-rb06u31"), { data: bmc, version: 1 });
    assert.equal(fake.state.logins, 1, "one login serves several calls");
    assert.deepEqual(fake.latest("bmc/dcoa-rb06u31"), bmc);
    const login = fake.state.requests.filter((r) => r === "POST /v1/auth/approle/login");
    assert.equal(login.length, 1);
  });

  await t.step("a never-written key reads as null (404 {errors:[]})", async () => {
    const { client } = setup();
    assert.equal(await client.readSecret("bmc/absent"), null);
  });

  await t.step("a soft-deleted key reads as null (404 with the full envelope)", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/gone", bmc);
    await client.deleteSecret("bmc/gone");
    assert.equal(fake.versions("bmc/gone")[0].deletionTime !== "", true);
    const raw = await fake.handler(
      new Request("http://x/v1/secret/data/bmc/gone", {
        headers: { "X-Vault-Token": [...fake.state.tokens.keys()][0] },
      }),
    );
    assert.equal(raw.status, 404);
    assert.equal((await raw.json()).data.metadata.version, 1);
    assert.equal(await client.readSecret("bmc/gone"), null);
  });

  await t.step("deleting an absent key succeeds", async () => {
    const { client } = setup();
    await client.deleteSecret("bmc/never");
  });

  await t.step("a custom mount point is used in the path", async () => {
    const { fake, client } = setup({ mountPoint: "kv/onboarding" });
    await client.writeSecret("bmc/a", bmc);
    assert.ok(fake.state.requests.includes("POST /v1/kv/onboarding/data/bmc/a"));
    assert.deepEqual(fake.latest("bmc/a"), bmc);
  });

  await t.step("the wrong mount point fails with the fake's 404 route error", async () => {
    const fake = createFakeOpenBao({ roleId: ROLE_ID, secretId: SECRET_ID });
    const client = createOpenBaoClient({
      url: "http://openbao.test",
      roleId: ROLE_ID,
      secretId: SECRET_ID,
      mountPoint: "other",
      fetch: asFetch(fake.handler),
      retry: FAST_RETRY,
    });
    const e = await rejectsWith(client.writeSecret("bmc/a", bmc));
    assert.equal(e.status, 404);
    assert.match(e.message, /no handler for route/);
    // A read must not mistake the route error for an absent key.
    const r = await rejectsWith(client.readSecret("bmc/a"));
    assert.equal(r.status, 404);
    assert.match(r.message, /MOUNT_POINT \(other\)/);
    assert.equal((await rejectsWith(client.deleteSecret("bmc/a"))).status, 404);
  });
});

Deno.test("putIfChanged() writes a new version only when the data changed", async (t) => {
  await t.step("twice with the same data → one version", async () => {
    const { fake, client } = setup();
    assert.deepEqual(await client.putIfChanged("bmc/n1", bmc), { version: 1, changed: true });
    assert.deepEqual(await client.putIfChanged("bmc/n1", { ...bmc }), {
      version: 1,
      changed: false,
    });
    assert.equal(fake.versions("bmc/n1").length, 1);
  });

  await t.step("a new key → one cas 0 write, no read", async () => {
    const { fake, client } = setup();
    assert.deepEqual(await client.putIfChanged("bmc/new", bmc), { version: 1, changed: true });
    const kv = fake.state.requests.filter((r) => r.includes("/v1/secret/data/bmc/new"));
    assert.deepEqual(kv, ["POST /v1/secret/data/bmc/new"]);
  });

  await t.step("an existing key → cas 0 refused, then read, compare, cas write", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/old", bmc);
    fake.state.requests.length = 0;
    const changed = await client.putIfChanged("bmc/old", { ...bmc, password: "rotated" });
    assert.deepEqual(changed, { version: 2, changed: true });
    assert.deepEqual(fake.state.requests, [
      "POST /v1/secret/data/bmc/old",
      "GET /v1/secret/data/bmc/old",
      "POST /v1/secret/data/bmc/old",
    ]);
    assert.equal(fake.versions("bmc/old").length, 2);
  });

  await t.step("a lost answer to the cas 0 write → retried, reported unchanged", async () => {
    const { fake, client } = setup();
    await client.readSecret("bmc/lost"); // log in first
    let dropped = false;
    const lossy = createOpenBaoClient({
      url: "http://openbao.test",
      roleId: ROLE_ID,
      secretId: SECRET_ID,
      retry: FAST_RETRY,
      fetch: asFetch(async (req) => {
        const res = await fake.handler(req);
        if (!dropped && req.method === "POST" && req.url.includes("/data/bmc/lost")) {
          dropped = true; // written, but the answer never arrives
          throw new TypeError("error sending request: connection reset");
        }
        return res;
      }),
    });
    assert.deepEqual(await lossy.putIfChanged("bmc/lost", bmc), { version: 1, changed: false });
    assert.equal(fake.versions("bmc/lost").length, 1);
  });

  await t.step("key order does not count as a change", async () => {
    const { fake, client } = setup();
    await client.putIfChanged("bmc/n2", bmc);
    const reordered = { bmc_mac: bmc.bmc_mac, password: bmc.password, username: bmc.username };
    assert.equal((await client.putIfChanged("bmc/n2", reordered)).changed, false);
    assert.equal(fake.versions("bmc/n2").length, 1);
  });

  await t.step("a changed value or an extra key writes version 2 with cas", async () => {
    const { fake, client } = setup();
    await client.putIfChanged("bmc/n3", bmc);
    assert.deepEqual(await client.putIfChanged("bmc/n3", { ...bmc, password: "new-pass" }), {
      version: 2,
      changed: true,
    });
    const extra = await client.putIfChanged("bmc/n3", { ...bmc, password: "new-pass", x: "1" });
    assert.deepEqual(extra, { version: 3, changed: true });
    assert.equal(fake.versions("bmc/n3").length, 3);
  });

  await t.step(
    "after a soft delete the data is written again (cas = deleted version)",
    async () => {
      const { fake, client } = setup();
      await client.putIfChanged("bmc/n4", bmc);
      await client.deleteSecret("bmc/n4");
      assert.deepEqual(await client.putIfChanged("bmc/n4", bmc), { version: 2, changed: true });
      assert.deepEqual(fake.latest("bmc/n4"), bmc);
    },
  );

  await t.step("a concurrent writer between read and write → re-read, then write", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/n5", { ...bmc, password: "old" });
    // Another writer slips in a version just before our cas write reaches the server.
    let slipped = false;
    const racing = createOpenBaoClient({
      url: "http://openbao.test",
      roleId: ROLE_ID,
      secretId: SECRET_ID,
      retry: FAST_RETRY,
      fetch: asFetch(async (req) => {
        if (!slipped && req.method === "POST" && req.url.includes("/data/bmc/n5")) {
          slipped = true;
          await client.writeSecret("bmc/n5", { ...bmc, password: "other" });
        }
        return await fake.handler(req);
      }),
    });
    assert.deepEqual(await racing.putIfChanged("bmc/n5", bmc), { version: 3, changed: true });
    assert.deepEqual(fake.latest("bmc/n5"), bmc);
  });

  await t.step("conflicts on both tries → the cas error surfaces", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/n6", { ...bmc, password: "old" });
    const racing = createOpenBaoClient({
      url: "http://openbao.test",
      roleId: ROLE_ID,
      secretId: SECRET_ID,
      retry: FAST_RETRY,
      fetch: asFetch(async (req) => {
        if (req.method === "POST" && req.url.includes("/data/bmc/n6")) {
          await client.writeSecret("bmc/n6", { ...bmc, password: crypto.randomUUID() });
        }
        return await fake.handler(req);
      }),
    });
    const e = await rejectsWith(racing.putIfChanged("bmc/n6", bmc));
    assert.equal(e.status, 400);
    assert.match(e.message, /check-and-set parameter did not match the current version/);
  });
});

Deno.test("writeSecret() enforces check-and-set", async (t) => {
  await t.step("cas mismatch → IntegrationError 400", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/c", bmc);
    const e = await rejectsWith(client.writeSecret("bmc/c", bmc, { cas: 0 }));
    assert.equal(e.status, 400);
    assert.equal(e.integration, "openbao");
    assert.equal(e.operation, "write secret");
    assert.match(e.message, /check-and-set parameter did not match/);
    assert.equal(fake.versions("bmc/c").length, 1);
  });

  await t.step("cas matching the current version writes", async () => {
    const { client } = setup();
    await client.writeSecret("bmc/c", bmc, { cas: 0 });
    assert.deepEqual(await client.writeSecret("bmc/c", bmc, { cas: 1 }), { version: 2 });
  });
});

Deno.test("health() reports the server state and throws when it cannot serve", async (t) => {
  await t.step("active", async () => {
    const { client } = setup();
    assert.deepEqual(await client.health(), { initialized: true, sealed: false, standby: false });
  });

  await t.step("standby (429) is healthy", async () => {
    const { client } = setup({ standby: true });
    assert.deepEqual(await client.health(), { initialized: true, sealed: false, standby: true });
  });

  await t.step("sealed (503) throws, without retrying", async () => {
    const { fake, client } = setup({ sealed: true });
    const e = await rejectsWith(client.health());
    assert.equal(e.status, 503);
    assert.match(e.message, /sealed/);
    assert.equal(fake.state.requests.length, 1);
  });

  await t.step("uninitialised (501) throws", async () => {
    const { client } = setup({ initialized: false });
    const e = await rejectsWith(client.health());
    assert.equal(e.status, 501);
    assert.match(e.message, /not initialised/);
  });

  await t.step("a sealed server fails secret calls with 503 after retries", async () => {
    const { fake, client } = setup({ sealed: true }, { retry: { ...FAST_RETRY, attempts: 2 } });
    const e = await rejectsWith(client.readSecret("bmc/x"));
    assert.equal(e.status, 503);
    assert.equal(fake.state.requests.length, 2);
  });
});

Deno.test("createOpenBaoClient() handles the AppRole token lifetime", async (t) => {
  await t.step("bad AppRole credentials → 400 naming the settings to check", async () => {
    const { fake, client } = setup({}, { secretId: "wrong-secret-id-value" });
    const e = await rejectsWith(client.readSecret("bmc/x"));
    assert.equal(e.status, 400);
    assert.equal(e.operation, "login");
    assert.match(e.message, /rejected the AppRole credentials/);
    assert.equal(fake.state.logins, 0);
  });

  await t.step("a revoked token (403 permission denied) → transparent re-login", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/t", bmc);
    fake.revokeAllTokens();
    assert.deepEqual(await client.readSecret("bmc/t"), { data: bmc, version: 1 });
    assert.equal(fake.state.logins, 2);
  });

  await t.step("a token expired on the server's clock → re-login, once per call", async () => {
    let serverNow = 1_000_000;
    const { fake, client } = setup({ tokenTtlSeconds: 60, now: () => serverNow });
    await client.writeSecret("bmc/t", bmc);
    serverNow += 61_000; // the client's own clock has not moved: it learns from the 403
    assert.equal((await client.readSecret("bmc/t"))?.version, 1);
    assert.equal(fake.state.logins, 2);
    // A server that denies even a fresh token → 403 after one re-login, not a loop.
    fake.faults.add({
      match: "GET /v1/secret/",
      status: 403,
      body: { errors: ["permission denied"] },
    });
    const e = await rejectsWith(client.readSecret("bmc/t"));
    assert.equal(e.status, 403);
    assert.equal(fake.state.logins, 3);
  });

  await t.step("renews with renew-self after 2/3 of the lease", async () => {
    let clock = 5_000_000;
    const now = () => clock;
    const { fake, client } = setup({ tokenTtlSeconds: 60, now }, { now });
    await client.writeSecret("bmc/r", bmc);
    clock += 30_000; // half the lease: nothing to do
    await client.readSecret("bmc/r");
    assert.equal(fake.state.renewals, 0);
    clock += 11_000; // past 40 s
    await client.readSecret("bmc/r");
    assert.equal(fake.state.renewals, 1);
    assert.equal(fake.state.logins, 1);
    clock += 45_000; // beyond the original expiry, but within the renewed lease
    assert.equal((await client.readSecret("bmc/r"))?.version, 1);
    assert.equal(fake.state.logins, 1);
  });

  await t.step("a token past its local expiry → fresh login instead of renewal", async () => {
    let clock = 9_000_000;
    const now = () => clock;
    const { fake, client } = setup({ tokenTtlSeconds: 60, now }, { now });
    await client.readSecret("bmc/none");
    clock += 120_000;
    await client.readSecret("bmc/none");
    assert.equal(fake.state.logins, 2);
    assert.equal(fake.state.renewals, 0);
  });

  await t.step("renewal capped by max TTL → log in again once it buys no time", async () => {
    let clock = 7_000_000;
    const now = () => clock;
    const { fake, client } = setup({ tokenTtlSeconds: 60, tokenMaxTtlSeconds: 62, now }, { now });
    await client.readSecret("bmc/none");
    clock += 45_000; // renewed, but only up to 62 s after issue
    await client.readSecret("bmc/none");
    assert.deepEqual([fake.state.renewals, fake.state.logins], [1, 1]);
    clock += 12_000; // within 5 s of the capped expiry: renewing buys nothing
    assert.equal(await client.readSecret("bmc/none"), null);
    assert.deepEqual([fake.state.renewals, fake.state.logins], [1, 2]);
  });

  await t.step("concurrent calls after a revocation share one re-login", async () => {
    const { fake, client } = setup();
    await client.readSecret("bmc/c0");
    fake.revokeAllTokens();
    await Promise.all([1, 2, 3].map((i) => client.readSecret(`bmc/c${i}`)));
    assert.equal(fake.state.logins, 2);
  });

  await t.step("concurrent first calls share one login", async () => {
    const { fake, client } = setup();
    await Promise.all([1, 2, 3, 4].map((i) => client.readSecret(`bmc/p${i}`)));
    assert.equal(fake.state.logins, 1);
  });
});

Deno.test("createOpenBaoClient() retries transient failures and times out", async (t) => {
  await t.step("one 503 then success", async () => {
    const { fake, client } = setup();
    await client.writeSecret("bmc/f", bmc);
    fake.faults.add({ match: "GET /v1/secret/data/bmc/f", status: 503, times: 1 });
    assert.equal((await client.readSecret("bmc/f"))?.version, 1);
    assert.equal(fake.state.requests.filter((r) => r === "GET /v1/secret/data/bmc/f").length, 2);
  });

  await t.step("no answer within timeoutMs → status 0", async () => {
    const { fake, client } = setup({}, { timeoutMs: 50, retry: { ...FAST_RETRY, attempts: 2 } });
    fake.faults.add({ match: "/v1/secret/", delayMs: 150, times: 2 });
    const e = await rejectsWith(client.readSecret("bmc/slow"));
    assert.equal(e.status, 0);
    assert.match(e.message, /no answer within 50 ms/);
    await new Promise((r) => setTimeout(r, 200)); // let the fake's delayed handlers finish
  });
});

Deno.test("createOpenBaoClient() works over a real socket", async (t) => {
  const fake = createFakeOpenBao({ roleId: ROLE_ID, secretId: SECRET_ID });
  await using server = serveFake(fake.handler);
  const client = createOpenBaoClient({
    url: server.url,
    roleId: ROLE_ID,
    secretId: SECRET_ID,
    retry: FAST_RETRY,
  });

  await t.step("health, login and idempotent write", async () => {
    assert.equal((await client.health()).sealed, false);
    await client.putIfChanged("bmc/sock", bmc);
    await client.putIfChanged("bmc/sock", bmc);
    assert.equal(fake.versions("bmc/sock").length, 1);
  });

  await t.step("a dropped connection is retried", async () => {
    fake.faults.add({ match: "GET /v1/secret/data/bmc/sock", drop: true, times: 1 });
    assert.deepEqual(await client.readSecret("bmc/sock"), { data: bmc, version: 1 });
  });

  await t.step("connections dropped every time → status 0", async () => {
    fake.faults.add({ match: "GET /v1/secret/data/bmc/sock", drop: true, times: 4 });
    const e = await rejectsWith(client.readSecret("bmc/sock"));
    assert.equal(e.status, 0);
  });

  await t.step("nothing listening → status 0", async () => {
    const closed = serveFake(fake.handler);
    const url = closed.url;
    await closed.close();
    const gone = createOpenBaoClient({
      url,
      roleId: ROLE_ID,
      secretId: SECRET_ID,
      retry: { ...FAST_RETRY, attempts: 2 },
    });
    const e = await rejectsWith(gone.readSecret("bmc/x"));
    assert.equal(e.status, 0);
    assert.match(e.message, /unreachable/);
  });
});

Deno.test("createOpenBaoClient() never reveals the token, role id, secret id or password", async () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", write: (l) => lines.push(l) });
  const messages: string[] = [];
  const record = async (p: Promise<unknown>) => {
    const e = await rejectsWith(p);
    messages.push(e.message, JSON.stringify(e.body ?? null), e.url);
    log.error("openbao step failed", { error: e, body: e.body });
  };

  const { fake, client } = setup({}, { retry: { ...FAST_RETRY, attempts: 2 }, timeoutMs: 100 });
  await client.writeSecret("bmc/s", bmc);
  const seen = new Set<string>();
  const tokens = () => {
    for (const k of fake.state.tokens.keys()) seen.add(k);
    return [...seen];
  };

  // Fault bodies that echo what a broken proxy might echo: the token and the password.
  const echoed = () => ({ errors: [`bad request from ${tokens()[0]} with ${PASSWORD}`] });
  fake.faults.add({ match: "POST /v1/secret/data/bmc/s", status: 500, body: echoed(), times: 2 });
  await record(client.writeSecret("bmc/s", { ...bmc, password: PASSWORD }));
  fake.faults.add({
    match: "GET /v1/secret/",
    status: 400,
    body: { errors: [`token ${tokens()[0]} may not read this`] },
    times: 1,
  });
  await record(client.readSecret("bmc/s"));
  fake.faults.add({
    match: "/v1/auth/approle/login",
    status: 502,
    body: { errors: [`upstream saw role ${ROLE_ID} secret ${SECRET_ID}`] },
    times: 2,
  });
  tokens();
  fake.revokeAllTokens();
  await record(client.readSecret("bmc/s"));
  await record(client.writeSecret("bmc/s", bmc, { cas: 0 }));
  fake.faults.add({ match: "/v1/secret/", delayMs: 150, times: 2 });
  await record(client.readSecret("bmc/s"));
  await new Promise((r) => setTimeout(r, 200));
  const bad = createOpenBaoClient({
    url: "http://openbao.test",
    roleId: ROLE_ID,
    secretId: "not-the-secret-id",
    fetch: asFetch(fake.handler),
    retry: FAST_RETRY,
  });
  await record(bad.readSecret("bmc/s"));
  fake.state.sealed = true;
  await record(client.health());

  const everything = [...messages, ...lines].join("\n");
  assert.ok(lines.length >= 7);
  for (const secret of [ROLE_ID, SECRET_ID, "not-the-secret-id", PASSWORD, ...tokens()]) {
    assert.ok(!everything.includes(secret), `leaked ${secret.slice(0, 4)}…`);
  }
  assert.ok(tokens().length > 0);
});

Deno.test("createFakeOpenBao() answers like OpenBao on the wire", async (t) => {
  const fake = createFakeOpenBao({ roleId: ROLE_ID, secretId: SECRET_ID });
  const send = async (method: string, path: string, body?: unknown, token?: string) => {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (token) headers["X-Vault-Token"] = token;
    const res = await fake.handler(
      new Request(`http://bao.test${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const login = await send("POST", "/v1/auth/approle/login", {
    role_id: ROLE_ID,
    secret_id: SECRET_ID,
  });
  const token: string = login.body.auth.client_token;

  await t.step("login: token envelope; bad, missing credentials → 400", async () => {
    assert.equal(login.status, 200);
    assert.match(token, /^hvs\./);
    assert.equal(login.body.auth.lease_duration, 1200);
    assert.equal(login.body.auth.metadata.role_name, "onboarding");
    const bad = await send("POST", "/v1/auth/approle/login", { role_id: ROLE_ID, secret_id: "x" });
    assert.deepEqual(bad, { status: 400, body: { errors: ["invalid role or secret ID"] } });
    const missing = await send("POST", "/v1/auth/approle/login", { secret_id: SECRET_ID });
    assert.deepEqual(missing.body, { errors: ["missing role_id"] });
    assert.equal((await send("GET", "/v1/auth/approle/login")).status, 405);
  });

  await t.step("no or unknown token → 403 permission denied; Bearer is accepted", async () => {
    const none = await send("GET", "/v1/secret/data/a");
    assert.deepEqual(none, { status: 403, body: { errors: ["permission denied"] } });
    assert.equal((await send("GET", "/v1/secret/data/a", undefined, "hvs.nope")).status, 403);
    const res = await fake.handler(
      new Request("http://bao.test/v1/auth/token/lookup-self", {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    assert.equal(res.status, 200);
    assert.equal((await res.json()).data.path, "auth/approle/login");
  });

  await t.step("KV v2: versions, cas, 404 shapes, delete/undelete/destroy", async () => {
    const w1 = await send("POST", "/v1/secret/data/bmc/k", { data: { a: "1" } }, token);
    assert.equal(w1.body.data.version, 1);
    const cas = await send(
      "POST",
      "/v1/secret/data/bmc/k",
      { data: { a: "2" }, options: { cas: 0 } },
      token,
    );
    assert.deepEqual(cas, {
      status: 400,
      body: { errors: ["check-and-set parameter did not match the current version"] },
    });
    await send("PUT", "/v1/secret/data/bmc/k", { data: { a: "2" }, options: { cas: 1 } }, token);
    assert.deepEqual(await send("GET", "/v1/secret/data/never", undefined, token), {
      status: 404,
      body: { errors: [] },
    });
    assert.equal(
      (await send("GET", "/v1/secret/data/bmc/k?version=9", undefined, token)).status,
      404,
    );
    const v1 = await send("GET", "/v1/secret/data/bmc/k?version=1", undefined, token);
    assert.deepEqual(v1.body.data.data, { a: "1" });

    assert.equal(
      (await send("POST", "/v1/secret/delete/bmc/k", { versions: [2] }, token)).status,
      204,
    );
    const deleted = await send("GET", "/v1/secret/data/bmc/k", undefined, token);
    assert.equal(deleted.status, 404);
    assert.equal(deleted.body.data.data, null);
    assert.equal(deleted.body.data.metadata.version, 2);
    assert.notEqual(deleted.body.data.metadata.deletion_time, "");
    await send("POST", "/v1/secret/undelete/bmc/k", { versions: [2] }, token);
    assert.equal((await send("GET", "/v1/secret/data/bmc/k", undefined, token)).status, 200);
    await send("PUT", "/v1/secret/destroy/bmc/k", { versions: [1] }, token);
    const destroyed = await send("GET", "/v1/secret/data/bmc/k?version=1", undefined, token);
    assert.equal(destroyed.status, 404);
    assert.equal(destroyed.body.data.metadata.destroyed, true);
    assert.equal(fake.versions("bmc/k")[0].data, null);
    const noVersions = await send("POST", "/v1/secret/delete/bmc/k", {}, token);
    assert.deepEqual(noVersions.body, { errors: ["no version number provided"] });
    assert.equal((await send("DELETE", "/v1/secret/data/bmc/k", undefined, token)).status, 204);
    assert.equal(fake.latest("bmc/k"), null);
  });

  await t.step("metadata, list, cas_required, max_versions", async () => {
    const meta = await send("GET", "/v1/secret/metadata/bmc/k", undefined, token);
    assert.equal(meta.body.data.current_version, 2);
    assert.deepEqual(Object.keys(meta.body.data.versions), ["1", "2"]);
    await send("POST", "/v1/secret/data/bmc/sub/x", { data: { b: "1" } }, token);
    const list = await send("GET", "/v1/secret/metadata/bmc/?list=true", undefined, token);
    assert.deepEqual(list.body.data.keys, ["k", "sub/"]);
    assert.deepEqual(await send("GET", "/v1/secret/metadata/none/?list=true", undefined, token), {
      status: 404,
      body: { errors: [] },
    });
    await send("POST", "/v1/secret/metadata/bmc/m", { cas_required: true, max_versions: 2 }, token);
    const noCas = await send("POST", "/v1/secret/data/bmc/m", { data: { c: "1" } }, token);
    assert.deepEqual(noCas.body, { errors: ["check-and-set parameter required for this call"] });
    for (let cas = 0; cas < 3; cas++) {
      await send(
        "POST",
        "/v1/secret/data/bmc/m",
        { data: { c: String(cas) }, options: { cas } },
        token,
      );
    }
    assert.deepEqual(fake.versions("bmc/m").map((v) => v.version), [2, 3]);
    assert.equal((await send("DELETE", "/v1/secret/metadata/bmc/m", undefined, token)).status, 204);
    assert.equal(fake.versions("bmc/m").length, 0);
  });

  await t.step("PATCH needs merge-patch+json and an existing key", async () => {
    const wrongType = await send("PATCH", "/v1/secret/data/bmc/sub/x", { data: { b: "2" } }, token);
    assert.equal(wrongType.status, 415);
    const res = await fake.handler(
      new Request("http://bao.test/v1/secret/data/bmc/sub/x", {
        method: "PATCH",
        headers: { "content-type": "application/merge-patch+json", "X-Vault-Token": token },
        body: JSON.stringify({ data: { c: "3" } }),
      }),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(fake.latest("bmc/sub/x"), { b: "1", c: "3" });
  });

  await t.step("wrong method → 405; unknown mount → 404 no handler for route", async () => {
    assert.equal((await send("PATCH", "/v1/secret/delete/bmc/k", {}, token)).status, 405);
    const other = await send("GET", "/v1/kv/data/a", undefined, token);
    assert.equal(other.status, 404);
    assert.match(other.body.errors[0], /^no handler for route "kv\/data\/a"/);
  });

  await t.step("sealed: health 503, everything else 503 Vault is sealed", async () => {
    fake.state.sealed = true;
    assert.equal((await send("GET", "/v1/sys/health")).status, 503);
    assert.equal((await send("GET", "/v1/sys/health?sealedcode=200")).status, 200);
    assert.deepEqual(await send("GET", "/v1/secret/data/a", undefined, token), {
      status: 503,
      body: { errors: ["Vault is sealed"] },
    });
    fake.state.sealed = false;
  });

  await t.step("renew-self extends the lease, up to the max TTL", async () => {
    const renewed = await send("POST", "/v1/auth/token/renew-self", { increment: "1h" }, token);
    assert.equal(renewed.status, 200);
    assert.equal(renewed.body.auth.client_token, token);
    assert.ok(renewed.body.auth.lease_duration > 1200 && renewed.body.auth.lease_duration <= 4800);
  });
});
