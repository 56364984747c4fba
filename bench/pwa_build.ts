/** The PWA's build output as the browser fetches it: gzip bytes per page, before and on demand. */
import { islandFileBase, PAGE_ISLANDS } from "../islands/manifest.ts";
import type { AssetManifest } from "../components/islands.tsx";
import { staticImports } from "../lib/domain/static_imports.ts";

export const BUILD = "static/build";
export const PUBLIC = "/static/build/";

async function gzipSize(data: Uint8Array): Promise<number> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

async function newestMtime(dirs: string[]): Promise<number> {
  let newest = 0;
  for (const dir of dirs) {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile) {
        newest = Math.max(newest, (await Deno.stat(`${dir}/${e.name}`)).mtime!.getTime());
      }
    }
  }
  return newest;
}

/** The asset manifest of `deno task build`, building first when it is missing or older than the
 * browser sources. */
export async function builtManifest(): Promise<AssetManifest> {
  const built = await Deno.stat(`${BUILD}/manifest.json`).then((s) => s.mtime!.getTime(), () => 0);
  const sources = Math.max(
    await newestMtime(["client", "islands", "components"]),
    (await Deno.stat("static/app.css")).mtime!.getTime(),
  );
  if (built < sources) {
    console.error("  (static/build is missing or stale: running deno task build)");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "build"],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(`deno task build failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  }
  return JSON.parse(await Deno.readTextFile(`${BUILD}/manifest.json`));
}

/** A chunk and every chunk it imports statically (what the browser fetches before running it). */
async function closure(start: string): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const code = await Deno.readTextFile(`${BUILD}/${name}`);
    for (const dep of staticImports(code)) await visit(dep);
  };
  await visit(start);
  return [...seen];
}

export async function pageWeights(manifest: AssetManifest) {
  const file = (url: string) => url.slice(PUBLIC.length);
  const gz = async (names: Iterable<string>) => {
    let total = 0;
    for (const n of names) total += await gzipSize(await Deno.readFile(`${BUILD}/${n}`));
    return total;
  };
  const eager = (islands: string[]) =>
    new Set(islands.flatMap((island) => (manifest.islands[island] ?? []).map(file)));
  const css = await gz([file(manifest.css)]);
  const pages: Record<string, { js: number; css: number; chunks: number }> = {};
  for (const [page, islands] of Object.entries(PAGE_ISLANDS)) {
    const chunks = eager(islands);
    pages[page] = { js: await gz(chunks), css, chunks: chunks.size };
  }
  const scanEager = eager(["ScanFlow"]);
  // Loaded when the camera opens: the scanner chunk, the ponyfill and the ZXing reader.
  const scanner = manifest.files.map(file).find((f) => f.startsWith("scanner-"));
  const decoderChunks = scanner ? await closure(scanner) : [];
  const ponyfill = manifest.files.map(file).find((f) => f.startsWith("ponyfill-"));
  if (ponyfill) {
    decoderChunks.push(...(await closure(ponyfill)).filter((c) => !decoderChunks.includes(c)));
  }
  const onCamera = {
    js: await gz(decoderChunks.filter((c) => !scanEager.has(c))),
    wasm: await gz([file(manifest.wasm)]),
  };
  // The import page's lazy chunks: validation (zod) from the first focus in the panel, then the
  // YAML parser and the Kea merge on the YAML + Kea path, each without what is already loaded.
  const importEager = eager(["ImportPanel"]);
  const lazyClosure = async (prefix: string, loaded: Set<string>) => {
    const start = manifest.files.map(file).find((f) => f.startsWith(prefix));
    return start ? (await closure(start)).filter((c) => !loaded.has(c)) : [];
  };
  const validationChunks = await lazyClosure("schemas-", importEager);
  const mergeChunks = await lazyClosure(
    "merge_import-",
    new Set([...importEager, ...validationChunks]),
  );
  const importOnDemand = {
    validation: await gz(validationChunks),
    merge: await gz(mergeChunks),
  };
  return { pages, onCamera, importOnDemand, scanner, islandBase: islandFileBase("ScanFlow") };
}
