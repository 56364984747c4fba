/**
 * The service as a real process (`main.ts`) against a simulated world served from the caller's own
 * process on loopback ports: for the tests that kill, stop or restart the process, and the bench's
 * replicas section.
 */
import { serveFake } from "../sim/faults.ts";
import type { createSimulatedWorld } from "../sim/world.ts";

type World = ReturnType<typeof createSimulatedWorld>;
type Handler = (r: Request) => Promise<Response> | Response;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The world's APIs on loopback, and the environment that points the service at them. */
export interface ServedWorld extends AsyncDisposable {
  /** Netbox, OpenBao, both Kea servers (api mode) and Kubernetes (a kubeconfig); no BMC check. */
  env: Record<string, string>;
  /** A temporary folder for the kubeconfig and the test's own files; removed on dispose. */
  dir: string;
}

/** Serves `world` (every answer after `delayMs`, so a kill lands mid-run) for service processes. */
export async function serveWorld(
  world: World,
  options: { delayMs?: number; prefix: string },
): Promise<ServedWorld> {
  const delayMs = options.delayMs ?? 0;
  const slow = (h: Handler): Handler =>
    delayMs
      ? async (r) => {
        await sleep(delayMs);
        return await h(r);
      }
      : h;
  const [netbox, openbao, kea1, kea2, kube] = [
    world.netbox.handler,
    world.openbao.handler,
    world.kea[0].handler,
    world.kea[1].handler,
    world.kubernetes.handler,
  ].map((h) => serveFake(slow(h)));
  const dir = await Deno.makeTempDir({ prefix: options.prefix });
  await Deno.writeTextFile(
    `${dir}/kubeconfig`,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "test",
      clusters: [{ name: "test", cluster: { server: kube.url } }],
      users: [{ name: "test", user: { token: "test-token" } }],
      contexts: [{ name: "test", context: { cluster: "test", user: "test" } }],
    }),
  );
  return {
    dir,
    env: {
      ONBOARDING_HOSTNAME: "127.0.0.1",
      ONBOARDING_NETBOX_URL: netbox.url,
      ONBOARDING_NETBOX_TOKEN: world.netbox.token,
      ONBOARDING_OPENBAO_URL: openbao.url,
      ONBOARDING_OPENBAO_ROLE_ID: world.openbao.roleId,
      ONBOARDING_OPENBAO_SECRET_ID: world.openbao.secretId,
      ONBOARDING_KEA_SERVERS: JSON.stringify([kea1.url, kea2.url]),
      ONBOARDING_KEA_MODE: "api",
      ONBOARDING_BMC_CHECK: "false",
      KUBECONFIG: `${dir}/kubeconfig`,
    },
    async [Symbol.asyncDispose]() {
      world.close();
      await Promise.all([netbox, openbao, kea1, kea2, kube].map((s) => s.close()));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Starts `main.ts` with `env`; its output piped unless said otherwise. */
export function spawnService(
  env: Record<string, string>,
  output: { stdout?: "piped" | "null" | "inherit"; stderr?: "piped" | "null" | "inherit" } = {},
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("../main.ts", import.meta.url).pathname],
    env,
    stdout: output.stdout ?? "piped",
    stderr: output.stderr ?? "piped",
  }).spawn();
}

/** Waits until `url` (e.g. a replica's /readyz) answers 2xx; `why` is added to the failure. */
export async function waitUntilUp(url: string, why: () => Promise<string> | string = () => "") {
  for (let i = 0; i < 300; i++) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`${url} did not answer: ${await why()}`);
}

/** Waits for `child` to exit after a signal; a process still there after `ms` fails the test. */
export async function exited(child: Deno.ChildProcess, what: string, ms = 60_000) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((r) => timer = setTimeout(() => r("late"), ms));
  const status = await Promise.race([child.status, late]);
  clearTimeout(timer);
  if (status !== "late") return status;
  child.kill("SIGKILL");
  await child.status;
  throw new Error(`${what} did not exit within ${ms / 1000} s`);
}
