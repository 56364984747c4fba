/** The import WebSocket and the live events WebSocket over a real socket. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp } from "./app_harness.ts";

// deno-lint-ignore no-explicit-any -- messages are arbitrary JSON
type Message = Record<string, any>;

/** Opens a WebSocket and collects every message until it closes or `until` says stop. */
function collect(url: string, send?: unknown, until?: (m: Message) => boolean) {
  const ws = new WebSocket(url);
  const messages: Message[] = [];
  const done = new Promise<Message[]>((resolve, reject) => {
    ws.onopen = () => send !== undefined && ws.send(JSON.stringify(send));
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      messages.push(m);
      if (until?.(m)) ws.close();
    };
    ws.onclose = () => resolve(messages);
    ws.onerror = (e) => reject(e);
  });
  return { ws, messages, done };
}

Deno.test("GET /servers/import/ws streams step events, results in any order with their index, then done", async () => {
  await using t = await startTestApp();
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    t.app.fetch,
  );
  const url = `ws://127.0.0.1:${server.addr.port}/api/v1/servers/import/ws`;
  const bad = { device_name: "x", bmc_mac: "nope", bmc_password: "pw-ws-bad" };
  const { done } = collect(url, [FULL_ITEM, bad, MINIMAL_ITEM]);
  const messages = await done;
  const last = messages.at(-1)!;
  assertEquals(last, { type: "done", done: true, ok: 2, failed: 1 });
  const results = messages.filter((m) => m.type === "result").sort((a, b) => a.index - b.index);
  assertEquals(results.map((r) => [r.index, r.device_name, r.status]), [
    [0, "dcoa-rb06u31", "ok"],
    [1, "x", "failed"],
    [2, "dcoa-rb07u12", "ok"],
  ]);
  assert(results[1].fields.bmc_mac);
  const steps = messages.filter((m) => m.type === "step" && m.index === 0);
  for (const step of ["netbox", "openbao", "kea", "metal3"]) {
    assert(steps.some((s) => s.step === step && s.status === "running"), `${step} running`);
    assert(steps.some((s) => s.step === step && s.status === "done"), `${step} done`);
  }
  const text = JSON.stringify(messages);
  for (const p of [FULL_ITEM.bmc_password, MINIMAL_ITEM.bmc_password, bad.bmc_password]) {
    assert(!text.includes(p), "no password in WebSocket messages");
  }
});

Deno.test("GET /servers/import/ws: the import goes on when the client disconnects", async () => {
  await using t = await startTestApp();
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    t.app.fetch,
  );
  const url = `ws://127.0.0.1:${server.addr.port}/api/v1/servers/import/ws`;
  await collect(url, [FULL_ITEM, MINIMAL_ITEM], () => true).done;
  for (let i = 0; i < 100; i++) {
    const { items } = await t.deps.store.list();
    if (items.length === 2 && items.every((r) => r.status === "ok")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("the import did not finish after the client left");
});

Deno.test("GET /events streams registration changes and Metal3 provisioning state", async () => {
  await using t = await startTestApp({ world: { provisioningStepMs: 50 } });
  await using server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    t.app.fetch,
  );
  const stop = new AbortController();
  const watching = t.deps.engine.watchProvisioning(stop.signal).catch(() => {});
  const events = collect(
    `ws://127.0.0.1:${server.addr.port}/api/v1/events`,
    undefined,
    (m) => m.type === "registration" && m.registration.provisioning?.state === "available",
  );
  await new Promise((r) => setTimeout(r, 100));
  const res = await t.call("POST", "/api/v1/servers/import", [MINIMAL_ITEM]);
  assertEquals(res.body[0].status, "ok");
  const timer = setTimeout(() => events.ws.close(), 5000);
  const messages = await events.done;
  clearTimeout(timer);
  stop.abort();
  await watching;
  const states = messages.filter((m) => m.type === "registration").map((m) =>
    m.registration.provisioning?.state ?? m.registration.status
  );
  assert(messages.some((m) => m.type === "step" && m.step === "metal3" && m.status === "done"));
  assert(states.includes("available"), `provisioning reached available: ${states.join(",")}`);
  const list = await t.call("GET", "/api/v1/servers");
  assertEquals(list.body.items[0].provisioning.state, "available");
});
