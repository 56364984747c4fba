import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { retryAsks } from "./retry_form.tsx";

Deno.test("retryAsks() asks for the password only when the BMC rejected it", () => {
  const failed = (message: string) => ({
    id: "r1",
    status: "failed",
    steps: { metal3: { status: "failed", message } },
  });
  assertEquals(retryAsks({ id: "r1", status: "blocked" }), "boot-mac");
  assertEquals(
    retryAsks(failed("The BMC rejected the scanned password for user ADMIN: rescan it")),
    "password",
  );
  assertEquals(retryAsks(failed("kubernetes did not answer during apply")), "retry");
  assertEquals(retryAsks({ id: "r1", status: "ok", boot_mac: "0c:c4:7a:00:00:01" }), null);
});
