/** The simulators keep bounded request logs, so a long-running demo does not grow without end. */
import { ok as assert } from "node:assert/strict";
import { REQUEST_LOG_LIMIT } from "../sim/faults.ts";
import { createFakeKubernetes } from "../sim/kubernetes/mod.ts";
import { createFakeNetbox } from "../sim/netbox/mod.ts";
import { createFakeOidc } from "../sim/oidc.ts";
import { createFakeOpenBao } from "../sim/openbao/mod.ts";
import { createFakeRedfish } from "../sim/redfish/mod.ts";

const N = REQUEST_LOG_LIMIT + 500;

async function hammer(handler: (r: Request) => Promise<Response> | Response, url: string) {
  for (let i = 0; i < N; i++) await (await handler(new Request(`${url}?i=${i}`))).body?.cancel();
}

Deno.test("every simulator's request log keeps only the most recent requests", async (t) => {
  await t.step("Kubernetes", async () => {
    using k8s = createFakeKubernetes();
    await hammer(k8s.handler, "http://k8s.sim/readyz");
    assert(k8s.state.requests.length <= REQUEST_LOG_LIMIT, `${k8s.state.requests.length}`);
    assert(k8s.state.requests.at(-1)!.search === `?i=${N - 1}`, "the newest is kept");
  });
  await t.step("OpenBao", async () => {
    const bao = createFakeOpenBao();
    await hammer(bao.handler, "http://bao.sim/v1/sys/health");
    assert(bao.state.requests.length <= REQUEST_LOG_LIMIT, `${bao.state.requests.length}`);
  });
  await t.step("Redfish", async () => {
    const bmc = createFakeRedfish({ username: "ADMIN", password: "pw" });
    await hammer(bmc.handler, "http://bmc.sim/redfish/v1/");
    assert(bmc.state.requests.length <= REQUEST_LOG_LIMIT, `${bmc.state.requests.length}`);
  });
  await t.step("OIDC", async () => {
    const oidc = await createFakeOidc();
    await hammer(oidc.handler, "http://oidc.sim/.well-known/openid-configuration");
    assert(oidc.state.requests.length <= REQUEST_LOG_LIMIT, `${oidc.state.requests.length}`);
  });
  await t.step("Netbox", async () => {
    const nb = createFakeNetbox();
    await hammer(nb.handler, "http://netbox.sim/api/status/");
    assert(nb.requestLog.length <= REQUEST_LOG_LIMIT, `${nb.requestLog.length}`);
  });
});
