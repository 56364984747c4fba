/** What the command-line scripts share: argument parsing, one-line messages for files they cannot read. */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

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
