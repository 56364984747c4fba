/** The bench's child processes (the simulated world, the service) and what /proc says of them. */

/** A child process that printed one JSON line on start-up (its addresses), and its stop. */
export interface Started<T> extends AsyncDisposable {
  child: Deno.ChildProcess;
  info: T;
}

/** Runs `deno run --allow-all FLAGS MODULE ARGS` and waits for its first stdout line (JSON). */
export async function startDeno<T>(
  module: string,
  args: string[],
  env: Record<string, string> = {},
  flags: string[] = [],
): Promise<Started<T>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", ...flags, module, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* exited */ }
    await child.status;
  };
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => stop(), 60_000);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${module} exited before printing its addresses`);
      text += value;
    }
  } finally {
    clearTimeout(deadline);
  }
  // Later output is not read; drain it so that the child never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* discard */ }
  })().catch(() => {});
  return { child, info: JSON.parse(text.split("\n")[0]), [Symbol.asyncDispose]: stop };
}

/** /proc/<pid>/stat fields after the command name (field 3 is index 0). */
export function procStat(pid: number | "self"): string[] {
  return Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
}

/**
 * The V8 flags `deno task start` (and the Dockerfile) run the service with: its heap sized for a
 * service's steady allocation rather than for the machine's memory (docs/bench.md).
 */
export function serviceV8Flags(): string[] {
  const task = JSON.parse(Deno.readTextFileSync("deno.json")).tasks.start as string;
  return task.match(/--v8-flags=\S+/g) ?? [];
}

/** CPU seconds process `pid` has used so far, in user and in system (kernel) mode. */
export function cpuSeconds(pid: number | "self"): { user: number; system: number } {
  const f = procStat(pid);
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 }; // clock ticks (100 Hz)
}

/** A byte figure of /proc/<pid>/status: VmRSS (resident now) or VmHWM (resident at its peak). */
export function memory(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024;
}
