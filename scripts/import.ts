/** `deno task import FILE|-`: bulk-imports servers through the API's import WebSocket with live
 * progress, then prints one outcome per server (SPEC §8). `--dry-run` runs the API's pre-flight
 * when a server is given (nothing written), else validates locally. */
import { cannotRead, parseCommandLine } from "../lib/domain/cli.ts";
import { checkImportItems, nameOf, passwordsOf, typeOf } from "../lib/domain/import_check.ts";
import { redactText } from "../lib/integrations/http.ts";
import { IMPORT_MAX_ITEMS } from "../lib/domain/schemas.ts";

const USAGE = `Usage: deno task import FILE|- [options]

Bulk-imports servers from a JSON array of import items (a file, or - for stdin) through
GET {server}/api/v1/servers/import/ws, showing progress on stderr and one line per server on stdout.

Options:
  --server URL       the onboarding service, e.g. --server https://onboarding.example.org
                     (default: $ONBOARDING_SERVER); required unless --dry-run
  --token TOKEN      bearer token sent to the server, e.g. --token "$(cat token.txt)"
                     (default: $ONBOARDING_TOKEN; none when auth is disabled)
  --concurrency N    servers registered at the same time, 1 to 256, e.g. --concurrency 16
                     (default: the server's IMPORT_CONCURRENCY, 8)
  --dry-run          check without registering anything: with a server, its pre-flight
                     (POST /api/v1/servers/import?dry_run=true: Netbox references, free rack
                     units, MACs Netbox or Kea hold); without one, local validation only
  --json             print the results as a JSON array instead of a table
  -h, --help         show this help

Examples:
  deno task import servers.json --server https://onboarding.example.org
  deno task import servers.json --server https://onboarding.example.org --dry-run
  deno task merge-import devices.yaml kea.json | deno task import - --json

Exit codes: 0 all ok (or all ready), 1 some server failed or was refused (or the connection
broke), 2 bad usage or input file.`;

const HELP_HINT = "Run deno task import --help for every option.";

/** Where the command reads and writes; tests substitute their own. */
export interface ImportIo {
  readStdin(): Promise<string>;
  readFile(path: string): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
  /** True when stderr is a terminal: a redrawn progress bar instead of periodic lines. */
  stderrIsTerminal: boolean;
  env(name: string): string | undefined;
  /** Interval between plain progress lines when stderr is not a terminal. */
  progressIntervalMs?: number;
}

/** One server's outcome, as the import API reports it. */
export interface ImportResult {
  index: number;
  device_name: string;
  status: "ok" | "failed";
  steps?: Record<string, string>;
  warnings?: string[];
  error?: string;
  bmc_ip?: string;
}

class UsageError extends Error {}
/** The input file cannot be used: said in one line, without the usage text. */
class InputError extends Error {}

/** Runs the command and returns its exit code. */
export async function runImport(args: string[], io: ImportIo): Promise<number> {
  let secrets: string[] = [];
  const out = (text: string) => io.stdout(redactText(text, secrets));
  const err = (text: string) => io.stderr(redactText(text, secrets));
  try {
    const opts = parseOptions(args, io);
    if (opts.help) {
      io.stdout(USAGE + "\n");
      return 0;
    }
    secrets = opts.token ? [opts.token] : [];
    const items = await readItems(opts.file, io);
    secrets = [...secrets, ...passwordsOf(items)];
    if (opts.dryRun) {
      return opts.server
        ? await dryRunOnServer(items, opts, out, err)
        : dryRun(items, opts.json, out, err);
    }
    return await importOverWebSocket(items, opts, io, out, err);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\n${HELP_HINT}\n`);
      return 2;
    }
    if (e instanceof InputError) {
      err(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

interface Options {
  file: string;
  server?: string;
  token?: string;
  concurrency?: number;
  dryRun: boolean;
  json: boolean;
  help: boolean;
}

function parseOptions(args: string[], io: ImportIo): Options {
  const parsed = parseCommandLine(args, {
    server: { type: "string" },
    token: { type: "string" },
    concurrency: { type: "string" },
    "dry-run": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (!parsed.ok) throw new UsageError(parsed.error);
  const { values, positionals } = parsed;
  const help = values.help ?? false;
  if (help) return { file: "", dryRun: false, json: false, help };
  if (positionals.length !== 1) {
    throw new UsageError("Give exactly one input: a JSON file, or - for stdin");
  }
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    concurrency = Number(values.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
      throw new UsageError(
        `--concurrency must be a whole number from 1 to 256, not '${values.concurrency}'`,
      );
    }
  }
  const server = values.server ?? (io.env("ONBOARDING_SERVER") || undefined);
  const dryRun = values["dry-run"] ?? false;
  if (!dryRun && !server) {
    throw new UsageError(
      "--server is required (or set ONBOARDING_SERVER), e.g. --server https://onboarding.example.org",
    );
  }
  if (server) {
    try {
      const u = new URL(server);
      if (!["http:", "https:", "ws:", "wss:"].includes(u.protocol)) throw new TypeError();
    } catch {
      throw new UsageError(`--server must be an http(s) URL, e.g. https://onboarding.example.org`);
    }
  }
  return {
    file: positionals[0],
    server,
    token: values.token ?? (io.env("ONBOARDING_TOKEN") || undefined),
    concurrency,
    dryRun,
    json: values.json ?? false,
    help,
  };
}

async function readItems(file: string, io: ImportIo): Promise<unknown[]> {
  const name = file === "-" ? "stdin" : file;
  let text: string;
  try {
    text = file === "-" ? await io.readStdin() : await io.readFile(file);
  } catch (e) {
    throw new InputError(cannotRead(name, e));
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // JSON.parse quotes a position, not the text, so no password leaks here.
    throw new InputError(`${name} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(data)) {
    throw new InputError(`${name} must hold a JSON array of servers, not ${typeOf(data)}`);
  }
  if (data.length === 0) throw new InputError(`${name} holds no servers`);
  if (data.length > IMPORT_MAX_ITEMS) {
    throw new InputError(
      `${name} holds ${data.length} servers; at most ${IMPORT_MAX_ITEMS} per import`,
    );
  }
  return data;
}

/** Validates every item; prints what would be sent (never the password) and per-row errors. */
function dryRun(
  items: unknown[],
  json: boolean,
  out: (t: string) => void,
  err: (t: string) => void,
): number {
  const rows = checkImportItems(items);
  const invalid = rows.filter((r) => r.status === "invalid").length;
  if (json) {
    out(JSON.stringify(rows, null, 2) + "\n");
  } else {
    out(
      table(
        ["#", "name", "check", "bmc_mac", "bmc_ip", "netbox", "errors"],
        rows.map((r) =>
          r.status === "valid"
            ? [
              String(r.index + 1),
              r.device_name,
              "valid",
              r.item.bmc_mac,
              r.item.bmc_ip ?? "(from prefix)",
              r.netbox ? "yes" : "skipped: no location",
              r.warnings.join("; "),
            ]
            : [
              String(r.index + 1),
              r.device_name,
              "invalid",
              "",
              "",
              "",
              Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join("; "),
            ]
        ),
      ),
    );
  }
  err(
    `Dry run: ${
      rows.length - invalid
    } of ${rows.length} servers valid, ${invalid} invalid; nothing sent.\n`,
  );
  return invalid ? 1 : 0;
}

/** One row of the server's pre-flight answer. */
interface PreviewRow {
  index: number;
  device_name: string;
  status: "ready" | "failed";
  error?: string;
}

/** `--dry-run` with a server: the API's own pre-flight, which writes nothing. */
async function dryRunOnServer(
  items: unknown[],
  opts: Options,
  out: (t: string) => void,
  err: (t: string) => void,
): Promise<number> {
  const u = new URL(opts.server!);
  u.protocol = u.protocol === "wss:" ? "https:" : u.protocol === "ws:" ? "http:" : u.protocol;
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/api/v1/servers/import`;
  u.search = "?dry_run=true";
  let res: Response;
  try {
    res = await fetch(u, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      body: JSON.stringify(items),
      signal: AbortSignal.timeout(120_000),
    });
  } catch (e) {
    err(`Dry run failed: cannot reach ${u.origin} (${e instanceof Error ? e.message : e})\n`);
    return 1;
  }
  const body = await res.json().catch(() => null);
  if (!res.ok || !Array.isArray(body)) {
    const message = body?.error?.message ?? `HTTP ${res.status}`;
    err(`Dry run failed: ${u.origin} answered ${res.status}: ${message}\n`);
    return 1;
  }
  const rows = body as PreviewRow[];
  if (opts.json) out(JSON.stringify(rows, null, 2) + "\n");
  else {
    out(table(
      ["#", "name", "check", "error"],
      rows.map((r) => [
        String(r.index + 1),
        r.device_name || nameOf(items[r.index], r.index),
        r.status,
        r.error ?? "",
      ]),
    ));
  }
  const refused = rows.filter((r) => r.status !== "ready").length;
  err(
    `Dry run on ${u.origin}: ${
      rows.length - refused
    } of ${rows.length} servers ready, ${refused} refused; nothing written.\n`,
  );
  return refused ? 1 : 0;
}

/** The WebSocket URL of the import endpoint under a server base URL. */
export function importSocketUrl(server: string, concurrency?: number): string {
  const u = new URL(server);
  u.protocol = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:";
  u.pathname = `${u.pathname.replace(/\/+$/, "")}/api/v1/servers/import/ws`;
  u.search = concurrency ? `?concurrency=${concurrency}` : "";
  u.hash = "";
  return u.toString();
}

/** Deno's WebSocket takes handshake headers; the "dom" lib in deno.json hides that overload. */
const DenoWebSocket = WebSocket as unknown as new (
  url: string,
  options: { headers: HeadersInit },
) => WebSocket;

interface Progress {
  total: number;
  ok: number;
  failed: number;
  /** Latest step per server still running, for the progress line. */
  running: Map<number, string>;
}

async function importOverWebSocket(
  items: unknown[],
  opts: Options,
  io: ImportIo,
  out: (t: string) => void,
  err: (t: string) => void,
): Promise<number> {
  const url = importSocketUrl(opts.server!, opts.concurrency);
  const progress: Progress = { total: items.length, ok: 0, failed: 0, running: new Map() };
  const results = new Map<number, ImportResult>();
  const reporter = progressReporter(progress, io, err);
  err(`Importing ${items.length} servers via ${url}\n`);

  const outcome = await new Promise<{ done: boolean; sent: boolean; problem?: string }>(
    (resolve) => {
      const headers: Record<string, string> = {};
      if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
      let ws: WebSocket;
      try {
        ws = new DenoWebSocket(url, { headers });
      } catch (e) {
        resolve({ done: false, sent: false, problem: e instanceof Error ? e.message : String(e) });
        return;
      }
      let opened = false;
      let done = false;
      let problem: string | undefined;
      ws.onopen = () => {
        opened = true;
        ws.send(JSON.stringify(items));
      };
      ws.onmessage = (event) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(String(event.data));
        } catch {
          problem = "The server sent a message that is not JSON";
          return;
        }
        if (msg.type === "step" && typeof msg.index === "number") {
          progress.running.set(msg.index, `${msg.device_name ?? ""} ${msg.step}: ${msg.status}`);
        } else if (msg.type === "result" && typeof msg.index === "number") {
          const { type: _type, ...result } = msg;
          if (!results.has(msg.index)) {
            if (result.status === "ok") progress.ok++;
            else progress.failed++;
          }
          results.set(msg.index, result as unknown as ImportResult);
          progress.running.delete(msg.index);
        } else if (msg.type === "done" || msg.done === true) {
          done = true;
          ws.close(1000);
        } else if (msg.error) {
          // The API's error envelope: {"error": {"code", "message"}} (e.g. a rejected array).
          const e = msg.error as { message?: string } | string;
          problem = typeof e === "string" ? e : e.message ?? JSON.stringify(e);
        }
        reporter.update();
      };
      ws.onerror = (event) => {
        const message = (event as ErrorEvent).message;
        if (!done) problem ??= message || "WebSocket error";
      };
      ws.onclose = (event) => {
        if (!done && !problem) {
          problem = opened
            ? `The connection closed before the import finished (code ${event.code}${
              event.reason ? `: ${event.reason}` : ""
            })`
            : "Could not connect";
        }
        resolve({ done, sent: opened, problem });
      };
    },
  );
  reporter.finish();

  const ordered = [...results.values()].sort((a, b) => a.index - b.index);
  if (opts.json) {
    out(JSON.stringify(ordered, null, 2) + "\n");
  } else if (ordered.length) {
    out(
      table(
        ["name", "status", "bmc_ip", "steps", "error"],
        ordered.map((r) => [
          r.device_name,
          r.status,
          r.bmc_ip ?? "",
          Object.entries(r.steps ?? {}).map(([k, v]) => `${k}:${v}`).join(" "),
          r.error ?? "",
        ]),
      ),
    );
    const warnings = ordered.flatMap((r) =>
      (r.warnings ?? []).map((w) => `${r.device_name}: ${w}`)
    );
    if (warnings.length) out(`\nWarnings:\n${warnings.map((w) => `  ${w}\n`).join("")}`);
  }
  const missing = items.length - results.size;
  if (!outcome.done) {
    err(
      `Import incomplete: ${
        outcome.problem ?? "connection lost"
      } (${url}); ${results.size} of ${items.length} results received${
        !outcome.sent
          ? "; nothing was sent"
          : missing
          ? `; ${missing} servers have an unknown outcome (the server may still be importing them)`
          : ""
      }\n`,
    );
    return 1;
  }
  const failed = ordered.filter((r) => r.status !== "ok").length + missing;
  err(`Import finished: ${ordered.length - (failed - missing)} ok, ${failed} failed.\n`);
  return failed ? 1 : 0;
}

/** Redrawn bar on a terminal; otherwise one plain line at most every interval, and at the end. */
function progressReporter(progress: Progress, io: ImportIo, err: (t: string) => void) {
  const interval = io.progressIntervalMs ?? 5000;
  let last = 0;
  const line = () => {
    const finished = progress.ok + progress.failed;
    return `${finished}/${progress.total} done, ${progress.ok} ok, ${progress.failed} failed`;
  };
  return {
    update() {
      const now = Date.now();
      if (io.stderrIsTerminal) {
        if (now - last < 100) return;
        last = now;
        const finished = progress.ok + progress.failed;
        const width = 30;
        const filled = Math.round((finished / progress.total) * width);
        const current = [...progress.running.values()].at(-1) ?? "";
        err(
          `\r\x1b[K[${"#".repeat(filled)}${".".repeat(width - filled)}] ${line()}  ${
            current.slice(0, 40)
          }`,
        );
      } else if (now - last >= interval) {
        last = now;
        err(`Progress: ${line()}\n`);
      }
    },
    finish() {
      if (io.stderrIsTerminal) err(`\r\x1b[K`);
      err(`Progress: ${line()}\n`);
    },
  };
}

/** Left-aligned text table with a header row. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  return [fmt(header), ...rows.map(fmt)].join("\n") + "\n";
}

/** Writes all of `text` (writeSync may write only part of a large buffer). */
function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let data = new TextEncoder().encode(text);
  while (data.length) data = data.subarray(file.writeSync(data));
}

if (import.meta.main) {
  const code = await runImport(Deno.args, {
    readStdin: () => new Response(Deno.stdin.readable).text(),
    readFile: (path) => Deno.readTextFile(path),
    stdout: (t) => writeAll(Deno.stdout, t),
    stderr: (t) => writeAll(Deno.stderr, t),
    stderrIsTerminal: Deno.stderr.isTerminal(),
    env: (name) => Deno.env.get(name),
  });
  Deno.exit(code);
}
