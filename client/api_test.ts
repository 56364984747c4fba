import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { newer } from "./api.ts";

Deno.test("newer() keeps the later snapshot of one registration, whatever order they arrive in", () => {
  const running = { id: "a", status: "running", updated_at: "2026-11-25T10:00:01.000Z" };
  const failed = { id: "a", status: "failed", updated_at: "2026-11-25T10:00:02.000Z" };
  assertEquals(newer(running, failed), failed);
  assertEquals(
    newer(failed, running),
    failed,
    "an answer read before the final event arrives late",
  );
  assertEquals(newer(null, running), running);
  const other = { id: "b", status: "queued", updated_at: "2026-11-25T09:00:00.000Z" };
  assertEquals(newer(failed, other), other, "another registration replaces the one shown");
  const noStamp = { id: "a", status: "queued" };
  assertEquals(newer(failed, noStamp), noStamp, "without a timestamp the answer is taken");
});
