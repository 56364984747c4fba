/** What the command-line scripts share: one-line messages for files they cannot read. */

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
