/** Secret redaction for logs, errors and stored bodies: pure string and JSON functions. */

const SECRET_QUERY = /([?&](?:token|secret|secret_id|password|access_token|sig)=)[^&]*/gi;

/** Removes userinfo and secret query values from a URL for logs and errors. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(SECRET_QUERY, "$1***");
  } catch {
    return url.replace(SECRET_QUERY, "$1***");
  }
}

/** Secrets this short are redacted only as whole tokens: anywhere would wreck every message. */
const SHORT_SECRET = 4;

/** UTF-8 base64 of `text`. */
function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/**
 * The encodings a secret may take in an upstream's answer or our own output: raw, JSON-escaped
 * (once and twice: a JSON message inside a JSON body), URL- and form-encoded, and base64 at each
 * of the three byte alignments (the characters that do not depend on neighbouring bytes).
 */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([secret]);
  const json = JSON.stringify(secret).slice(1, -1);
  forms.add(json);
  forms.add(JSON.stringify(json).slice(1, -1));
  forms.add(encodeURIComponent(secret));
  forms.add(encodeURIComponent(secret).replace(/%20/g, "+"));
  const bytes = new TextEncoder().encode(secret);
  for (let shift = 0; shift < 3; shift++) {
    const padded = new Uint8Array(shift + bytes.length);
    padded.set(bytes, shift);
    const full = base64(padded).replace(/=+$/, "");
    const start = Math.ceil((shift * 4) / 3);
    const end = Math.floor((padded.length * 4) / 3);
    const core = full.slice(start, end);
    if (core.length >= SHORT_SECRET) {
      forms.add(core);
      forms.add(core.replace(/\+/g, "-").replace(/\//g, "_"));
    }
  }
  return [...forms].filter(Boolean);
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Replaces every encoding of each secret with `***`, longest first. A secret shorter than 4
 * characters is replaced only where it stands alone (between characters that are not letters or
 * digits), unless `short` is false (for JSON text, where `"ms":7` must stay valid).
 */
export function redactText(
  text: string,
  secrets: readonly string[],
  options: { short?: boolean } = {},
): string {
  const forms = [...new Set(secrets.filter(Boolean).flatMap(secretForms))]
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const f of forms) {
    if (f.length >= SHORT_SECRET) out = out.split(f).join("***");
    else if (options.short !== false) {
      out = out.replace(
        // Standing alone: no letter or digit around it, except after a %XX escape.
        new RegExp(
          `(?:(?<=%[0-9A-Fa-f]{2})|(?<![\\p{L}\\p{N}]))${escapeRegExp(f)}(?![\\p{L}\\p{N}])`,
          "gu",
        ),
        "***",
      );
    }
  }
  return out;
}

/**
 * Cuts `text` to `max` characters, then drops a tail that could be the start (4+ characters) of
 * any encoding of a secret, so a cut never leaves a recognisable prefix behind.
 */
export function truncateSafely(text: string, max: number, secrets: readonly string[]): string {
  if (text.length <= max) return text;
  let out = text.slice(0, max);
  for (const f of secrets.filter(Boolean).flatMap(secretForms)) {
    for (let k = Math.min(f.length - 1, out.length); k >= SHORT_SECRET; k--) {
      if (out.endsWith(f.slice(0, k))) {
        out = out.slice(0, -k);
        break;
      }
    }
  }
  return `${out}…`;
}

/** Deep-copies a JSON value replacing secret values and values of secret-looking keys. */
export function redactValue(value: unknown, secrets: readonly string[] = []): unknown {
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, secrets));
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v != null && v !== "" ? "***" : redactValue(v, secrets);
    }
    return out;
  }
  return value;
}

export const SECRET_KEY =
  /^(password|bmc_password|secret|secret_id|client_secret|token|client_token|access_token|id_token|refresh_token|authorization|x-vault-token|x-auth-token)$/i;
