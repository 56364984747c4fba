/**
 * Server side of the islands mechanism: the marker an island renders into, its escaped props,
 * the page-level collector of used islands and the asset manifest written by `deno task build`.
 */
import type { ComponentChildren, ComponentType, VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import { type IslandName, ISLANDS } from "../islands/manifest.ts";

/** What `scripts/build.ts` writes to `static/build/manifest.json`. */
export interface AssetManifest {
  /** Content hash of all assets together: the service worker's cache version. */
  version: string;
  /** URL of the stylesheet. */
  css: string;
  /** URL of the self-hosted ZXing reader WebAssembly. */
  wasm: string;
  /** Per island: its bundle's entry (which hydrates it), then every chunk the entry statically
   * imports (for modulepreload). */
  islands: Record<string, string[]>;
  /** Every built file's URL (precached by the service worker). */
  files: string[];
}

/** Reads the asset manifest, or null when the build has not run. */
export function readAssetManifest(path = "static/build/manifest.json"): AssetManifest | null {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as AssetManifest;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/**
 * Island props as JSON safe to embed in HTML: `<`, `>`, `&` and the JS line separators are
 * escaped so a value such as `</script>` cannot end the element.
 */
export function serializeProps(props: unknown): string {
  return JSON.stringify(props ?? {})
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

// deno-lint-ignore no-explicit-any
type AnyComponent = ComponentType<any>;

const components = new Map<string, AnyComponent>();

/** Imports every island module once so the server can render them; call before rendering. */
export async function loadIslands(): Promise<void> {
  for (const [name, load] of Object.entries(ISLANDS)) {
    if (!components.has(name)) components.set(name, (await load()).default);
  }
}

/** Islands used by the page being rendered (rendering is synchronous, so one slot suffices). */
let collecting: Set<string> | null = null;

/** Renders `tree` to HTML and reports which islands it contains. */
export function renderWithIslands(tree: VNode): { html: string; islands: string[] } {
  const used = new Set<string>();
  const previous = collecting;
  collecting = used;
  try {
    return { html: renderToString(tree), islands: [...used] };
  } finally {
    collecting = previous;
  }
}

/** Props of `<Island>`: the island's name and its JSON-serialisable props. */
export interface IslandProps<P> {
  name: IslandName;
  props?: P;
}

/**
 * Server-rendered island: `<div data-island=NAME>` holding the props as
 * `<script type="application/json">` and the SSR output in `<div data-island-root>`.
 */
export function Island<P extends Record<string, unknown>>(
  { name, props }: IslandProps<P>,
): VNode {
  const Component = components.get(name);
  if (!Component) throw new Error(`Island ${name} is not loaded: call loadIslands() first`);
  collecting?.add(name);
  const json = serializeProps(props ?? {});
  return (
    <div data-island={name} class="island">
      <script
        type="application/json"
        data-island-props
        // deno-lint-ignore react-no-danger -- serializeProps() escaped it; a text child would be HTML-escaped and break JSON.
        dangerouslySetInnerHTML={{ __html: json }}
      />
      <div data-island-root class="island-root">
        <Component {...(props ?? {})} />
      </div>
    </div>
  );
}

export type { ComponentChildren };
