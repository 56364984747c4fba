/** The bench's critical-path chain: its length, and which of equally deep calls it names. */
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { CallRecorder } from "./harness.ts";

Deno.test("the critical chain names, of calls side by side, the one to the same system", () => {
  const recorder = new CallRecorder();
  const call = (host: string, path: string, start: number, end: number) =>
    recorder.calls.push({ host, method: "GET", path, start, end });
  call("kea1.sim", "/", 0, 10);
  call("netbox.sim", "/a", 0, 12);
  call("bmc", "/redfish/v1/", 0, 11);
  call("netbox.sim", "/b", 15, 25);
  call("bmc", "/redfish/v1/Systems", 13, 30);
  call("openbao.sim", "/c", 31, 40);
  assertEquals(recorder.criticalPath(), 3);
  // /c waited for /b or the Systems collection (equally deep): the one that ended last.
  assertEquals(recorder.criticalChain().map((c) => `${c.host} ${c.path}`), [
    "bmc /redfish/v1/",
    "bmc /redfish/v1/Systems",
    "openbao.sim /c",
  ]);
  recorder.calls.pop();
  assertEquals(recorder.criticalChain().map((c) => `${c.host} ${c.path}`), [
    "netbox.sim /a",
    "netbox.sim /b",
  ]);
});
