/** Bench section: resident memory of the server (`demo.ts`), idle and during a 500-server import. */
import { BENCH_CONFIG, bmcIpItems } from "./harness.ts";
import { fmtMb, fmtS, MB, results, row } from "./report.ts";

function vmRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

export async function benchMemory() {
  const section = "Server memory (`demo.ts`)";
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "demo.ts"],
    env: {
      ONBOARDING_PORT: String(port),
      ONBOARDING_HOSTNAME: "127.0.0.1",
      ONBOARDING_LOG_LEVEL: "warn",
      ONBOARDING_WRITE_RATE_LIMIT: "1000000",
      ONBOARDING_BMC_NETWORKS: BENCH_CONFIG.ONBOARDING_BMC_NETWORKS,
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.body?.cancel().then(() => r.ok),
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error("the demo server did not start within 30 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    // Idle: started, one page and one API call served, then left alone for 3 s.
    await fetch(`${base}/`).then((r) => r.text());
    await fetch(`${base}/api/v1/servers`).then((r) => r.text());
    await new Promise((r) => setTimeout(r, 3000));
    const idle = vmRss(child.pid);
    let peak = idle;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, vmRss(child.pid));
      } catch { /* exited */ }
    }, 100);
    const started = performance.now();
    const res = await fetch(`${base}/api/v1/servers/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(bmcIpItems(500)),
    });
    const out = await res.json() as { status: string }[];
    const ms = performance.now() - started;
    clearInterval(timer);
    peak = Math.max(peak, vmRss(child.pid));
    await new Promise((r) => setTimeout(r, 2000));
    const after = vmRss(child.pid);
    const ok = Array.isArray(out) ? out.filter((r) => r.status === "ok").length : 0;
    results.memory = { idleBytes: idle, peakBytes: peak, afterBytes: after, importMs: ms, ok };
    row({
      section,
      measure: "idle RSS",
      value: fmtMb(idle),
      target: "≤ 120 MB",
      met: idle <= 120 * MB,
    });
    row({
      section,
      measure: "peak RSS during a 500-server import over HTTP (2 s after)",
      value: `${fmtMb(peak)} (${fmtMb(after)}), ${ok}/500 ok in ${fmtS(ms)}`,
    });
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}
