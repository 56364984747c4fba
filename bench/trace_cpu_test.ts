import { deepStrictEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import { mainThreadCpu, type TraceEvent } from "./trace_cpu.ts";

const URL = "http://127.0.0.1:8000/";
const X = (name: string, ts: number, dur: number, tdur: number, tid = 1): TraceEvent => ({
  name,
  cat: "devtools.timeline",
  ph: "X",
  pid: 7,
  tid,
  ts,
  dur,
  tdur,
});

Deno.test("mainThreadCpu() sums the page's main-thread tasks from its navigation to the mark", () => {
  const trace: TraceEvent[] = [
    // An earlier navigation of the same tab (about:blank) and its task: not counted.
    { ...X("navigationStart", 0, 0, 0), ph: "R", args: { data: { documentLoaderURL: "" } } },
    X("RunTask", 10, 100, 90),
    { ...X("navigationStart", 1000, 0, 0), ph: "R", args: { data: { documentLoaderURL: URL } } },
    X("RunTask", 1100, 4000, 3000),
    X("v8.compileModule", 1200, 500, 400),
    X("RunTask", 6000, 2000, 1500),
    X("v8.evaluateModule", 6100, 1000, 800),
    X("FunctionCall", 6200, 300, 200), // inside the module's evaluation: counted once
    X("RunTask", 6500, 100, 100), // a nested run loop's task: inside the outer one
    X("RunTask", 9000, 1000, 1000, 2), // another thread
    { ...X("answered", 9500, 0, 0), cat: "blink.user_timing", ph: "R" },
    X("RunTask", 9800, 1000, 1000), // after the mark
  ];
  assertEquals(mainThreadCpu(trace, URL, "answered"), { totalMs: 4.5, scriptMs: 1.2 });
  assertThrows(() => mainThreadCpu(trace, "http://elsewhere/", "answered"), /no navigation/);
});
