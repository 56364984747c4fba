/** What the command-line scripts share: argument parsing, one-line messages for files they cannot read. */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { redactText } from "./redact.ts";

/** `Cannot read servers.json: no such file` — the reason in words, without the OS error code. */
export function cannotRead(name: string, e: unknown): string {
  const why = e instanceof Deno.errors.NotFound
    ? "no such file"
    : e instanceof Deno.errors.PermissionDenied
    ? "permission denied"
    : e instanceof Deno.errors.IsADirectory
    ? "is a directory"
    : e instanceof Error
    ? e.message
    : String(e);
  return `Cannot read ${name}: ${why}`;
}

/** The scripts' way of reading arguments: options as declared, positionals allowed, anything
 * unknown refused. A usage mistake comes back as a message for the script to print. */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
):
  | ({ ok: true } & ParsedArgs<O>)
  | { ok: false; error: string } {
  try {
    return { ok: true, ...parseArgs({ args, options, allowPositionals: true, strict: true }) };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

type ParsedArgs<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** What a script talking to the service reads and writes; tests pass their own. */
export interface ServiceIo {
  fetch: typeof fetch;
  stdout(text: string): void;
  stderr(text: string): void;
  env(name: string): string | undefined;
}

/** The process's own standard streams, environment and fetch. */
export const processIo: ServiceIo = {
  fetch,
  stdout: (t) => Deno.stdout.writeSync(new TextEncoder().encode(t)),
  stderr: (t) => Deno.stderr.writeSync(new TextEncoder().encode(t)),
  env: (name) => Deno.env.get(name),
};

/** A mistake on the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** The options every service script takes besides its own. */
export const serviceOptions = {
  url: { type: "string" },
  token: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The service URL (without trailing slash) and token from `--url`/`--token`, else
 * `ONBOARDING_SERVER`/`ONBOARDING_TOKEN`. */
export function serviceTarget(
  values: { url?: string; token?: string },
  io: Pick<ServiceIo, "env">,
): { url: string; token?: string } {
  const url = (values.url ?? io.env("ONBOARDING_SERVER") ?? "").replace(/\/+$/, "");
  if (!/^https?:\/\//.test(url)) {
    throw new UsageError("No service URL: pass --url URL or set ONBOARDING_SERVER");
  }
  return { url, token: values.token ?? (io.env("ONBOARDING_TOKEN") || undefined) };
}

/** A service script's start: parses its options (a UsageError prints the usage, exit 2), answers
 * `--help` (exit 0), and otherwise hands back the options and output functions that redact the
 * token. */
export function startServiceScript<O extends { help: boolean; token?: string }>(
  io: ServiceIo,
  usage: string,
  parse: () => O,
):
  | { code: number }
  | {
    opts: Extract<O, { help: false }>;
    out: (text: string) => void;
    err: (text: string) => void;
  } {
  let token = "";
  const out = (t: string) => io.stdout(redactText(t, [token]));
  const err = (t: string) => io.stderr(redactText(t, [token]));
  let opts;
  try {
    opts = parse();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`${e.message}\n\n${usage}\n`);
    return { code: 2 };
  }
  if (opts.help) {
    out(usage + "\n");
    return { code: 0 };
  }
  token = opts.token ?? "";
  return { opts: opts as Extract<O, { help: false }>, out, err };
}

/** Calls `/api/v1{path}` on the service with the bearer token; the JSON body, or null. */
export async function callService(
  io: Pick<ServiceIo, "fetch">,
  target: { url: string; token?: string },
  path: string,
  init: RequestInit = {},
  // deno-lint-ignore no-explicit-any -- the API's JSON answers
): Promise<{ status: number; body: any }> {
  const headers = new Headers(init.headers);
  if (target.token) headers.set("authorization", `Bearer ${target.token}`);
  const res = await io.fetch(`${target.url}/api/v1${path}`, { ...init, headers });
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}
