/** Request limits: body size, import length, write rate per client; readiness and metrics. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MINIMAL_ITEM, startTestApp } from "./app_harness.ts";

Deno.test("POST /servers/import refuses more than 5,000 items and bodies over 10 MB with 413, writing nothing", async () => {
  await using t = await startTestApp();
  const many = Array.from({ length: 5001 }, (_, i) => ({ ...MINIMAL_ITEM, device_name: `n${i}` }));
  const tooMany = await t.call("POST", "/api/v1/servers/import", many);
  assertEquals(tooMany.status, 413);
  assert(tooMany.body.error.message.includes("5000"));
  const huge = await t.call(
    "POST",
    "/api/v1/servers/import",
    JSON.stringify([{ pad: "x".repeat(11 * 1024 * 1024) }]),
  );
  assertEquals(huge.status, 413);
  assertEquals((await t.deps.store.list()).items.length, 0);
  const notArray = await t.call("POST", "/api/v1/servers/import", { device_name: "x" });
  assertEquals([notArray.status, Object.keys(notArray.body.error.fields)], [400, ["body"]]);
  const notJson = await t.call("POST", "/api/v1/servers/import", "[{");
  assertEquals(notJson.status, 400);
});

Deno.test("writes are rate limited per client with 429 and Retry-After", async () => {
  await using t = await startTestApp({ env: { WRITE_RATE_LIMIT: "3" } });
  // The client is the socket peer (X-Forwarded-For counts only from trusted proxies).
  const send = (ip: string) =>
    t.app.request("/api/v1/servers/register", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    }, { remoteAddr: { hostname: ip, port: 40000, transport: "tcp" } });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await send("192.0.2.10")).status);
  assertEquals(statuses, [400, 400, 400, 429]);
  const limited = await send("192.0.2.10");
  assert(Number(limited.headers.get("retry-after")) >= 1);
  assertEquals((await send("192.0.2.11")).status, 400, "another client is not affected");
  assertEquals((await t.app.request("/api/v1/servers")).status, 200, "reads are not limited");
});

Deno.test("GET /readyz reports each integration; a failing one is named without failing readiness", async () => {
  await using t = await startTestApp();
  const ok = await t.call("GET", "/readyz");
  assertEquals(ok.status, 200);
  assertEquals(Object.values(ok.body.checks).map((c) => (c as { status: string }).status), [
    "ok",
    "ok",
    "ok",
    "ok",
    "ok",
  ]);
  t.world.openbao.state.sealed = true;
  const sealed = await t.call("GET", "/readyz");
  assertEquals([sealed.status, sealed.body.checks.openbao.status], [200, "failed"]);
  assert(sealed.body.checks.openbao.message.includes("sealed"), sealed.body.checks.openbao.message);

  await using bare = await startTestApp({ integrations: () => ({}) });
  const none = await bare.call("GET", "/readyz");
  assertEquals(none.body.checks.netbox, { status: "not configured" });
});

Deno.test("GET /metrics exposes registrations, step durations and external calls in Prometheus text", async () => {
  await using t = await startTestApp();
  await t.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM]);
  const res = await t.app.request("/metrics");
  const text = await res.text();
  assert(res.headers.get("content-type")!.startsWith("text/plain"));
  assert(text.includes('onboarding_registrations_total{outcome="ok"} 1'), text);
  assert(text.includes('onboarding_step_duration_seconds_count{step="kea",status="done"} 1'));
  assert(
    /onboarding_external_call_duration_seconds_count\{integration="kea",operation="[^"]+"\} \d+/
      .test(text),
  );
});

Deno.test("GET /servers validates its query: 400 naming the parameter", async () => {
  await using t = await startTestApp();
  const bad = await t.call("GET", "/api/v1/servers?status=bogus&limit=0");
  assertEquals(bad.status, 400);
  assertEquals(Object.keys(bad.body.error.fields).sort(), ["limit", "status"]);
  const ok = await t.call("GET", "/api/v1/servers?status=ok&limit=5&q=dcoa");
  assertEquals([ok.status, ok.body.items, ok.body.cursor], [200, [], null]);
});
