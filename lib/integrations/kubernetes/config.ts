/** Where the client finds its cluster: in-cluster service account, or a kubeconfig file. */
import { parse as parseYaml } from "yaml";
import { type RetryPolicy } from "../http.ts";
import type { Metrics } from "../../observability/metrics.ts";

export interface KubernetesSettings {
  /** API server base URL, e.g. `https://10.96.0.1:443`. */
  server: string;
  /** Bearer token source; called for every request so rotated projected tokens are picked up. */
  token?: () => Promise<string>;
  /** PEM client certificate and key (client-certificate users). */
  clientCert?: string;
  clientKey?: string;
  /** PEM CA bundle for the API server's certificate. */
  caCert?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: Metrics;
}

export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Settings from the environment: the in-cluster service account (KUBERNETES_SERVICE_HOST; token
 * file re-read on every call), else the KUBECONFIG file's current context (token, tokenFile or
 * client-certificate users; http or https). Null when neither is present.
 */
export async function kubernetesSettingsFromEnv(
  env: Record<string, string | undefined>,
  readFile: (path: string) => Promise<string> = (p) => Deno.readTextFile(p),
): Promise<KubernetesSettings | null> {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (host) {
    const port = env.KUBERNETES_SERVICE_PORT || "443";
    const hostPart = host.includes(":") ? `[${host}]` : host;
    let caCert: string | undefined;
    try {
      caCert = await readFile(`${SA_DIR}/ca.crt`);
    } catch {
      caCert = undefined; // a publicly trusted API server certificate needs no CA file
    }
    const tokenPath = `${SA_DIR}/token`;
    // Fail at start-up, not on the first call, when the token is not mounted.
    await readFile(tokenPath);
    return {
      server: `https://${hostPart}:${port}`,
      token: async () => (await readFile(tokenPath)).trim(),
      caCert,
    };
  }
  const kubeconfig = env.KUBECONFIG;
  if (!kubeconfig) return null;
  return await settingsFromKubeconfig(kubeconfig.split(":").filter(Boolean), readFile);
}

export interface KubeconfigFile {
  dir: string;
  // deno-lint-ignore no-explicit-any -- kubeconfig documents are free-form YAML
  doc: any;
}

/** Reads the current context of the (merged) kubeconfig files; the first file to set a name wins. */
export async function settingsFromKubeconfig(
  paths: string[],
  readFile: (path: string) => Promise<string>,
): Promise<KubernetesSettings> {
  const files: KubeconfigFile[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = await readFile(path);
    } catch (e) {
      if (paths.length > 1) continue; // kubectl skips missing files in a list
      throw new Error(`Cannot read KUBECONFIG ${path}: ${(e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new Error(`KUBECONFIG ${path} is not valid YAML: ${(e as Error).message}`);
    }
    files.push({ dir: path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : ".", doc });
  }
  const find = (list: "clusters" | "users" | "contexts", name: string) => {
    for (const f of files) {
      const hit = (f.doc?.[list] ?? []).find((e: { name?: string }) => e?.name === name);
      if (hit) return { entry: hit, dir: f.dir };
    }
    return null;
  };
  const current = files.map((f) => f.doc?.["current-context"]).find(Boolean);
  if (!current) throw new Error("KUBECONFIG has no current-context");
  const context = find("contexts", current)?.entry?.context;
  if (!context) throw new Error(`KUBECONFIG context "${current}" not found`);
  const clusterHit = find("clusters", context.cluster);
  const cluster = clusterHit?.entry?.cluster;
  if (!cluster?.server) throw new Error(`KUBECONFIG cluster "${context.cluster}" has no server`);
  const userHit = context.user ? find("users", context.user) : null;
  const user = userHit?.entry?.user ?? {};

  const resolve = (dir: string, p: string) => (p.startsWith("/") ? p : `${dir}/${p}`);
  const fileOrData = async (
    dir: string,
    obj: Record<string, string>,
    field: string,
  ): Promise<string | undefined> => {
    if (obj[`${field}-data`]) return decodeBase64(obj[`${field}-data`]);
    if (obj[field]) return await readFile(resolve(dir, obj[field]));
    return undefined;
  };

  if (
    cluster["insecure-skip-tls-verify"] && !cluster["certificate-authority-data"] &&
    !cluster["certificate-authority"]
  ) {
    throw new Error(
      `KUBECONFIG cluster "${context.cluster}" skips TLS verification, which is not supported: ` +
        "set certificate-authority or certificate-authority-data",
    );
  }
  if (user.exec || user["auth-provider"]) {
    throw new Error(
      `KUBECONFIG user "${context.user}" uses exec or auth-provider credentials, which are not ` +
        "supported: use a token, tokenFile or client certificate",
    );
  }
  const settings: KubernetesSettings = {
    server: String(cluster.server).replace(/\/+$/, ""),
    caCert: await fileOrData(clusterHit!.dir, cluster, "certificate-authority"),
    clientCert: await fileOrData(userHit?.dir ?? ".", user, "client-certificate"),
    clientKey: await fileOrData(userHit?.dir ?? ".", user, "client-key"),
  };
  if (user.token) {
    const token = String(user.token);
    settings.token = () => Promise.resolve(token);
  } else if (user.tokenFile) {
    const path = resolve(userHit!.dir, String(user.tokenFile));
    settings.token = async () => (await readFile(path)).trim();
  }
  if (Boolean(settings.clientCert) !== Boolean(settings.clientKey)) {
    throw new Error(`KUBECONFIG user "${context.user}" needs both a client certificate and a key`);
  }
  return settings;
}

export function encodeBase64(text: string): string {
  return btoa(Array.from(new TextEncoder().encode(text), (b) => String.fromCharCode(b)).join(""));
}

export function decodeBase64(b64: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(b64.trim()), (c) => c.charCodeAt(0)));
}
