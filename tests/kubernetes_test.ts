/** Kubernetes client against the API-server fake: server-side apply, Status errors, retries,
 * timeouts, the resumable watch, kubeconfig and in-cluster settings, and secret redaction. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  createKubernetesClient,
  type KubernetesClient,
  kubernetesReason,
  kubernetesSettingsFromEnv,
  type WatchEvent,
} from "../lib/integrations/kubernetes.ts";
import {
  bareMetalHost,
  bmcAddress,
  bmcSecret,
  FIELD_MANAGER,
  hostLabels,
  LABEL_SITE,
  MANAGED_SELECTOR,
  statusView,
} from "../lib/domain/metal3.ts";
import { createFakeKubernetes, type FakeKubernetes, statusFault } from "../sim/kubernetes/mod.ts";
import { asFetch, serveFake } from "../sim/faults.ts";
import { IntegrationError } from "../lib/integrations/http.ts";

const NS = "metal3";
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.sa-token-value";
const PASSWORD = "Sup3r-Secret-BMC-pw";
const FAST_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };

function clientFor(fake: FakeKubernetes, extra: Record<string, unknown> = {}): KubernetesClient {
  return createKubernetesClient({
    server: "http://k8s.test",
    token: () => Promise.resolve(TOKEN),
    fetch: asFetch(fake.handler),
    retry: FAST_RETRY,
    ...extra,
  });
}

function host(name: string, bootMac?: string, site = "dcoa") {
  return bareMetalHost({
    name,
    namespace: NS,
    bmcAddress: bmcAddress("ipmi", "10.16.28.31"),
    credentialsName: `${name}-bmc-secret`,
    bootMac,
    labels: hostLabels({ site, rack: "rb06", netboxDeviceId: 17 }),
  });
}

function secret(name: string, password = PASSWORD) {
  return bmcSecret({ name: `${name}-bmc-secret`, namespace: NS, username: "ADMIN", password });
}

async function rejects(fn: () => Promise<unknown>): Promise<IntegrationError> {
  try {
    await fn();
  } catch (e) {
    assert(e instanceof IntegrationError, `expected IntegrationError, got ${e}`);
    return e;
  }
  throw new Error("expected a rejection");
}

/** Raw request to the fake, for behaviour the client never triggers itself. */
async function raw(
  fake: FakeKubernetes,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
) {
  const res = await fake.handler(
    new Request(`http://k8s.test${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  return { status: res.status, body: await res.json() };
}

function assertNoSecrets(e: Error) {
  const text = `${e.message} ${JSON.stringify((e as IntegrationError).body ?? null)}`;
  for (const s of [TOKEN, PASSWORD, btoa(PASSWORD)]) {
    assert(!text.includes(s), `secret leaked into: ${text}`);
  }
}

const BMH_PATH = `/apis/metal3.io/v1alpha1/namespaces/${NS}/baremetalhosts`;
const SECRET_PATH = `/api/v1/namespaces/${NS}/secrets`;

Deno.test("apply() creates objects by server-side apply and is idempotent", async (t) => {
  using fake = createFakeKubernetes({ token: TOKEN });
  const k8s = clientFor(fake);

  await t.step("first apply creates the Secret with base64 data, never stringData", async () => {
    const out = await k8s.apply(secret("dcoa-rb06u31"));
    assertEquals(out.metadata.name, "dcoa-rb06u31-bmc-secret");
    assert(!("stringData" in out));
    assertEquals(out.data, { username: btoa("ADMIN"), password: btoa(PASSWORD) });
    const last = fake.state.requests.at(-1)!;
    assertEquals(last.method, "PATCH");
    assertEquals(last.contentType, "application/apply-patch+yaml");
    // Not forced unless the caller knows the object is ours (issue: never take over others').
    assert(
      last.search.includes(`fieldManager=${FIELD_MANAGER}`) && !last.search.includes("force"),
    );
    await k8s.apply(secret("dcoa-rb06u31"), { force: true });
    assert(fake.state.requests.at(-1)!.search.includes("force=true"));
    const stored = await k8s.getSecret(NS, "dcoa-rb06u31-bmc-secret");
    assertEquals(stored?.type, "Opaque");
    assert(!stored || !("stringData" in stored));
  });

  await t.step("second apply of the same intent changes nothing", async () => {
    const first = await k8s.apply(host("dcoa-rb06u31", "0c:c4:7a:11:22:33"));
    const rv = fake.state.resourceVersion;
    const second = await k8s.apply(host("dcoa-rb06u31", "0c:c4:7a:11:22:33"));
    assertEquals(second.metadata.resourceVersion, first.metadata.resourceVersion);
    assertEquals(fake.state.resourceVersion, rv);
    await k8s.apply(secret("dcoa-rb06u31"));
    assertEquals(fake.state.resourceVersion, rv);
    assertEquals(fake.state.bareMetalHosts(NS).length, 1);
    assertEquals(fake.state.secrets(NS).length, 1);
    const managers = second.metadata.managedFields?.map((m) => [m.manager, m.operation]);
    assertEquals(managers, [[FIELD_MANAGER, "Apply"]]);
  });

  await t.step("a changed intent updates; fields we drop are removed", async () => {
    const withLabel = host("dcoa-rb06u31", "0c:c4:7a:11:22:33");
    const before = await k8s.apply(withLabel);
    const changed = host("dcoa-rb06u31", "0c:c4:7a:11:22:44");
    delete changed.metadata.labels![LABEL_SITE];
    const after = await k8s.apply(changed);
    assert(Number(after.metadata.resourceVersion) > Number(before.metadata.resourceVersion));
    assertEquals(after.spec.bootMACAddress, "0c:c4:7a:11:22:44");
    assert(!(LABEL_SITE in after.metadata.labels!));
    assertEquals(after.metadata.generation, 2);
  });

  await t.step("fields owned by another manager survive our apply", async () => {
    await fake.update("BareMetalHost", NS, "dcoa-rb06u31", (o) => {
      o.metadata.annotations = { "example.com/note": "kept" };
      o.spec.description = "set by someone else";
    }, "kubectl-edit");
    const out = await k8s.apply(host("dcoa-rb06u31", "0c:c4:7a:11:22:44"));
    assertEquals(out.metadata.annotations?.["example.com/note"], "kept");
    assertEquals(out.spec.description, "set by someone else");
  });
});

Deno.test("apply() through a served fake, with the operator simulated", async () => {
  const fake = createFakeKubernetes({ token: TOKEN, provisioning: { stepMs: 10 } });
  await using server = serveFake(fake.handler);
  const k8s = createKubernetesClient({
    server: server.url,
    token: () => Promise.resolve(TOKEN),
    retry: FAST_RETRY,
  });
  try {
    await k8s.apply(secret("h1"));
    await k8s.apply(host("h1", "0c:c4:7a:11:22:33"));
    let bmh = await k8s.getBareMetalHost(NS, "h1");
    for (let i = 0; i < 100 && bmh?.status?.provisioning?.state !== "available"; i++) {
      await new Promise((r) => setTimeout(r, 10));
      bmh = await k8s.getBareMetalHost(NS, "h1");
    }
    assertEquals(bmh?.status?.provisioning?.state, "available");
    assertEquals(bmh?.status?.operationalStatus, "OK");
    assertEquals(bmh?.status?.poweredOn, false);
    // The operator's ownerReference and label on the Secret survive our re-apply.
    const applied = await k8s.apply(secret("h1"));
    assertEquals(applied.metadata.ownerReferences?.[0]?.name, "h1");
    // Deleting the host waits for the operator's finalizer; the Secret is garbage-collected.
    await k8s.deleteBareMetalHost(NS, "h1");
    for (let i = 0; i < 100 && fake.state.bareMetalHost(NS, "h1"); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(await k8s.getBareMetalHost(NS, "h1"), null);
    assertEquals(await k8s.getSecret(NS, "h1-bmc-secret"), null);
    await k8s.deleteSecret(NS, "h1-bmc-secret"); // already gone: not an error
  } finally {
    fake.close();
  }
});

Deno.test("Kubernetes Status errors become IntegrationErrors with reason and message", async (t) => {
  using fake = createFakeKubernetes({ token: TOKEN });
  const k8s = clientFor(fake);

  await t.step(
    "404: get answers null, delete counts as gone, the fake sends a Status",
    async () => {
      assertEquals(await k8s.getBareMetalHost(NS, "nope"), null);
      assertEquals(await k8s.getSecret(NS, "nope"), null);
      await k8s.deleteBareMetalHost(NS, "nope");
      const res = await raw(fake, "GET", `${BMH_PATH}/nope`);
      assertEquals(res.status, 404);
      assertEquals(res.body.kind, "Status");
      assertEquals(res.body.reason, "NotFound");
      assertEquals(res.body.message, 'baremetalhosts.metal3.io "nope" not found');
    },
  );

  await t.step("422 Invalid for a BareMetalHost with a bad bootMACAddress", async () => {
    const e = await rejects(() => k8s.apply(host("bad", "zz:zz")));
    assertEquals(e.status, 422);
    assertEquals(e.integration, "kubernetes");
    assertEquals(kubernetesReason(e), "Invalid");
    assert(
      e.message.startsWith(
        "kubernetes apply BareMetalHost failed: HTTP 422 Invalid: spec.bootMACAddress: Invalid value",
      ),
      e.message,
    );
    assertEquals(fake.state.bareMetalHost(NS, "bad"), null);
  });

  await t.step("422 Invalid for label values and names the API refuses", async () => {
    const h = host("Bad_Name");
    const e = await rejects(() => k8s.apply(h));
    assertEquals(e.status, 422);
    assert(e.message.includes("metadata.name"), e.message);
  });

  await t.step("409 AlreadyExists on POST of an existing name", async () => {
    await k8s.apply(host("h1", "0c:c4:7a:11:22:33"));
    const res = await raw(fake, "POST", BMH_PATH, host("h1", "0c:c4:7a:11:22:33"));
    assertEquals(res.status, 409);
    assertEquals(res.body.reason, "AlreadyExists");
    await k8s.apply(secret("h1"));
    const dup = await raw(fake, "POST", SECRET_PATH, secret("h1"));
    assertEquals(dup.status, 409);
    assertEquals(dup.body.message, 'secrets "h1-bmc-secret" already exists');
    fake.faults.add({
      ...statusFault(409, "AlreadyExists", 'secrets "x" already exists'),
      times: 1,
    });
    const e = await rejects(() => k8s.apply(secret("x")));
    assertEquals(e.status, 409);
    assert(e.message.includes('HTTP 409 AlreadyExists: secrets "x" already exists'), e.message);
  });

  await t.step("409 Conflict: a stale resourceVersion on PUT", async () => {
    const stale = await k8s.getBareMetalHost(NS, "h1");
    await fake.update("BareMetalHost", NS, "h1", (o) => {
      o.spec.description = "changed meanwhile";
    });
    const res = await raw(fake, "PUT", `${BMH_PATH}/h1`, stale);
    assertEquals(res.status, 409);
    assertEquals(res.body.reason, "Conflict");
    const current = await k8s.getBareMetalHost(NS, "h1");
    const noRv = { ...current!, metadata: { ...current!.metadata, resourceVersion: undefined } };
    assertEquals((await raw(fake, "PUT", `${BMH_PATH}/h1`, noRv)).status, 422);
    current!.spec.description = "set by PUT";
    const put = await raw(fake, "PUT", `${BMH_PATH}/h1`, current);
    assertEquals(put.status, 200);
    assert(Number(put.body.metadata.resourceVersion) > Number(current!.metadata.resourceVersion));
  });

  await t.step("409 FieldManagerConflict without force; we force only when asked", async () => {
    const other = host("h1", "0c:c4:7a:99:99:99");
    const res = await raw(
      fake,
      "PATCH",
      `${BMH_PATH}/h1?fieldManager=someone-else`,
      other,
      "application/apply-patch+yaml",
    );
    assertEquals(res.status, 409);
    assertEquals(res.body.reason, "Conflict");
    assertEquals(res.body.details.causes[0].reason, "FieldManagerConflict");
    assertEquals(res.body.details.causes[0].field, ".spec.bootMACAddress");
    const forced = await raw(
      fake,
      "PATCH",
      `${BMH_PATH}/h1?fieldManager=someone-else&force=true`,
      other,
      "application/apply-patch+yaml",
    );
    assertEquals(forced.status, 200);
    // The client never forces by itself: taking fields over is the caller's decision.
    const refused = await rejects(() => k8s.apply(host("h1", "0c:c4:7a:11:22:33")));
    assertEquals(refused.status, 409);
    const ours = await k8s.apply(host("h1", "0c:c4:7a:11:22:33"), { force: true });
    assertEquals(ours.spec.bootMACAddress, "0c:c4:7a:11:22:33");
  });

  await t.step("apply without fieldManager and strategic merge on a CR are refused", async () => {
    const noManager = await raw(
      fake,
      "PATCH",
      `${BMH_PATH}/h1`,
      host("h1"),
      "application/apply-patch+yaml",
    );
    assertEquals(noManager.status, 422);
    assert(noManager.body.message.includes("fieldManager: Required value"));
    const strategic = await raw(
      fake,
      "PATCH",
      `${BMH_PATH}/h1`,
      { spec: { online: true } },
      "application/strategic-merge-patch+json",
    );
    assertEquals(strategic.status, 415);
    assertEquals(strategic.body.reason, "UnsupportedMediaType");
    const merge = await raw(
      fake,
      "PATCH",
      `${BMH_PATH}/h1`,
      { spec: { online: true } },
      "application/merge-patch+json",
    );
    assertEquals(merge.status, 200);
    assertEquals(merge.body.spec.online, true);
  });

  await t.step("401 Unauthorized with a wrong token, which never appears", async () => {
    fake.setToken("another-token-entirely");
    const e = await rejects(() => k8s.getBareMetalHost(NS, "h1"));
    assertEquals(e.status, 401);
    assert(e.message.includes("HTTP 401 Unauthorized"), e.message);
    assertNoSecrets(e);
    const h = await rejects(() => k8s.health());
    assertEquals(h.status, 401);
    fake.setToken(TOKEN);
    await k8s.health();
  });

  await t.step("secret values never appear in an error about a Secret", async () => {
    fake.faults.add({
      match: "/secrets/",
      times: 1,
      status: 422,
      body: {
        kind: "Status",
        reason: "Invalid",
        code: 422,
        message: `Secret "x" is invalid: data[password]: Invalid value: "${PASSWORD}" (${
          btoa(PASSWORD)
        })`,
      },
    });
    const e = await rejects(() => k8s.apply(secret("x")));
    assertEquals(e.status, 422);
    assert(e.message.includes("HTTP 422 Invalid"), e.message);
    assertNoSecrets(e);
  });
});

Deno.test("createKubernetesClient() retries transient failures and times out", async (t) => {
  using fake = createFakeKubernetes({ token: TOKEN });

  await t.step("two 503s, then success", async () => {
    const k8s = clientFor(fake);
    fake.faults.add({ status: 503, times: 2, body: { kind: "Status", code: 503 } });
    const before = fake.state.requests.length;
    const out = await k8s.apply(host("r1", "0c:c4:7a:11:22:33"));
    assertEquals(out.metadata.name, "r1");
    assertEquals(fake.state.requests.length - before, 1); // faults answer before logging
    assertEquals(fake.state.bareMetalHosts(NS).length, 1);
  });

  await t.step("a dropped connection is retried", async () => {
    const k8s = clientFor(fake);
    fake.faults.add({ drop: true, times: 1 });
    assert(await k8s.getBareMetalHost(NS, "r1"));
  });

  await t.step("no answer within the timeout: status 0, no token in the message", async () => {
    const k8s = clientFor(fake, { timeoutMs: 50, retry: { attempts: 1 } });
    fake.faults.add({ delayMs: 300, times: 1 });
    const e = await rejects(() => k8s.getBareMetalHost(NS, "r1"));
    assertEquals(e.status, 0);
    assert(e.message.includes("no answer within 50 ms"), e.message);
    assertNoSecrets(e);
    await new Promise((r) => setTimeout(r, 300)); // let the delayed fake answer finish
  });

  await t.step("a 400 is not retried", async () => {
    const k8s = clientFor(fake);
    fake.faults.add(statusFault(400, "BadRequest", "nope", { times: 1 }));
    const before = fake.state.requests.length;
    const e = await rejects(() => k8s.getBareMetalHost(NS, "r1"));
    assertEquals(e.status, 400);
    assertEquals(fake.state.requests.length, before);
    assert(await k8s.getBareMetalHost(NS, "r1"));
  });
});

/** Collects watch events until `until` holds (or fails after a while). */
function collector() {
  const events: WatchEvent[] = [];
  const errors: unknown[] = [];
  const seen = () => events.map((e) => `${e.type} ${e.object.metadata.name}`);
  async function waitFor(pred: () => boolean, what: string) {
    for (let i = 0; i < 300; i++) {
      if (pred()) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}; saw ${JSON.stringify(seen())}`);
  }
  return { events, errors, seen, waitFor };
}

Deno.test("watchBareMetalHosts() reports changes and re-lists after 410 Gone", async (t) => {
  for (const goneAs of ["event", "http"] as const) {
    await t.step(`410 as ${goneAs === "event" ? "an ERROR event" : "HTTP 410"}`, async () => {
      const fake = createFakeKubernetes({ token: TOKEN, goneAs });
      await using server = serveFake(fake.handler);
      const k8s = createKubernetesClient({
        server: server.url,
        token: () => Promise.resolve(TOKEN),
        retry: FAST_RETRY,
      });
      const c = collector();
      const ac = new AbortController();
      await k8s.apply(host("pre", "0c:c4:7a:11:22:33"));
      await k8s.apply(host("foreign", "0c:c4:7a:11:22:34"));
      await fake.update("BareMetalHost", NS, "foreign", (o) => {
        delete o.metadata.labels["app.kubernetes.io/managed-by"];
      });
      const watching = k8s.watchBareMetalHosts(NS, {
        labelSelector: MANAGED_SELECTOR,
        signal: ac.signal,
        onEvent: (e) => c.events.push(e),
        onError: (e) => c.errors.push(e),
      });
      try {
        await c.waitFor(() => c.seen().includes("ADDED pre"), "initial list");
        assert(!c.seen().some((s) => s.endsWith("foreign")), "label selector ignored");

        await k8s.apply(host("h1", "0c:c4:7a:11:22:33"));
        await c.waitFor(() => c.seen().includes("ADDED h1"), "ADDED");
        fake.setBareMetalHostStatus(NS, "h1", {
          operationalStatus: "OK",
          poweredOn: false,
          provisioning: { state: "registering", ID: "" },
        });
        await c.waitFor(() => c.seen().includes("MODIFIED h1"), "MODIFIED");
        assertEquals(c.events.at(-1)!.object.status?.provisioning?.state, "registering");
        await k8s.deleteBareMetalHost(NS, "h1");
        await c.waitFor(() => c.seen().includes("DELETED h1"), "DELETED");

        // While the watch is away: changes, then the history is compacted.
        fake.faults.add({ match: "watch=1", delayMs: 150, times: 1 });
        fake.endWatches();
        await new Promise((r) => setTimeout(r, 30));
        await k8s.deleteBareMetalHost(NS, "pre");
        await k8s.apply(host("h2", "0c:c4:7a:11:22:35"));
        fake.compact();
        await c.waitFor(
          () => c.seen().includes("DELETED pre") && c.seen().includes("ADDED h2"),
          "re-list after 410",
        );
        const lists = fake.state.requests.filter((r) =>
          r.path === BMH_PATH && !r.search.includes("watch=1")
        );
        assertEquals(lists.length, 2, "one initial list and one re-list");
        assertEquals(c.errors, []);

        // And the resumed watch sees new changes.
        await k8s.apply(host("h3", "0c:c4:7a:11:22:36"));
        await c.waitFor(() => c.seen().includes("ADDED h3"), "ADDED after re-list");
      } finally {
        ac.abort();
        await watching;
        fake.close();
      }
    });
  }

  await t.step("reconnects with backoff after errors and reports them", async () => {
    const fake = createFakeKubernetes({ token: TOKEN, provisioning: { stepMs: 5 } });
    const k8s = clientFor(fake);
    const c = collector();
    const ac = new AbortController();
    fake.faults.add({ match: "watch=1", status: 500, times: 4 });
    const watching = k8s.watchBareMetalHosts(NS, {
      signal: ac.signal,
      onEvent: (e) => c.events.push(e),
      onError: (e) => c.errors.push(e),
    });
    try {
      await k8s.apply(secret("p1"));
      await k8s.apply(host("p1", "0c:c4:7a:11:22:33"));
      await c.waitFor(
        () => c.events.some((e) => e.object.status?.provisioning?.state === "available"),
        "provisioning to reach available",
      );
      assert(c.errors.length >= 1);
      assert(c.errors.every((e) => e instanceof IntegrationError && e.status === 500));
    } finally {
      ac.abort();
      await watching;
      fake.close();
    }
  });
});

Deno.test("watchBareMetalHosts() follows a host through the simulated operator", async () => {
  const fake = createFakeKubernetes({ token: TOKEN, provisioning: { stepMs: 15 } });
  await using server = serveFake(fake.handler);
  const k8s = createKubernetesClient({
    server: server.url,
    token: () => Promise.resolve(TOKEN),
    retry: FAST_RETRY,
  });
  const c = collector();
  const ac = new AbortController();
  const watching = k8s.watchBareMetalHosts(NS, {
    signal: ac.signal,
    onEvent: (e) => c.events.push(e),
  });
  try {
    await c.waitFor(() => fake.state.openWatches === 1, "the watch to open");
    await k8s.apply(secret("p2"));
    await k8s.apply(host("p2", "0c:c4:7a:11:22:33"));
    const states = () => [...new Set(c.events.map((e) => statusView(e.object).state))];
    await c.waitFor(() => states().includes("available"), "available");
    assertEquals(states(), ["", "registering", "inspecting", "available"]);
    const last = statusView(c.events.at(-1)!.object);
    assertEquals(last, {
      state: "available",
      operationalStatus: "OK",
      poweredOn: false,
      errorMessage: "",
    });
  } finally {
    ac.abort();
    await watching;
    fake.close();
  }
});

Deno.test("kubernetesSettingsFromEnv() reads kubeconfig and the in-cluster service account", async (t) => {
  const files = new Map<string, string>();
  const readFile = (p: string) => {
    const v = files.get(p);
    return v === undefined ? Promise.reject(new Deno.errors.NotFound(p)) : Promise.resolve(v);
  };
  const kubeconfig = (user: Record<string, unknown>, server = "https://10.0.0.1:6443") => `
apiVersion: v1
kind: Config
current-context: ops
contexts:
  - name: other
    context: {cluster: wrong, user: wrong}
  - name: ops
    context: {cluster: prod, user: admin, namespace: metal3}
clusters:
  - name: prod
    cluster:
      server: ${server}
      certificate-authority-data: ${btoa("CA PEM")}
users:
  - name: admin
    user: ${JSON.stringify(user)}
`;

  await t.step("nothing configured: null", async () => {
    assertEquals(await kubernetesSettingsFromEnv({}, readFile), null);
  });

  await t.step("token user", async () => {
    files.set("/cfg/kubeconfig", kubeconfig({ token: "kubeconfig-token" }));
    const s = await kubernetesSettingsFromEnv({ KUBECONFIG: "/cfg/kubeconfig" }, readFile);
    assertEquals(s?.server, "https://10.0.0.1:6443");
    assertEquals(s?.caCert, "CA PEM");
    assertEquals(await s?.token?.(), "kubeconfig-token");
    assertEquals(s?.clientCert, undefined);
  });

  await t.step("client-certificate user, data and relative file paths", async () => {
    files.set(
      "/cfg/kubeconfig",
      kubeconfig({ "client-certificate-data": btoa("CERT PEM"), "client-key": "keys/admin.key" }),
    );
    files.set("/cfg/keys/admin.key", "KEY PEM");
    const s = await kubernetesSettingsFromEnv({ KUBECONFIG: "/cfg/kubeconfig" }, readFile);
    assertEquals(s?.clientCert, "CERT PEM");
    assertEquals(s?.clientKey, "KEY PEM");
    assertEquals(s?.token, undefined);
  });

  await t.step("http server with a tokenFile, used against the fake", async () => {
    using fake = createFakeKubernetes({ token: "file-token" });
    await using server = serveFake(fake.handler);
    files.set("/cfg/kubeconfig", kubeconfig({ tokenFile: "token" }, server.url));
    files.set("/cfg/token", "file-token\n");
    const s = await kubernetesSettingsFromEnv({ KUBECONFIG: "/cfg/kubeconfig" }, readFile);
    assertEquals(s?.server, server.url);
    // The CA is irrelevant over http; the client must not build a TLS client for it.
    const k8s = createKubernetesClient({ ...s!, caCert: undefined });
    await k8s.health();
    assertEquals(await k8s.getBareMetalHost(NS, "none"), null);
  });

  await t.step("unsupported credentials are refused with a clear message", async () => {
    files.set("/cfg/kubeconfig", kubeconfig({ exec: { command: "aws" } }));
    try {
      await kubernetesSettingsFromEnv({ KUBECONFIG: "/cfg/kubeconfig" }, readFile);
      throw new Error("expected a rejection");
    } catch (e) {
      assert((e as Error).message.includes("exec"), String(e));
    }
  });

  await t.step("in-cluster: the token file is re-read after rotation", async () => {
    const dir = "/var/run/secrets/kubernetes.io/serviceaccount";
    files.set(`${dir}/token`, "token-one");
    files.set(`${dir}/ca.crt`, "CLUSTER CA");
    const s = await kubernetesSettingsFromEnv({
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      KUBERNETES_SERVICE_PORT: "443",
      KUBECONFIG: "/cfg/kubeconfig",
    }, readFile);
    assertEquals(s?.server, "https://10.96.0.1:443");
    assertEquals(s?.caCert, "CLUSTER CA");

    using fake = createFakeKubernetes({ token: "token-one" });
    const k8s = createKubernetesClient({ ...s!, fetch: asFetch(fake.handler), retry: FAST_RETRY });
    await k8s.health();
    files.set(`${dir}/token`, "token-two");
    fake.setToken("token-two");
    await k8s.health();
    const e = await rejects(async () => {
      fake.setToken("token-three");
      await k8s.health();
    });
    assertEquals(e.status, 401);
    assert(!e.message.includes("token-two"));
  });
});

Deno.test("the simulated operator keeps its finalizer on a deleted host for a while, as a real one deprovisioning does", async () => {
  using fake = createFakeKubernetes({ token: TOKEN, provisioning: { stepMs: 10, deleteMs: 300 } });
  const k8s = clientFor(fake);
  await k8s.apply(secret("h1"));
  await k8s.apply(host("h1", "0c:c4:7a:11:22:33"));
  const started = Date.now();
  while (!fake.state.bareMetalHost(NS, "h1")?.metadata.finalizers?.length) {
    assert(Date.now() - started < 2000, "the operator adds its finalizer");
    await new Promise((r) => setTimeout(r, 5));
  }
  await k8s.deleteBareMetalHost(NS, "h1");
  const deleting = await k8s.getBareMetalHost(NS, "h1");
  assert(deleting?.metadata.deletionTimestamp, "still there, being deleted");
  // The API server refuses a new finalizer on an object being deleted.
  const refused = await Promise.resolve(
    fake.update("BareMetalHost", NS, "h1", (o) => {
      o.metadata.finalizers = [...o.metadata.finalizers, "example.com/keep"];
    }),
  ).then(() => null, (e: Error) => e.message);
  assert(/no new finalizers can be added/.test(refused ?? ""), `refused: ${refused}`);
  // Provisioning ticks meanwhile do not cut the deprovisioning short.
  await new Promise((r) => setTimeout(r, 150));
  assert(await k8s.getBareMetalHost(NS, "h1"), "kept while deprovisioning");
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(await k8s.getBareMetalHost(NS, "h1"), null);
});
