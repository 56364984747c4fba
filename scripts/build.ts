/**
 * `deno task build`: bundles the browser code with `deno bundle --platform browser` (one lazy chunk
 * per island, shared chunks split out) into `static/build/` with content-hashed names, copies the
 * stylesheet and the ZXing `.wasm`, writes `manifest.json` for the server and prints the gzip size
 * of the JavaScript each page ships.
 */
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
  await bundle("--code-splitting", "--outdir", tmp, "client/boot.ts");
  await bundle("--output", `${OUT}/sw.js`, "client/sw.ts");

  const files: string[] = [];
  const code = new Map<string, Uint8Array>();
  let boot = "";
  for await (const entry of Deno.readDir(tmp)) {
    if (!entry.isFile || !entry.name.endsWith(".js")) continue;
    const data = await Deno.readFile(`${tmp}/${entry.name}`);
    // The entry is the only file without a content hash in its name: add one.
    const name = entry.name === "boot.js" ? `boot-${await contentHash(data)}.js` : entry.name;
    if (entry.name === "boot.js") boot = name;
    await Deno.writeFile(`${OUT}/${name}`, data);
    code.set(name, data);
    files.push(PUBLIC + name);
  }
  await Deno.remove(tmp, { recursive: true });
  await Deno.remove(browserConfig);
  if (!boot) throw new Error("deno bundle produced no boot.js");

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

  const islands: Record<string, string[]> = {};
  for (const name of Object.keys(ISLANDS)) {
    const base = islandFileBase(name);
    const chunk = [...code.keys()].find((f) => f.startsWith(`${base}-`));
    if (!chunk) throw new Error(`No bundle chunk for island ${name} (expected ${base}-*.js)`);
    islands[name] = closure(chunk).map((f) => PUBLIC + f);
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
    boot: PUBLIC + boot,
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
    const chunks = new Set([
      ...closure(boot),
      ...names.flatMap((n) => closure(islands[n][0].slice(PUBLIC.length))),
    ]);
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
