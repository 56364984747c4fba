/**
 * The island manifest shared by the server (SSR) and the bundler (one bundle per island, whose
 * entry hydrates it).
 * Convention: island `ScanFlow` lives in `islands/scan_flow.tsx` as its default export.
 */
import type { ComponentType } from "preact";

// deno-lint-ignore no-explicit-any
type IslandModule = { default: ComponentType<any> };

/** Island name → its module (the server renders every island; the build bundles each apart). */
export const ISLANDS = {
  ScanFlow: () => import("./scan_flow.tsx"),
  ServerList: () => import("./server_list.tsx"),
  ServerDetail: () => import("./server_detail.tsx"),
  ImportPanel: () => import("./import_panel.tsx"),
  Drift: () => import("./drift.tsx"),
} satisfies Record<string, () => Promise<IslandModule>>;

export type IslandName = keyof typeof ISLANDS;

/** Islands each page renders, so the build can print the JavaScript every page ships. */
export const PAGE_ISLANDS: Record<string, IslandName[]> = {
  "/ (scan)": ["ScanFlow"],
  "/servers": ["ServerList"],
  "/servers/{id}": ["ServerDetail"],
  "/import": ["ImportPanel"],
  "/drift": ["Drift"],
};

/** `ScanFlow` → `scan_flow`: the module (and bundle chunk) base name of an island. */
export function islandFileBase(name: string): string {
  return name.replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
}
