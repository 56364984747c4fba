/** Request-facing hardening: bounded metrics, who may read metrics and readiness detail, client
 * addresses behind proxies, limits on the import WebSocket, and the body deadline. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MINIMAL_ITEM, startTestApp, type TestApp } from "./app_harness.ts";

const peer = (hostname: string) => ({ remoteAddr: { hostname, port: 40000, transport: "tcp" } });

function get(t: TestApp, path: string, from: string, headers: Record<string, string> = {}) {
  return t.app.request(path, { headers }, peer(from));
}

Deno.test("/metrics labels are a closed set: 20,000 requests with unique methods do not grow it", async () => {
  await using t = await startTestApp({ worker: false });
  const size = async () => (await (await t.app.request("/metrics")).text()).length;
  await (await t.app.request("/api/v1/nothing", { method: "MX" })).body?.cancel();
  await size(); // its own series exists from here on
  const before = await size();
  for (let i = 0; i < 20_000; i++) {
    const res = await t.app.request(`/api/v1/nothing-${i}?q=${i}`, { method: `M${i}X` });
    await res.body?.cancel();
  }
  const text = await (await t.app.request("/metrics")).text();
  assert(!/M\d+X|nothing-/.test(text), "no request-controlled value became a label");
  assert(text.length - before < 64, `/metrics grew from ${before} to ${text.length} bytes`);
  assert(
    /onboarding_http_requests_total\{method="other",route="[^"]+",status="4xx"\} 2000\d/.test(text),
    text,
  );
});

Deno.test("/metrics and the /readyz detail are for scrapers: listed networks or the token", async (t) => {
  await using app = await startTestApp({
    env: { METRICS_NETWORKS: "10.42.0.0/16, ::1", METRICS_TOKEN: "scrape-token-7f3a" },
    worker: false,
  });
  await t.step("/metrics: only from the listed networks or with the token", async () => {
    const status = async (from: string, headers?: Record<string, string>) => {
      const res = await get(app, "/metrics", from, headers);
      await res.body?.cancel();
      return res.status;
    };
    assertEquals(await status("203.0.113.5"), 403);
    assertEquals(await status("203.0.113.5", { authorization: "Bearer wrong-token" }), 403);
    assertEquals(await status("203.0.113.5", { "x-forwarded-for": "10.42.0.9" }), 403);
    assertEquals(await status("203.0.113.5", { authorization: "Bearer scrape-token-7f3a" }), 200);
    assertEquals(await status("10.42.3.4"), 200);
    assertEquals(await status("::1"), 200);
  });

  await t.step(
    "/readyz without credentials: integration and status class, no upstream text",
    async () => {
      app.world.openbao.state.sealed = true;
      const open = await get(app, "/readyz", "203.0.113.5");
      const text = await open.text();
      assertEquals(open.status, 200);
      assertEquals(JSON.parse(text).checks.openbao, { status: "failed", class: "http 5xx" });
      assert(!/sealed|openbao\.sim|HTTP 503/.test(text), text);
      const scraper = await (await get(app, "/readyz", "10.42.3.4")).json();
      assert(scraper.checks.openbao.message.includes("sealed"), scraper.checks.openbao.message);
    },
  );
});

Deno.test("client addresses: X-Forwarded-For only from ONBOARDING_TRUSTED_PROXIES, read from the right", async (t) => {
  await using app = await startTestApp({
    env: { WRITE_RATE_LIMIT: "2", TRUSTED_PROXIES: "10.0.0.0/8" },
    worker: false,
  });
  const write = async (from: string, forwardedFor?: string) => {
    const res = await app.app.request("/api/v1/servers/register", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(forwardedFor ? { "x-forwarded-for": forwardedFor } : {}),
      },
      body: "{}",
    }, peer(from));
    await res.body?.cancel();
    return res.status;
  };
  await t.step("a direct client cannot pick its bucket with X-Forwarded-For", async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await write("198.51.100.1", `192.0.2.${i}`));
    assertEquals(statuses, [400, 400, 429]);
  });
  await t.step("behind the proxy, the hop the proxy added is the client", async () => {
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push(await write("10.0.0.7", `192.0.2.${i}, 203.0.113.9`));
    assertEquals(statuses, [400, 400, 429], "a forged left part does not give a new bucket");
    assertEquals(await write("10.0.0.7", "203.0.113.10"), 400, "another client is not affected");
  });
});

/** Opens a WebSocket; resolves with its messages and close code, or "refused" when it never opens. */
function socket(url: string, send?: string) {
  const ws = new WebSocket(url);
  const messages: Record<string, unknown>[] = [];
  let opened = false;
  return new Promise<{ messages: typeof messages; code: number | "refused" }>((resolve) => {
    ws.onopen = () => {
      opened = true;
      if (send !== undefined) ws.send(send);
      else ws.close();
    };
    ws.onmessage = (e) => messages.push(JSON.parse(e.data));
    ws.onerror = () => {};
    ws.onclose = (e) => resolve({ messages, code: opened ? e.code : "refused" });
  });
}

Deno.test("the import WebSocket: counts as a write, messages capped at 10 MB, concurrency capped", async (t) => {
  await using app = await startTestApp({
    env: { WRITE_RATE_LIMIT: "2", IMPORT_CONCURRENCY: "2" },
  });
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    app.app.fetch,
  );
  const url = `ws://127.0.0.1:${server.addr.port}/api/v1/servers/import/ws`;

  await t.step("?concurrency= above IMPORT_CONCURRENCY runs at IMPORT_CONCURRENCY", async () => {
    const engine = app.deps.engine;
    const submit = engine.submit.bind(engine);
    let running = 0, most = 0;
    engine.submit = async (...args) => {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      try {
        return await submit(...args);
      } finally {
        running--;
      }
    };
    const items = Array.from({ length: 8 }, (_, i) => ({
      ...MINIMAL_ITEM,
      device_name: `ws-c${i}`,
      bmc_mac: `3c:ec:ef:00:aa:${String(i).padStart(2, "0")}`,
      bmc_ip: `10.16.28.${60 + i}`,
    }));
    const { messages } = await socket(`${url}?concurrency=64`, JSON.stringify(items));
    engine.submit = submit;
    assertEquals(messages.at(-1), { type: "done", done: true, ok: 8, failed: 0 });
    assertEquals(most, 2);
  });

  await t.step("a message over 10 MB is refused without an import", async () => {
    const before = (await app.deps.store.list()).items.length;
    const big = JSON.stringify([{ ...MINIMAL_ITEM, pad: "x".repeat(10 * 1024 * 1024) }]);
    const { messages, code } = await socket(url, big);
    assertEquals(code, 1009);
    assertEquals((messages[0].error as { code: string }).code, "payload_too_large");
    assertEquals((await app.deps.store.list()).items.length, before);
  });

  await t.step("opening the socket takes a write token: the next one is refused", async () => {
    assertEquals((await socket(url)).code, "refused");
    const post = await fetch(`http://127.0.0.1:${server.addr.port}/api/v1/servers/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "[]",
    });
    await post.body?.cancel();
    assertEquals(post.status, 429);
  });
});

Deno.test("a request whose body stops arriving is answered 408 at the deadline", async () => {
  await using app = await startTestApp({ env: { REQUEST_TIMEOUT: "1" }, worker: false });
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    app.app.fetch,
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const started = performance.now();
    await conn.write(new TextEncoder().encode(
      "POST /api/v1/servers/register HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n" +
        'content-length: 200\r\n\r\n{"bmc_mac":',
    ));
    const buf = new Uint8Array(4096);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf),
      new Promise<null>((r) => timer = setTimeout(() => r(null), 4000)),
    ]);
    clearTimeout(timer);
    const answer = n ? new TextDecoder().decode(buf.subarray(0, n)) : "(no answer in 4 s)";
    assert(answer.startsWith("HTTP/1.1 408"), answer);
    assert(performance.now() - started < 3000);
    assertEquals((await app.deps.store.list()).items.length, 0);
  } finally {
    conn.close();
  }
});
