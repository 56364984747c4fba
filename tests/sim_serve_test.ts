/** `sim/serve.ts`: the simulated world as its own process, reached over loopback by real clients. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { createKubernetesClient } from "../lib/integrations/kubernetes.ts";
import { createNetboxClient } from "../lib/integrations/netbox.ts";
import { createOpenBaoClient } from "../lib/integrations/openbao.ts";
import { createKeaClient } from "../lib/integrations/kea/api.ts";
import type { ServedWorld } from "../sim/serve.ts";

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text.split("\n")[0];
}

Deno.test("sim/serve.ts serves every simulator on loopback and prints their URLs", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      new URL("../sim/serve.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const urls = JSON.parse(await firstLine(child.stdout)) as ServedWorld;
    for (const url of [urls.netbox, urls.openbao, urls.kubernetes, urls.bmcProxy, ...urls.kea]) {
      assert(/^http:\/\/127\.0\.0\.1:\d+$/.test(url), url);
    }

    const netbox = createNetboxClient({ url: urls.netbox, token: urls.netboxToken });
    assertEquals((await netbox.listSites()).map((s) => s.slug), ["dcoa"]);

    const openbao = createOpenBaoClient({
      url: urls.openbao,
      roleId: urls.openbaoRoleId,
      secretId: urls.openbaoSecretId,
    });
    assertEquals((await openbao.health()).sealed, false);

    const kea = createKeaClient({ mode: "api", servers: urls.kea, port: 0 });
    assertEquals(await kea.subnetFor("10.16.28.40"), 1);
    await kea.close();

    const kubernetes = createKubernetesClient({ server: urls.kubernetes });
    assertEquals((await kubernetes.listBareMetalHosts("metal3")).items, []);
    kubernetes.close();

    // A BMC keeps its own address: the world is its HTTP proxy.
    const client = Deno.createHttpClient({ proxy: { url: urls.bmcProxy } });
    const res = await fetch("http://10.16.28.40/redfish/v1/", { client });
    assertEquals((await res.json()).RedfishVersion, "1.11.0");
    client.close();
  } finally {
    child.kill("SIGTERM");
    await child.stdout.cancel().catch(() => {});
  }
  assertEquals((await child.status).code, 0);
});
