import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import { createHttpClient, IntegrationError, redactUrl, redactValue } from "./http.ts";
import { createLogger } from "../observability/log.ts";
import { Metrics } from "../observability/metrics.ts";
import { asFetch, Faults } from "../../sim/faults.ts";

/** A fake upstream answering 200 `{ok: true}` unless a fault applies; counts calls. */
function upstream() {
  const faults = new Faults();
  let calls = 0;
  const fetch = asFetch(async (req) => {
    calls++;
    return (await faults.apply(req)) ?? Response.json({ ok: true, echo: await req.text() });
  });
  return { faults, fetch, calls: () => calls };
}

const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

Deno.test("createHttpClient() retries network errors, 429 and 5xx, then succeeds", async (t) => {
  for (const fault of [{ status: 503 }, { status: 429 }, { drop: true }]) {
    await t.step(JSON.stringify(fault), async () => {
      const u = upstream();
      u.faults.add({ ...fault, times: 2 });
      const http = createHttpClient({ integration: "netbox", fetch: u.fetch, retry: fast });
      const res = await http.request("get thing", "GET", "http://x.test/a");
      assertEquals([res.status, u.calls()], [200, 3]);
    });
  }
});

Deno.test("createHttpClient() does not retry 4xx, nor calls marked retry: false", async () => {
  const u = upstream();
  u.faults.add({ status: 400, body: { name: ["This field is required."] } });
  const http = createHttpClient({ integration: "netbox", fetch: u.fetch, retry: fast });
  await rejects(
    http.request("create device", "POST", "http://x.test/d", { body: {} }),
    (e: IntegrationError) => {
      assertEquals([e.integration, e.operation, e.method, e.status], [
        "netbox",
        "create device",
        "POST",
        400,
      ]);
      assert(e.message.includes("This field is required."), e.message);
      assert(!e.transient);
      return true;
    },
  );
  assertEquals(u.calls(), 1);
  const v = upstream();
  v.faults.add({ status: 503 });
  const http2 = createHttpClient({ integration: "kea", fetch: v.fetch, retry: fast });
  await rejects(http2.request("reserve", "POST", "http://x.test/", { retry: false }));
  assertEquals(v.calls(), 1);
});

Deno.test("createHttpClient() honours Retry-After", async () => {
  const u = upstream();
  u.faults.add({ status: 429, headers: { "retry-after": "0.2" }, times: 1 });
  const http = createHttpClient({
    integration: "openbao",
    fetch: u.fetch,
    retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 1000 },
  });
  const started = performance.now();
  await http.request("read", "GET", "http://x.test/");
  assert(performance.now() - started >= 190, "waited as the server asked");
});

Deno.test("createHttpClient() times out with status 0 and a message naming the wait", async () => {
  const u = upstream();
  u.faults.add({ delayMs: 300 });
  const http = createHttpClient({
    integration: "kubernetes",
    fetch: u.fetch,
    timeoutMs: 50,
    retry: { attempts: 2, baseDelayMs: 1 },
  });
  await rejects(http.request("apply", "PATCH", "http://x.test/"), (e: IntegrationError) => {
    assertEquals([e.status, e.transient], [0, true]);
    assert(e.message.includes("no answer within 50 ms"), e.message);
    return true;
  });
  await new Promise((r) => setTimeout(r, 350)); // let the delayed fake answers drain
});

Deno.test("createHttpClient() stops when the caller's signal aborts", async () => {
  const u = upstream();
  u.faults.add({ status: 503 });
  const http = createHttpClient({
    integration: "netbox",
    fetch: u.fetch,
    retry: { attempts: 10, baseDelayMs: 100, maxDelayMs: 100 },
  });
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("stopped")), 30);
  await rejects(http.request("list", "GET", "http://x.test/", { signal: ac.signal }), /stopped/);
});

Deno.test("errors and metrics never carry secrets", async () => {
  const u = upstream();
  u.faults.add({
    status: 403,
    body: { errors: ["permission denied for token hvs.SECRET123"], token: "hvs.SECRET123" },
  });
  const metrics = new Metrics();
  const http = createHttpClient({
    integration: "openbao",
    fetch: u.fetch,
    retry: fast,
    metrics,
    secrets: () => ["hvs.SECRET123"],
  });
  await rejects(
    http.request("read secret", "GET", "http://user:pw@x.test/v1/secret?token=abc"),
    (e: IntegrationError) => {
      const all = `${e.message} ${JSON.stringify(e.body)} ${e.url}`;
      for (const s of ["hvs.SECRET123", "user:pw", "token=abc"]) {
        assert(
          !all.includes(s),
          `${s} leaked: ${all}`,
        );
      }
      return true;
    },
  );
  assert(
    (await metrics.render()).includes(
      'onboarding_external_call_errors_total{integration="openbao",status="403"} 1',
    ),
  );
});

Deno.test("redactUrl() and redactValue() scrub credentials and secret-looking keys", () => {
  assertEquals(redactUrl("https://u:p@h.test/x?token=1&a=2"), "https://h.test/x?token=***&a=2");
  assertEquals(
    redactValue({ bmc_password: "x", nested: [{ Authorization: "Bearer y" }], ok: "z" }),
    {
      bmc_password: "***",
      nested: [{ Authorization: "***" }],
      ok: "z",
    },
  );
});

Deno.test("createLogger() scrubs secret keys and registered secret values from every line", () => {
  const lines: string[] = [];
  const log = createLogger({ write: (l) => lines.push(l) });
  log.addSecret("s3cr3t-value");
  log.child({ requestId: "r1" }).info("login", {
    password: "hunter2",
    note: "has s3cr3t-value inside",
    error: new Error("boom"),
  });
  const entry = JSON.parse(lines[0]);
  assertEquals([entry.msg, entry.requestId, entry.password, entry.note, entry.error.message], [
    "login",
    "r1",
    "***",
    "has *** inside",
    "boom",
  ]);
  assert(!lines[0].includes("hunter2"));
});

Deno.test("createHttpClient() keeps a network error's cause: Deno says only 'fetch failed'", async () => {
  const inner = new Error(
    "error sending request for url (https://10.16.28.31/redfish/v1/): client error (Connect): " +
      "invalid peer certificate: UnknownIssuer",
  );
  const http = createHttpClient({
    integration: "redfish",
    fetch: () => Promise.reject(new TypeError("fetch failed", { cause: inner })),
    retry: { attempts: 1 },
  });
  await rejects(
    http.request("check BMC", "GET", "https://10.16.28.31/redfish/v1/"),
    (e: IntegrationError) => {
      assertEquals(e.status, 0);
      assert(e.message.includes("fetch failed: error sending request"), e.message);
      assert(e.message.endsWith("invalid peer certificate: UnknownIssuer"), e.message);
      assertEquals(e.cause, new TypeError("fetch failed", { cause: inner }));
      return true;
    },
  );
});
