/**
 * A real OpenID Provider we did not write: Debian's glewlwyd 2.7 on loopback, with an SQLite
 * database initialised from the SQL the package ships, set up through its admin REST API (OIDC
 * plugin instance with an RS256 key, a confidential client, a user whose groups reach the ID token).
 * Test policy as in kea_harness.ts: a loud SKIP without the package, a failure with CI=true.
 */
import { exportPKCS8, exportSPKI, generateKeyPair } from "jose";
import { freeTcpPort } from "../sim/real_kea.ts";

const BINARY = "/usr/bin/glewlwyd";
const SQLITE = "/usr/bin/sqlite3";
/** Schema and initial data (the `admin` user, password `password`) shipped in the package. */
const SCHEMA = "/usr/share/dbconfig-common/data/glewlwyd/install/sqlite3";
/** The configuration template shipped in the package. */
const TEMPLATE = "/usr/share/glewlwyd/templates/glewlwyd-debian.conf.properties";
const WEBAPP = "/usr/share/glewlwyd/webapp/";
const ADMIN = { username: "admin", password: "password" };
const PLUGIN = "oidc";

/** A user of the provider. */
export interface GlewlwydUser {
  username: string;
  password: string;
  name: string;
  groups: string[];
}

/** A running glewlwyd; `await using` stops it and removes its files. */
export interface Glewlwyd extends AsyncDisposable {
  /** The OIDC issuer (the plugin's URL). */
  issuer: string;
  /** Origin of the provider (its login page lives there). */
  url: string;
  clientId: string;
  clientSecret: string;
  users: GlewlwydUser[];
  /** glewlwyd's log so far, for failure messages. */
  log(): string;
}

/** Names the Debian package to install when a file the glewlwyd tests need is missing, else null. */
export function missingDependency(): string | null {
  for (const path of [BINARY, SCHEMA, TEMPLATE]) {
    try {
      Deno.statSync(path);
    } catch {
      return "glewlwyd";
    }
  }
  try {
    Deno.statSync(SQLITE);
  } catch {
    return "sqlite3";
  }
  return null;
}

/**
 * For tests needing glewlwyd: true when they can run. With CI=true a missing dependency throws
 * (a failure); otherwise a loud SKIP line names the package and the caller returns early.
 */
export function glewlwydAvailable(what: string): boolean {
  const missing = missingDependency();
  if (!missing) return true;
  const msg = `SKIP: ${what} needs glewlwyd 2.7 (apt-get install ${missing})`;
  if (Deno.env.get("CI") === "true") throw new Error(`${msg}: missing dependency with CI=true`);
  console.warn(`\n${"!".repeat(78)}\n${msg}\n${"!".repeat(78)}`);
  return false;
}

/**
 * The package's login web app, served from our directory: Debian's package installs its
 * `config.json` as a directory holding the file, so the app would hang on "Loading...".
 */
async function copyWebapp(target: string): Promise<void> {
  // A copy with the links resolved: glewlwyd serves only regular files.
  const cp = await new Deno.Command("cp", { args: ["-rL", WEBAPP, target] }).output();
  if (!cp.success) throw new Error(`cp ${WEBAPP}: ${new TextDecoder().decode(cp.stderr)}`);
  const config = `${target}/config.json`;
  if ((await Deno.stat(config)).isDirectory) {
    await Deno.rename(config, `${target}/config.json.d`);
    await Deno.copyFile(`${target}/config.json.d/config.json`, config);
  }
}

/** The package's configuration template made local: our port, loopback, a log file, our DB. */
function configFor(template: string, port: number, dir: string): string {
  const set = (text: string, key: string, value: string) => {
    const re = new RegExp(`^#? ?${key}\\s*=.*$`, "m");
    if (!re.test(text)) throw new Error(`glewlwyd template has no ${key}`);
    return text.replace(re, `${key}=${value}`);
  };
  let text = template;
  text = set(text, "port", String(port));
  text = set(text, "bind_address", '"127.0.0.1"');
  text = set(text, "external_url", `"http://127.0.0.1:${port}"`);
  text = set(text, "static_files_path", `"${dir}/webapp/"`);
  text = set(text, "log_mode", '"file"');
  text = set(text, "log_file", `"${dir}/glewlwyd.log"`);
  return text.replace(
    /^@include .*$/m,
    `database = { type = "sqlite3" path = "${dir}/glewlwyd.sqlite3" };`,
  );
}

/** Starts glewlwyd and configures it for one confidential client and the given users. */
export async function startGlewlwyd(options: {
  redirectUris: string[];
  users: GlewlwydUser[];
  clientId?: string;
  clientSecret?: string;
}): Promise<Glewlwyd> {
  const dir = await Deno.makeTempDir({ prefix: "glewlwyd-" });
  const init = await new Deno.Command(SQLITE, {
    args: [`${dir}/glewlwyd.sqlite3`, `.read ${SCHEMA}`],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!init.success) {
    throw new Error(`sqlite3 init failed: ${new TextDecoder().decode(init.stderr)}`);
  }
  await copyWebapp(`${dir}/webapp`);
  const port = freeTcpPort();
  const confPath = `${dir}/glewlwyd.conf`;
  await Deno.writeTextFile(confPath, configFor(await Deno.readTextFile(TEMPLATE), port, dir));
  const child = new Deno.Command(BINARY, {
    args: ["-c", confPath],
    stdout: "null",
    stderr: "null",
  }).spawn();
  const log = () => {
    try {
      return Deno.readTextFileSync(`${dir}/glewlwyd.log`);
    } catch {
      return "";
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const api = `${url}/api`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  };

  try {
    // Admin session: the cookie from the login API, sent back on every admin call.
    let cookie = "";
    for (let i = 0;; i++) {
      const res = await fetch(`${api}/auth/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(ADMIN),
      }).catch(() => null);
      if (res?.ok) {
        cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
        await res.body?.cancel();
        break;
      }
      await res?.body?.cancel();
      if (i > 100) throw new Error("glewlwyd did not answer its login API within 10 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const admin = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${api}${path}`, {
        method,
        headers: { cookie, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`glewlwyd ${method} ${path}: HTTP ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    };

    // The database user backend stores only declared properties: declare "groups" (a list).
    const backend = await admin("GET", "/mod/user/database");
    backend.parameters["data-format"].groups = {
      multiple: true,
      read: true,
      write: true,
      "profile-read": true,
      "profile-write": false,
    };
    await admin("PUT", "/mod/user/database", backend);
    await admin("PUT", "/mod/user/database/reset");

    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    const issuer = `${api}/${PLUGIN}`;
    await admin("POST", "/mod/plugin/", {
      module: "oidc",
      name: PLUGIN,
      display_name: "OpenID Connect",
      enabled: true,
      parameters: {
        iss: issuer,
        "jwt-type": "rsa",
        "jwt-key-size": "256",
        key: await exportPKCS8(privateKey),
        cert: await exportSPKI(publicKey),
        "access-token-duration": 3600,
        "refresh-token-duration": 1209600,
        "code-duration": 600,
        "session-cookie-name": "GLEWLWYD_OIDC_SID",
        "session-cookie-expiration": 2592000,
        "subject-type": "public",
        "auth-type-code-enabled": true,
        "auth-type-token-enabled": false,
        "auth-type-id-token-enabled": false,
        "auth-type-password-enabled": false,
        "auth-type-client-enabled": false,
        "auth-type-refresh-enabled": false,
        "pkce-allowed": true,
        "pkce-method-plain-allowed": false,
        "session-management-allowed": true,
        // The user's "groups" property goes into every ID token as the `groups` claim.
        claims: [{ name: "groups", "user-property": "groups", mandatory: true }],
        "name-claim": "mandatory",
        "email-claim": "no",
      },
    });
    for (const scope of ["profile", "email"]) {
      await admin("POST", "/scope/", {
        name: scope,
        display_name: scope,
        description: `OpenID Connect ${scope} scope`,
        password_required: false,
        scheme: {},
      });
    }
    const clientId = options.clientId ?? "onboarding";
    // A secret with dashes, as real ones have: the Basic header must not over-encode them.
    const clientSecret = options.clientSecret ?? crypto.randomUUID();
    await admin("POST", "/client/", {
      client_id: clientId,
      name: "Onboarding service",
      confidential: true,
      password: clientSecret,
      enabled: true,
      redirect_uri: options.redirectUris,
      authorization_type: ["code"],
      // glewlwyd refuses a confidential client that names no method.
      token_endpoint_auth_method: ["client_secret_basic"],
      scope: [],
    });
    for (const user of options.users) {
      await admin("POST", "/user/", {
        username: user.username,
        name: user.name,
        password: user.password,
        enabled: true,
        scope: ["openid", "profile", "email"],
        groups: user.groups,
      });
    }
    return {
      issuer,
      url,
      clientId,
      clientSecret,
      users: options.users,
      log,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n--- glewlwyd log ---\n${log().slice(-4000)}`);
  }
}
