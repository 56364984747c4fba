/**
 * The layer rules of the README's layout section, checked on the real import graph
 * (`deno info --json`): no cycle, no import upwards, no simulator or `ajv` in production.
 */
import { deepStrictEqual as assertEquals } from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const ROOT_PATH = ROOT.pathname;

interface InfoModule {
  specifier: string;
  kind?: string;
  dependencies?: {
    specifier: string;
    code?: { specifier: string };
    type?: { specifier: string };
  }[];
}

/** The module graph of `roots` as repository-relative paths (npm modules as `npm:name`). */
export async function importGraph(roots: string[]): Promise<Map<string, string[]>> {
  const dir = await Deno.makeTempDir();
  try {
    // One entry importing every root gives one graph for all of them.
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      roots.map((r) => `import ${JSON.stringify(new URL(r, ROOT).href)};`).join("\n"),
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", `--config=${ROOT_PATH}deno.json`, entry],
      cwd: ROOT_PATH,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as { modules: InfoModule[] };
    const name = (specifier: string) =>
      specifier.startsWith(ROOT.href)
        ? specifier.slice(ROOT.href.length)
        : specifier.startsWith("npm:")
        ? `npm:${specifier.replace(/^npm:\/?/, "").replace(/(.)@.*$/, "$1")}`
        : specifier;
    const graph = new Map<string, string[]>();
    for (const m of info.modules) {
      if (!m.specifier.startsWith(ROOT.href)) {
        if (m.kind === "npm") graph.set(name(m.specifier), []);
        continue;
      }
      const deps = (m.dependencies ?? []).flatMap((d) =>
        [d.code?.specifier, d.type?.specifier].filter((s): s is string => Boolean(s)).map(name)
      );
      graph.set(name(m.specifier), [...new Set(deps)]);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Every non-test source file under `dir`, repository-relative. */
async function sources(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const e of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}${e.name}`;
    if (e.isDirectory) files.push(...await sources(`${path}/`));
    else if (/\.tsx?$/.test(e.name) && !/_test\.tsx?$/.test(e.name)) files.push(path);
  }
  return files.sort();
}

/** The layer of a repository file, by folder. */
function layer(path: string): string {
  const m = path.match(/^lib\/(domain|integrations|observability|registration|state)\//);
  if (m) return m[1];
  // The world wires simulators to our clients and app; the simulators themselves stand alone.
  if (/^sim\/(world|app|serve)\.ts$/.test(path)) return "world";
  if (path.startsWith("sim/")) return "sim";
  if (path.startsWith("routes/")) return "routes";
  if (path === "app_types.ts") return "app_types";
  if (/^(islands|client|components)\//.test(path)) return "ui";
  return path;
}

/** Which layers each layer may import (its own is always allowed; npm packages are not layers). */
export const ALLOWED: Record<string, string[]> = {
  domain: [],
  observability: ["domain"],
  integrations: ["domain", "observability"],
  state: ["domain", "observability"],
  registration: ["domain", "integrations", "state", "observability"],
  routes: ["registration", "state", "domain", "observability", "app_types", "ui"],
  ui: ["domain"],
  sim: ["domain"],
};

/** Imports that break the rules, as "from → to (why)". */
export function violations(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  for (const [from, deps] of graph) {
    const own = layer(from);
    const allowed = ALLOWED[own];
    for (const to of deps) {
      if (to.startsWith("npm:") || !graph.has(to) && !to.startsWith("sim/")) continue;
      const target = layer(to);
      const simulated = (l: string) => l === "sim" || l === "world";
      if (simulated(target) && !simulated(own) && !from.startsWith("demo.ts")) {
        found.push(`${from} → ${to} (only demo.ts and tests may use the simulators)`);
      } else if (allowed && target !== own && !allowed.includes(target)) {
        found.push(
          `${from} → ${to} (${own} may import ${allowed.join(", ") || "nothing of ours"})`,
        );
      }
    }
  }
  return found;
}

/** One import cycle among the local modules, or null. */
export function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (next.startsWith("npm:")) continue;
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (!state.has(next)) {
        const cycle = visit(next);
        if (cycle) return cycle;
      }
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of graph.keys()) {
    if (!state.has(node)) {
      const cycle = visit(node);
      if (cycle) return cycle;
    }
  }
  return null;
}

Deno.test("the import graph keeps the layers", async (t) => {
  const roots = [
    "main.ts",
    "demo.ts",
    "app.ts",
    ...await sources("lib/"),
    ...await sources("routes/"),
    ...await sources("sim/"),
  ];
  const graph = await importGraph(roots);

  await t.step("no cycle", () => assertEquals(findCycle(graph), null));
  await t.step("no import against the layer rules", () => assertEquals(violations(graph), []));
  await t.step("main.ts reaches no simulator and no ajv", async () => {
    const production = [...(await importGraph(["main.ts"])).keys()];
    assertEquals(production.filter((f) => f.startsWith("sim/") || f === "npm:ajv"), []);
  });
});

/**
 * Functions longer than `max` lines in deno-fmt'ed source: a declaration (`function f(`,
 * `const f = (`) up to the first later line at its indent or less. A `}` or `)` there closes it
 * (unless it is `): T {`, the end of a wrapped parameter list); anything else there means the
 * function ended on the line before (a one-line arrow, or one closed deeper, like `  );`).
 */
export function longFunctions(text: string, max: number): string[] {
  const lines = text.split("\n");
  const found: string[] = [];
  lines.forEach((line, i) => {
    const m = line.match(
      /^(\s*)(?:export )?(?:(?:async )?function\*? (\w+)|const (\w+) = (?:async )?\()/,
    );
    if (!m) return;
    let end = lines.length - 1;
    for (let j = i + 1; j < lines.length; j++) {
      const l = lines[j];
      if (l.trim() === "" || l.length - l.trimStart().length > m[1].length) continue;
      if (/^[})]/.test(l.trimStart()) && !/^\).*\{$/.test(l.trimStart())) end = j;
      else if (/^\)/.test(l.trimStart())) continue;
      else end = j - 1;
      break;
    }
    while (end > i && lines[end].trim() === "") end--;
    if (end - i + 1 > max) found.push(`${m[2] ?? m[3]} (${end - i + 1} lines)`);
  });
  return found;
}

Deno.test("production code is split: no file over 500 lines, no function over 150", async () => {
  const files = ["app.ts", "app_types.ts", "demo.ts", "main.ts"];
  for (
    const dir of [
      "lib/",
      "routes/",
      "islands/",
      "components/",
      "client/",
      "scripts/",
      "bench/",
      "sim/",
    ]
  ) files.push(...await sources(dir));
  const found: string[] = [];
  for (const file of files) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const lines = text.split("\n").length;
    if (lines > 500) found.push(`${file}: ${lines} lines`);
    for (const f of longFunctions(text, 150)) found.push(`${file}: ${f}`);
  }
  assertEquals(found, []);
});

Deno.test("the function length check finds a long closure", () => {
  const body = Array.from({ length: 3 }, (_, i) => `    const x${i} = ${i};`).join("\n");
  const text = `export function outer() {\n  function inner() {\n${body}\n  }\n}\n`;
  assertEquals(longFunctions(text, 4), ["outer (7 lines)", "inner (5 lines)"]);
  assertEquals(longFunctions(text, 7), []);
});

Deno.test("the function length check ends an arrow where its statement ends", () => {
  const body = Array.from({ length: 3 }, (_, i) => `    x${i},`).join("\n");
  const text = [
    "const short = (name: string) => `bmc/${name}`;",
    "",
    "const wrapped = (fallback: string) =>",
    "  z.preprocess(",
    body,
    "  );",
    "",
    "export function long(",
    "  a: string,",
    "): string {",
    body,
    "  return a;",
    "}",
    "",
  ].join("\n");
  assertEquals(longFunctions(text, 1), ["wrapped (6 lines)", "long (8 lines)"]);
  assertEquals(longFunctions(text, 8), []);
});

Deno.test("the layer check catches an import upwards, a simulator and a cycle", () => {
  const graph = new Map<string, string[]>([
    ["lib/domain/mac.ts", ["lib/state/store.ts"]],
    ["lib/state/store.ts", ["lib/domain/mac.ts", "npm:zod"]],
    ["routes/api.ts", ["lib/integrations/netbox.ts", "sim/faults.ts"]],
    ["lib/integrations/netbox.ts", []],
    ["sim/kea.ts", ["lib/observability/log.ts", "lib/domain/mac.ts"]],
    ["sim/world.ts", ["lib/integrations/netbox.ts", "sim/kea.ts"]],
    ["lib/observability/log.ts", []],
    ["npm:zod", []],
  ]);
  assertEquals(violations(graph), [
    "lib/domain/mac.ts → lib/state/store.ts (domain may import nothing of ours)",
    "routes/api.ts → lib/integrations/netbox.ts (routes may import registration, state, domain, " +
    "observability, app_types, ui)",
    "routes/api.ts → sim/faults.ts (only demo.ts and tests may use the simulators)",
    "sim/kea.ts → lib/observability/log.ts (sim may import domain)",
  ]);
  assertEquals(findCycle(graph), ["lib/domain/mac.ts", "lib/state/store.ts", "lib/domain/mac.ts"]);
});
