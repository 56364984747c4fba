/** A request waiting for a registration (`?wait=`, an import) also reads the record again. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { startTestApp } from "./app_harness.ts";

Deno.test("waitFor sees a final status whose event never came (lost across replicas)", async () => {
  await using t = await startTestApp({});
  // Every event is lost on its way, as one from another replica is when its NOTIFY is.
  t.deps.events.publish = () => {};
  const { status, body, text } = await t.call("POST", "/api/v1/servers/register", {
    bmc_mac: "3C-EC-EF-A1-9C-E9",
    bmc_password: "pw-wait-1",
    site: "dcoa",
    location: "hall-a",
    rack: "RB06",
    position: 20,
    device_type: "sys-1029u",
    device_role: "server",
  });
  assertEquals(status, 202, text);
  const started = Date.now();
  const done = await t.deps.engine.waitFor(body.id, 20_000, 100);
  assertEquals(done.status, "ok", done.error);
  const took = Date.now() - started;
  assert(took < 5_000, `resolved after ${took} ms, not at the 20 s bound`);
});
