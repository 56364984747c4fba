/**
 * Prints the paths `deno task start` (and `dev`) allow writes to: ./data, plus the Deno KV file
 * that ONBOARDING_KV_PATH names (or its directory, while that does not exist yet, so the server can
 * create it). `:memory:` and KV Connect URLs need nothing more.
 */
const path = Deno.env.get("ONBOARDING_KV_PATH")?.trim() ?? "";
const paths = ["./data"];
if (path && path !== ":memory:" && !path.includes("://")) {
  const dir = path.includes("/") ? path.replace(/\/[^/]*$/, "") || "/" : ".";
  const dirExists = await Deno.stat(dir).then((s) => s.isDirectory, () => false);
  paths.push(dirExists ? path : dir);
}
console.log(paths.join(","));
