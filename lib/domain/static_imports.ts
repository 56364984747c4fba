/** Relative static imports of a minified ES module (`import … from"./x.js"`, `import"./x.js"`):
 * what a browser fetches before running it. Used by the build's precache list and the bench. */
export function staticImports(code: string): string[] {
  const found = new Set<string>();
  const re = /(?:import|export)(?:\s*\{[^}]*\}\s*from|[^"'();]*?from)?\s*["']\.\/([^"']+)["']/g;
  for (const m of code.matchAll(re)) found.add(m[1]);
  return [...found];
}
