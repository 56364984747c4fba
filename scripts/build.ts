/**
 * `deno task build`: bundles the browser code with `deno bundle --platform browser` into
 * `static/build/` with content-hashed names (one bundle per island: its entry hydrates it, its own
 * lazy imports split out), copies the stylesheet and the ZXing `.wasm`, writes `manifest.json` for
 * the server and prints the gzip size of the JavaScript each page ships.
 */
import { pathToFileURL } from "node:url";
import { islandFileBase, ISLANDS, PAGE_ISLANDS } from "../islands/manifest.ts";
import type { AssetManifest } from "../components/islands.tsx";
import { staticImports } from "../lib/domain/static_imports.ts";

const OUT = "static/build";
const PUBLIC = "/static/build/";
/** The budget SPEC §7 sets for the scan page before the camera opens. */
const SCAN_PAGE_BUDGET = 60 * 1024;

async function run(args: string[]): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`deno ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`);
  }
}

async function contentHash(data: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].slice(0, 5).map((b) => b.toString(16).padStart(2, "0"))
    .join("").toUpperCase();
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((x, i) => x === b[i]);
}

async function gzipSize(data: Uint8Array): Promise<number> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/** The path of the ZXing reader `.wasm` matching the zxing-wasm version in deno.lock. */
async function zxingWasmPath(): Promise<string> {
  const lock = JSON.parse(await Deno.readTextFile("deno.lock"));
  const key = Object.keys(lock.npm ?? {}).find((k) => k.startsWith("zxing-wasm@"));
  if (!key) throw new Error("zxing-wasm is not in deno.lock: is barcode-detector installed?");
  const version = key.slice("zxing-wasm@".length).split("_")[0];
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
  })
    .output();
  const { npmCache } = JSON.parse(new TextDecoder().decode(info.stdout)) as { npmCache: string };
  const path = `${npmCache}/registry.npmjs.org/zxing-wasm/${version}/dist/reader/zxing_reader.wasm`;
  await Deno.stat(path);
  return path;
}

async function main() {
  await Deno.remove(OUT, { recursive: true }).catch(() => {});
  const tmp = `${OUT}/.tmp`;
  await Deno.mkdir(OUT, { recursive: true });
  // `jsx: precompile` emits string templates that only a server renderer understands; the
  // browser bundle needs the automatic runtime so event handlers are attached on hydration.
  const config = JSON.parse(await Deno.readTextFile("deno.json"));
  config.compilerOptions = { ...config.compilerOptions, jsx: "react-jsx" };
  delete config.exclude;
  const browserConfig = `${OUT}/deno.browser.json`;
  await Deno.writeTextFile(browserConfig, JSON.stringify(config));
  // Make sure barcode-detector and its wasm are in the npm cache before bundling.
  await run(["cache", "client/boot.ts"]);
  const bundle = (...args: string[]) =>
    run([
      "bundle",
      "--quiet",
      "--platform",
      "browser",
      "--format",
      "esm",
      "--minify",
      "--config",
      browserConfig,
      "--lock=deno.lock",
      ...args,
    ]);
  // One bundle per island rather than one loader with a lazy chunk per island: a page then runs its
  // entry and the one or two chunks it imports, hydrating at once (on a phone every module fetched
  // and compiled costs main-thread time before the first input is possible). Each bundle splits
  // out only its own lazy imports; a chunk two bundles share has the same content and name.
  const entries = `${tmp}/entries`;
  await Deno.mkdir(entries, { recursive: true });
  const root = pathToFileURL(`${Deno.cwd()}/`);
  await Promise.all(
    Object.keys(ISLANDS).map(async (name) => {
      const base = islandFileBase(name);
      const entry = `${entries}/${base}.ts`;
      await Deno.writeTextFile(
        entry,
        `import { boot } from "${new URL("client/boot.ts", root)}";\n` +
          `import island from "${new URL(`islands/${base}.tsx`, root)}";\n` +
          `boot(${JSON.stringify(name)}, island);\n`,
      );
      await bundle("--code-splitting", "--outdir", `${tmp}/${base}`, entry);
    }),
  );
  await bundle("--output", `${OUT}/sw.js`, "client/sw.ts");

  const files: string[] = [];
  const code = new Map<string, Uint8Array>();
  const entryOf: Record<string, string> = {};
  for (const name of Object.keys(ISLANDS)) {
    const base = islandFileBase(name);
    for await (const file of Deno.readDir(`${tmp}/${base}`)) {
      if (!file.isFile || !file.name.endsWith(".js")) continue;
      const data = await Deno.readFile(`${tmp}/${base}/${file.name}`);
      // The entry is the only file without a content hash in its name: add one.
      const out = file.name === `${base}.js` ? `boot-${await contentHash(data)}.js` : file.name;
      if (file.name === `${base}.js`) entryOf[name] = out;
      const same = code.get(out);
      if (same) {
        if (!sameBytes(same, data)) throw new Error(`two bundles made different ${out}`);
        continue;
      }
      await Deno.writeFile(`${OUT}/${out}`, data);
      code.set(out, data);
      files.push(PUBLIC + out);
    }
    if (!entryOf[name]) throw new Error(`deno bundle produced no entry for island ${name}`);
  }
  await Deno.remove(tmp, { recursive: true });
  await Deno.remove(browserConfig);

  const css = await Deno.readFile("static/app.css");
  const cssName = `app-${await contentHash(css)}.css`;
  await Deno.writeFile(`${OUT}/${cssName}`, css);
  files.push(PUBLIC + cssName);

  const wasm = await Deno.readFile(await zxingWasmPath());
  const wasmName = `zxing_reader-${await contentHash(wasm)}.wasm`;
  await Deno.writeFile(`${OUT}/${wasmName}`, wasm);
  files.push(PUBLIC + wasmName);

  const closure = (start: string) => {
    const seen = new Set<string>();
    const visit = (name: string) => {
      if (seen.has(name) || !code.has(name)) return;
      seen.add(name);
      staticImports(new TextDecoder().decode(code.get(name))).forEach(visit);
    };
    visit(start);
    return [...seen];
  };

  // Per island: its entry first, then every chunk the entry imports statically (modulepreload).
  const islands: Record<string, string[]> = {};
  for (const name of Object.keys(ISLANDS)) {
    islands[name] = closure(entryOf[name]).map((f) => PUBLIC + f);
  }

  const all = new Uint8Array(
    [...code.values(), css, wasm].reduce((n, d) => n + d.byteLength, 0),
  );
  let offset = 0;
  for (const d of [...code.values(), css, wasm]) {
    all.set(d, offset);
    offset += d.byteLength;
  }
  const manifest: AssetManifest = {
    version: await contentHash(all),
    css: PUBLIC + cssName,
    wasm: PUBLIC + wasmName,
    islands,
    files: files.sort(),
  };
  await Deno.writeTextFile(`${OUT}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");

  console.log(`Built ${files.length} files into ${OUT}/ (version ${manifest.version})`);
  console.log("JavaScript per page (gzip, before any lazy import):");
  let overBudget = false;
  for (const [page, names] of Object.entries(PAGE_ISLANDS)) {
    const chunks = new Set(names.flatMap((n) => islands[n]).map((u) => u.slice(PUBLIC.length)));
    let size = 0;
    for (const c of chunks) size += await gzipSize(code.get(c)!);
    const kb = (size / 1024).toFixed(1);
    const note = page.includes("scan") ? ` (budget ${SCAN_PAGE_BUDGET / 1024} KB)` : "";
    console.log(`  ${page.padEnd(24)} ${kb.padStart(6)} KB${note}`);
    if (page.includes("scan") && size > SCAN_PAGE_BUDGET) overBudget = true;
  }
  console.log(
    `  ${"zxing_reader.wasm".padEnd(24)} ${
      (await gzipSize(wasm) / 1024).toFixed(1).padStart(6)
    } KB (on camera open)`,
  );
  if (overBudget) throw new Error("The scan page ships more than 60 KB of gzip JavaScript");
}

if (import.meta.main) {
  try {
    await main();
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
