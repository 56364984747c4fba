/** Login policy shared by the OIDC client and the login routes: lifetimes and the return path. */

/** How long a browser session lasts after login. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
/** How long a started login (state, nonce, PKCE verifier) may wait for the callback. */
export const LOGIN_TTL_MS = 10 * 60 * 1000;

/** A local path to go back to after login; anything else (other hosts, `//x`, `/\x`) is `/`. */
export function safeReturnTo(value: string | undefined | null): string {
  if (!value || !value.startsWith("/") || value.startsWith("//") || value.startsWith("/\\")) {
    return "/";
  }
  // deno-lint-ignore no-control-regex -- control characters are exactly what we refuse.
  if (/[\u0000-\u001f\\]/.test(value)) return "/";
  const base = "http://local.invalid";
  try {
    const url = new URL(value, base);
    // Checked on the parsed path too: dot segments can collapse `/.//x` into `//x` (another host).
    if (url.origin !== base || /^\/(\/|auth\/)/.test(url.pathname)) return "/";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/";
  }
}
