/**
 * The Drift view (GET /api/v1/drift) serves the latest full check from the state store: no system
 * is read to answer it, every replica serves the same one, a page at a time and filtered; a check
 * runs when asked (POST /api/v1/drift/check) or in the background.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, MINIMAL_ITEM, startTestApp } from "./app_harness.ts";
import type { Finding } from "../lib/registration/drift.ts";
import { runDrift } from "../scripts/drift.ts";
import type { Handler } from "../sim/faults.ts";

const NS = "metal3";

Deno.test("drift view: the latest stored check, paged and filtered, without reading any system", async (t) => {
  let calls = 0;
  const counted = (h: Handler): Handler => (req) => {
    calls++;
    return h(req);
  };
  // A KV file, so that a second replica can open the same store.
  const dir = await Deno.makeTempDir();
  const path = `${dir}/state.kv`;
  await using _removed = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
  await using app = await startTestApp({
    kv: await Deno.openKv(path),
    integrations: (world) =>
      world.integrations({ through: counted, timeoutMs: 1000, retry: { attempts: 1 } }),
  });
  const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM, MINIMAL_ITEM]);
  assertEquals(res.body.map((r: { status: string }) => r.status), ["ok", "ok"], res.text);
  const cli = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runDrift([...args, "--url", "http://svc"], {
      fetch: (input, init) =>
        Promise.resolve(app.app.request(String(input).replace("http://svc", ""), init)),
      stdout: (s) => out.push(s),
      stderr: (s) => err.push(s),
      env: () => undefined,
    });
    return { code, out: out.join(""), err: err.join("") };
  };

  await t.step("before any check: 404 saying how to start one; --latest exits 2", async () => {
    const none = await app.call("GET", "/api/v1/drift");
    assertEquals(none.status, 404);
    assert(none.body.error.message.includes("POST /api/v1/drift/check"), none.text);
    assertEquals((await cli(["--latest"])).code, 2);
  });

  const kubernetes = app.deps.integrations.kubernetes!;
  await kubernetes.deleteBareMetalHost(NS, FULL_ITEM.device_name);
  await kubernetes.deleteBareMetalHost(NS, MINIMAL_ITEM.device_name);
  const checked = await app.call("POST", "/api/v1/drift/check", {});
  assertEquals(checked.status, 200, checked.text);
  assertEquals(checked.body.total, 2);
  assertEquals(checked.body.kinds, { kubernetes_host_missing: 2 });

  await t.step("GET answers from the store: a person's change since is not seen", async () => {
    await app.world.integrations().kubernetes!.deleteSecret(
      NS,
      `${FULL_ITEM.device_name}-bmc-secret`,
    );
    calls = 0;
    const view = await app.call("GET", "/api/v1/drift");
    assertEquals(calls, 0, "no integration was called");
    assertEquals(view.body.checked_at, checked.body.checked_at);
    assertEquals(view.body.findings.length, 2);
    assertEquals(view.body.cursor, null);
  });

  await t.step("a page at a time, and filtered by system, kind and server", async () => {
    calls = 0;
    const seen: Finding[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `&cursor=${cursor}` : "";
      const page = await app.call("GET", `/api/v1/drift?limit=1${q}`);
      assertEquals(page.status, 200, page.text);
      seen.push(...page.body.findings);
      cursor = page.body.cursor;
    } while (cursor);
    assertEquals(seen.map((f) => f.server).sort(), [
      FULL_ITEM.device_name,
      MINIMAL_ITEM.device_name,
    ]);
    const kind = await app.call("GET", "/api/v1/drift?kind=kubernetes_host_missing");
    assertEquals(kind.body.findings.length, 2);
    assertEquals((await app.call("GET", "/api/v1/drift?system=kea")).body.findings, []);
    const one = await app.call("GET", `/api/v1/drift?server=${MINIMAL_ITEM.device_name}`);
    assertEquals(one.body.findings.map((f: Finding) => f.server), [MINIMAL_ITEM.device_name]);
    assertEquals(calls, 0);
  });

  await t.step("another replica on the same store serves the same check", async () => {
    await using other = await startTestApp({ kv: await Deno.openKv(path), worker: false });
    const view = await other.call("GET", "/api/v1/drift");
    assertEquals(view.body.checked_at, checked.body.checked_at);
    assertEquals(view.body.total, 2);
  });

  await t.step("deno task drift --latest prints the stored check without checking", async () => {
    calls = 0;
    const latest = await cli(["--latest"]);
    assertEquals(latest.code, 1);
    assert(latest.err.includes(`Latest check: ${checked.body.checked_at}`), latest.err);
    assertEquals(latest.out.split("\n").filter(Boolean).length, 2, latest.out);
    assertEquals(calls, 0);
  });

  await t.step("a newer check replaces it; a cursor of the older one is a 409", async () => {
    const first = await app.call("GET", "/api/v1/drift?limit=1");
    const again = await app.call("POST", "/api/v1/drift/check", {});
    assertEquals(again.body.total, 3, "the Secret deleted since is found now");
    const stale = await app.call("GET", `/api/v1/drift?limit=1&cursor=${first.body.cursor}`);
    assertEquals(stale.status, 409, stale.text);
    assertEquals((await app.call("GET", "/api/v1/drift")).body.total, 3);
  });
});
