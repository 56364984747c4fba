/**
 * The page's main-thread CPU time in a Chromium trace, from its navigation to a mark: a figure the
 * machine's load barely moves (a busy machine delays the thread, it does not make its work bigger),
 * unlike the wall-clock times beside it.
 */

/** Trace categories `mainThreadCpu` needs (tasks with thread time, V8 work, user timing marks). */
export const TRACE_CATEGORIES = [
  "devtools.timeline",
  "disabled-by-default-devtools.timeline",
  "v8",
  "v8.execute",
  "blink.user_timing",
  "loading",
];

/** One Chromium trace event (the fields read here). */
export interface TraceEvent {
  name: string;
  cat: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { data?: { documentLoaderURL?: string } };
}

export interface MainThreadCpu {
  /** CPU time of the main thread's tasks, ms. */
  totalMs: number;
  /** Of which JavaScript: compiling, running (microtasks included) and caching the page's code. */
  scriptMs: number;
}

const SCRIPT = new Set([
  "v8.compile",
  "v8.compileModule",
  "v8.evaluateModule",
  "v8.produceModuleCache",
  "EvaluateScript",
  "FunctionCall",
  "RunMicrotasks",
]);

/** Sums thread time (`tdur`) of the outermost events that `pick` selects, within [from, to]. */
function outermost(
  events: TraceEvent[],
  pick: (e: TraceEvent) => boolean,
  from: number,
  to: number,
) {
  let total = 0, end = -Infinity;
  for (const e of events) {
    if (!pick(e) || e.ts < from || e.ts > to || e.ts < end) continue;
    end = e.ts + (e.dur ?? 0);
    total += e.tdur ?? 0;
  }
  return total / 1000;
}

/** Main-thread CPU of the renderer that navigated to `url`, from its navigation to `mark`. */
export function mainThreadCpu(trace: TraceEvent[], url: string, mark: string): MainThreadCpu {
  const nav = trace.find((e) =>
    e.name === "navigationStart" && e.args?.data?.documentLoaderURL === url
  );
  const end = trace.find((e) => e.name === mark && e.cat.includes("blink.user_timing"));
  if (!nav || !end) {
    const navigations = trace.filter((e) => e.name === "navigationStart").length;
    throw new Error(
      `the trace (${trace.length} events, ${navigations} navigations) has ${
        nav ? "" : `no navigation to ${url}`
      }${!nav && !end ? " and " : ""}${end ? "" : `no mark ${mark}`}`,
    );
  }
  const thread = trace
    .filter((e) => e.pid === nav.pid && e.tid === nav.tid && e.ph === "X")
    .sort((a, b) => a.ts - b.ts || (b.dur ?? 0) - (a.dur ?? 0));
  return {
    totalMs: outermost(thread, (e) => e.name === "RunTask", nav.ts, end.ts),
    scriptMs: outermost(thread, (e) => SCRIPT.has(e.name), nav.ts, end.ts),
  };
}
