/**
 * What one registration costs the state store: its writes, counted through a wrapper of the KV.
 * Each commit is a transaction of the store's file (or a PostgreSQL round trip), the larger part
 * of the service's own CPU time per imported server (docs/bench.md).
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { FULL_ITEM, startTestApp } from "./app_harness.ts";
import type { StateKv } from "../lib/state/store.ts";
import { countingKv } from "./state_backends.ts";

Deno.test("one imported registration with every integration: at most 10 store commits, none failing", async () => {
  const inner = await Deno.openKv(":memory:");
  const { kv, counts } = countingKv(inner as unknown as StateKv);
  await using app = await startTestApp({ kv });
  // A first server (not counted): the reference look-ups and the OpenBao login.
  const first = { ...FULL_ITEM, device_name: "dcoa-rb06u30", bmc_mac: "3C:EC:EF:A1:9C:00" };
  assertEquals(
    (await app.call("POST", "/api/v1/servers/import", [{ ...first, position: 30 }]))
      .body[0].status,
    "ok",
  );
  Object.assign(counts, { commits: 0, failed: 0, sets: 0 });
  const res = await app.call("POST", "/api/v1/servers/import", [FULL_ITEM]);
  assertEquals(res.body[0].status, "ok", res.body[0].error);
  // Before: 24–30 (a commit per step start, the audit entry on its own, and the steps' updates
  // racing each other's checks). Now: the record with its claims and audit entry; OpenBao's
  // start and end; the run's start; the Netbox ids as each is made; Kea's and Metal3's records;
  // each step's end; the outcome. A step's start goes with its first write.
  assert(counts.commits <= 10, `${counts.commits} commits`);
  assertEquals(counts.failed, 0, "the run's own updates never fail each other's checks");
  assertEquals(counts.sets, 0, "nothing written outside a commit");
  const r = await app.deps.store.get(res.body[0].id);
  assertEquals(Object.values(r!.steps).map((s) => s.status), ["done", "done", "done", "done"]);
  assert(Object.values(r!.steps).every((s) => s.startedAt && s.endedAt), "each step's times kept");
});
