/** The embedded state store (Deno KV, the default): one process owns the file. */
import { LocalCoordination } from "./store.ts";

/** Opens (creating its directory if missing) the KV store at `path`. */
export async function openKvState(path: string) {
  if (path !== ":memory:" && !path.includes("://") && path.includes("/")) {
    // Only a missing directory is created: the start task may allow writes to the KV file alone.
    const dir = path.replace(/\/[^/]*$/, "") || "/";
    if (!await Deno.stat(dir).then(() => true, () => false)) {
      await Deno.mkdir(dir, { recursive: true });
    }
  }
  const kv = await Deno.openKv(path);
  return {
    kv,
    coordination: new LocalCoordination(),
    close: () => Promise.resolve(kv.close()),
  };
}
