/** Invariants of the Kubernetes manifests in k8s/: least-privilege RBAC, hardened pods, probes,
 * the app's whole configuration wired from ConfigMap and Secret, exposure and policies. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { parse, parseAllDocuments } from "yaml";
import { bmcNetworks, configSchema, loadConfig } from "../lib/domain/config.ts";

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

const K8S_DIR = new URL("../k8s/", import.meta.url);
const DEPLOY_DOC = new URL("../docs/deploy.md", import.meta.url);

/** Every document of every k8s/*.yaml, tagged with its file. */
async function loadManifests(): Promise<(Obj & { file: string })[]> {
  const out: (Obj & { file: string })[] = [];
  const files = [...Deno.readDirSync(K8S_DIR)].map((e) => e.name).filter((n) => /\.ya?ml$/.test(n))
    .sort();
  for (const file of files) {
    const docs = parseAllDocuments(await Deno.readTextFile(new URL(file, K8S_DIR)));
    for (const doc of docs) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const js = doc.toJS() as Obj | null;
      if (js) out.push({ ...js, file });
    }
  }
  return out;
}

const manifests = await loadManifests();
const find = (kind: string, name: string, namespace?: string) => {
  const found = manifests.find((m) =>
    m.kind === kind && m.metadata?.name === name &&
    (namespace === undefined || m.metadata?.namespace === namespace)
  );
  if (!found) throw new Error(`No ${kind} ${namespace ?? "*"}/${name} in k8s/`);
  return found;
};
const workloads = manifests.filter((m) =>
  ["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"].includes(m.kind)
);
const podSpec = (w: Obj): Obj =>
  w.kind === "CronJob" ? w.spec.jobTemplate.spec.template.spec : w.spec.template.spec;
const containersOf = (w: Obj): Obj[] => [
  ...(podSpec(w).initContainers ?? []),
  ...podSpec(w).containers,
];
const matches = (selector: Obj, labels: Obj) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const app = find("Deployment", "onboarding", "onboarding");
const appConfig = find("ConfigMap", "onboarding", "onboarding");
const appContainer = podSpec(app).containers[0];
/** Variables that must come from a Secret, never a ConfigMap. */
const SECRET_VARS = [
  "NETBOX_TOKEN",
  "OPENBAO_ROLE_ID",
  "OPENBAO_SECRET_ID",
  "OIDC_CLIENT_SECRET",
  "KEA_DB_URL",
  "METRICS_TOKEN",
  "DATABASE_URL",
];

Deno.test("k8s manifests parse and every object has a kind, name and namespace", () => {
  assert(manifests.length > 10, "expected the manifests of namespace, onboarding, kv and kea");
  for (const m of manifests) {
    assert(m.apiVersion && m.kind && m.metadata?.name, `${m.file}: incomplete object`);
    if (m.kind !== "Namespace") {
      assert(m.metadata.namespace, `${m.file}: ${m.kind} has no namespace`);
    }
  }
  for (const ns of new Set(manifests.map((m) => m.metadata.namespace).filter(Boolean))) {
    // The Metal3 namespace is Metal3's own; every other one is created here.
    if (ns !== "metal3") find("Namespace", ns);
  }
});

Deno.test("k8s RBAC is a namespaced Role limited to secrets and baremetalhosts", async (t) => {
  await t.step("no cluster-scoped RBAC anywhere", () => {
    const cluster = manifests.filter((m) => /^Cluster(Role|RoleBinding)$/.test(m.kind));
    assertEquals(cluster.map((m) => `${m.file}: ${m.kind}`), []);
  });

  await t.step("no wildcard verbs, resources or API groups", () => {
    for (const role of manifests.filter((m) => m.kind === "Role")) {
      for (const rule of role.rules) {
        for (const field of ["verbs", "resources", "apiGroups", "resourceNames"]) {
          assert(!(rule[field] ?? []).includes("*"), `${role.metadata.name}: * in ${field}`);
        }
      }
    }
  });

  await t.step("the Role sits in the Metal3 namespace the app is configured with", () => {
    const role = find("Role", "onboarding");
    assertEquals(role.metadata.namespace, appConfig.data.ONBOARDING_METAL3_NAMESPACE);
    const rules = Object.fromEntries(
      role.rules.flatMap((r: Obj) =>
        r.resources.map((res: string) => [`${r.apiGroups.join(",")}/${res}`, [...r.verbs].sort()])
      ),
    );
    assertEquals(rules, {
      "metal3.io/baremetalhosts": ["create", "delete", "get", "list", "patch", "watch"],
      // Server-side apply is a PATCH (plus create when it creates); BMC Secrets are never listed.
      "/secrets": ["create", "delete", "get", "patch"],
    });
  });

  await t.step("the RoleBinding gives that Role to the app's ServiceAccount", () => {
    const binding = find("RoleBinding", "onboarding", "metal3");
    assertEquals(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "onboarding",
    });
    const sa = find("ServiceAccount", podSpec(app).serviceAccountName, "onboarding");
    assertEquals(binding.subjects, [{
      kind: "ServiceAccount",
      name: sa.metadata.name,
      namespace: sa.metadata.namespace,
    }]);
  });
});

Deno.test("k8s onboarding Deployment probes /healthz and /readyz on the app's port", () => {
  const port = appContainer.ports.find((p: Obj) => p.name === "http");
  assertEquals(String(port.containerPort), appConfig.data.ONBOARDING_PORT);
  assertEquals(appContainer.livenessProbe.httpGet, { path: "/healthz", port: "http" });
  assertEquals(appContainer.readinessProbe.httpGet, { path: "/readyz", port: "http" });
  assertEquals(appContainer.startupProbe.httpGet.path, "/healthz");
});

Deno.test("k8s onboarding's shutdown bound ends before the pod's termination grace period", () => {
  const grace = podSpec(app).terminationGracePeriodSeconds ?? 30;
  const bound = Number(appConfig.data.ONBOARDING_SHUTDOWN_TIMEOUT);
  // Closing KV and the integrations after the bound takes a moment: leave a margin.
  assert(bound > 0 && bound + 5 <= grace, `SHUTDOWN_TIMEOUT ${bound} s vs grace ${grace} s`);
});

Deno.test("k8s containers are hardened and have resources", async (t) => {
  const effective = (w: Obj, c: Obj, key: string) =>
    c.securityContext?.[key] ?? podSpec(w).securityContext?.[key];

  for (const w of workloads) {
    for (const c of containersOf(w)) {
      const where = `${w.kind} ${w.metadata.name}/${c.name}`;
      await t.step(`${where} has a pinned image and resources`, () => {
        assert(/^[^@]+:[\w.-]+$/.test(c.image) || c.image.includes("@sha256:"), `${where}: tag`);
        assert(!c.image.endsWith(":latest"), `${where}: image tag is latest`);
        assert(c.resources?.requests?.cpu && c.resources?.requests?.memory, `${where}: requests`);
        assert(c.resources?.limits?.memory, `${where}: memory limit`);
      });
      await t.step(`${where} has a read-only, unprivileged security context`, () => {
        const sc = c.securityContext ?? {};
        assertEquals(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`);
        assertEquals(sc.allowPrivilegeEscalation, false, `${where}: allowPrivilegeEscalation`);
        assert(sc.privileged !== true, `${where}: privileged`);
        assertEquals(sc.capabilities?.drop, ["ALL"], `${where}: capabilities drop ALL`);
        assertEquals(effective(w, c, "seccompProfile")?.type, "RuntimeDefault", where);
        if (w.metadata.name === "kea-dhcp4" && c.name === "kea-dhcp4") {
          // The DHCP server alone runs as root, for exactly the two capabilities it needs.
          assertEquals([...sc.capabilities.add].sort(), ["NET_BIND_SERVICE", "NET_RAW"]);
        } else {
          assertEquals(sc.capabilities?.add, undefined, `${where}: added capabilities`);
          assertEquals(effective(w, c, "runAsNonRoot"), true, `${where}: runAsNonRoot`);
        }
      });
    }
  }
  await t.step("only Kea uses the host network", () => {
    assertEquals(
      workloads.filter((w) => podSpec(w).hostNetwork).map((w) => w.metadata.name),
      ["kea-dhcp4"],
    );
  });
});

Deno.test("k8s onboarding env provides every ONBOARDING_* variable of lib/domain/config.ts", async (t) => {
  const fromConfigMap = new Set<string>();
  for (const ref of appContainer.envFrom ?? []) {
    const cm = find("ConfigMap", ref.configMapRef.name, "onboarding");
    for (const key of Object.keys(cm.data)) fromConfigMap.add(key);
  }
  const fromSecret = new Map<string, Obj>();
  // The replicas patch adds the database URL (from the Secret) to the same container.
  const replicas = parse(
    await Deno.readTextFile(new URL("replicas/deployment.patch.yaml", K8S_DIR)),
  ) as Obj;
  for (const e of [...appContainer.env ?? [], ...replicas.spec.template.spec.containers[0].env]) {
    if (e.valueFrom?.secretKeyRef) fromSecret.set(e.name, e.valueFrom.secretKeyRef);
  }

  await t.step("each variable is set exactly once", () => {
    for (const key of Object.keys(configSchema.shape)) {
      const name = `ONBOARDING_${key}`;
      const sources = Number(fromConfigMap.has(name)) + Number(fromSecret.has(name));
      assertEquals(sources, 1, `${name} is provided ${sources} times`);
    }
    assertEquals((appContainer.envFrom ?? []).filter((r: Obj) => r.secretRef), []);
  });

  await t.step("secrets come from the Secret, never the ConfigMap", () => {
    for (const key of SECRET_VARS) {
      assert(fromSecret.has(`ONBOARDING_${key}`), `ONBOARDING_${key} is not from a Secret`);
      assert(!fromConfigMap.has(`ONBOARDING_${key}`), `ONBOARDING_${key} is in the ConfigMap`);
    }
  });

  await t.step("the ConfigMap values pass the app's own validation", () => {
    const env: Record<string, string> = { ...appConfig.data };
    env.ONBOARDING_KEA_DB_URL = "postgresql://kea:x@kea-postgres.kea-dhcp.svc.cluster.local/kea";
    const config = loadConfig(env);
    assert(config.OIDC_ISSUER, "auth must be on in the cluster");
    assertEquals(
      config.KV_PATH.startsWith(podSpec(app).containers[0].volumeMounts[0].mountPath),
      true,
    );
  });

  await t.step("every Secret referenced is created in docs/deploy.md", async () => {
    const doc = await Deno.readTextFile(DEPLOY_DOC);
    const refs = workloads.flatMap((w) =>
      containersOf(w).flatMap((c) => (c.env ?? []).map((e: Obj) => e.valueFrom?.secretKeyRef))
        .filter(Boolean).map((r: Obj) => `${w.metadata.namespace} ${r.name} ${r.key}`)
    );
    for (const ref of new Set(refs)) {
      const [ns, name, key] = ref.split(" ");
      const create = new RegExp(
        `kubectl -n ${ns} create secret generic ${name}[^\`]*--from-literal=${key}=`,
      );
      assert(create.test(doc), `docs/deploy.md does not create Secret ${ns}/${name} key ${key}`);
    }
  });
});

Deno.test("k8s onboarding exposure: Service, Ingress with TLS and WebSocket timeouts", async (t) => {
  const svc = find("Service", "onboarding", "onboarding");
  const ingress = find("Ingress", "onboarding", "onboarding");

  await t.step("the Service selects the pods and targets the named port", () => {
    assert(matches(svc.spec.selector, app.spec.template.metadata.labels));
    assertEquals(svc.spec.ports[0].targetPort, "http");
  });

  await t.step("TLS covers every host, and it is the app's PUBLIC_URL", () => {
    const tlsHosts = ingress.spec.tls.flatMap((t: Obj) => t.hosts);
    assert(ingress.spec.tls.every((t: Obj) => t.secretName));
    for (const rule of ingress.spec.rules) assert(tlsHosts.includes(rule.host), rule.host);
    assertEquals(new URL(appConfig.data.ONBOARDING_PUBLIC_URL).host, ingress.spec.rules[0].host);
    const backend = ingress.spec.rules[0].http.paths[0].backend.service;
    assertEquals(backend.name, svc.metadata.name);
    assertEquals(backend.port.name, svc.spec.ports[0].name);
  });

  await t.step("the app's paths are routed; probes and metrics are not", () => {
    const paths: Obj[] = ingress.spec.rules.flatMap((r: Obj) => r.http.paths);
    const routed = (path: string) =>
      paths.some((p) =>
        p.pathType === "Exact"
          ? p.path === path
          : p.path === "/" || path === p.path || path.startsWith(`${p.path.replace(/\/$/, "")}/`)
      );
    for (const path of ["/metrics", "/readyz", "/healthz"]) assert(!routed(path), path);
    for (
      const path of [
        "/",
        "/servers",
        "/servers/abc",
        "/import",
        "/api/v1/servers",
        "/api/v1/events",
        "/auth/callback",
        "/static/build/boot-1.js",
        "/manifest.webmanifest",
        "/sw.js",
      ]
    ) assert(routed(path), path);
  });

  await t.step("bearer tokens are checked against an audience that is not the client id", () => {
    assert(appConfig.data.ONBOARDING_OIDC_AUDIENCE !== appConfig.data.ONBOARDING_OIDC_CLIENT_ID);
  });

  await t.step("WebSockets stay open for an hour and a 10 MB import fits", () => {
    const a = ingress.metadata.annotations;
    assert(Number(a["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600);
    assert(Number(a["nginx.ingress.kubernetes.io/proxy-send-timeout"]) >= 3600);
    assert(parseInt(a["nginx.ingress.kubernetes.io/proxy-body-size"]) >= 10);
  });
});

Deno.test("k8s policies: NetworkPolicy and PodDisruptionBudget cover each workload", async (t) => {
  for (const w of workloads.filter((w) => w.kind !== "DaemonSet")) {
    const labels = w.spec.template.metadata.labels;
    await t.step(`${w.metadata.name} has a NetworkPolicy for ingress and egress`, () => {
      const policy = manifests.find((m) =>
        m.kind === "NetworkPolicy" && m.metadata.namespace === w.metadata.namespace &&
        matches(m.spec.podSelector.matchLabels, labels)
      );
      assert(policy, `no NetworkPolicy selects ${w.metadata.name}`);
      assertEquals([...policy.spec.policyTypes].sort(), ["Egress", "Ingress"]);
    });
    await t.step(`${w.metadata.name} has a PodDisruptionBudget`, () => {
      assert(
        manifests.some((m) =>
          m.kind === "PodDisruptionBudget" && m.metadata.namespace === w.metadata.namespace &&
          matches(m.spec.selector.matchLabels, labels)
        ),
        `no PodDisruptionBudget selects ${w.metadata.name}`,
      );
    });
  }
});

Deno.test("k8s onboarding egress: HTTPS only to listed addresses, the BMCs only in the BMC networks", async (t) => {
  const egress: Obj[] = find("NetworkPolicy", "onboarding", "onboarding").spec.egress;
  const https = (rule: Obj) =>
    !rule.ports || rule.ports.some((p: Obj) => p.port === 443 || p.port === "https");
  const httpsRules = egress.filter(https);

  await t.step("no rule opens HTTPS (or every port) to any address", () => {
    for (const rule of httpsRules) {
      assert(rule.to?.length, `an HTTPS rule without destinations: ${JSON.stringify(rule)}`);
      for (const peer of rule.to) {
        assert(peer.ipBlock?.cidr, `an HTTPS rule to a selector: ${JSON.stringify(peer)}`);
        assertEquals(peer.ipBlock.except, undefined);
        assert(Number(peer.ipBlock.cidr.split("/")[1]) >= 8, `too wide: ${peer.ipBlock.cidr}`);
      }
    }
  });

  await t.step("one rule admits exactly the BMC networks the app is configured with", () => {
    const networks = bmcNetworks(loadConfig(appConfig.data));
    assert(networks.length, "ONBOARDING_BMC_NETWORKS (or ONBOARDING_BMC_PREFIX) is set");
    const cidrs = httpsRules.map((r) => r.to.map((p: Obj) => p.ipBlock.cidr).sort());
    assert(
      cidrs.some((c) => JSON.stringify(c) === JSON.stringify([...networks].sort())),
      `no HTTPS rule for exactly ${networks.join(", ")}: ${JSON.stringify(cidrs)}`,
    );
  });
});

Deno.test("k8s state store: single replica on a volume by default, PostgreSQL for more", async (t) => {
  await t.step(
    "the default Deployment is one replica, recreated, with its KV file on a PVC",
    () => {
      assertEquals(app.spec.replicas, 1);
      assertEquals(app.spec.strategy.type, "Recreate");
      const dataVolume = podSpec(app).volumes.find((v: Obj) => v.persistentVolumeClaim);
      find("PersistentVolumeClaim", dataVolume.persistentVolumeClaim.claimName, "onboarding");
      const mount = appContainer.volumeMounts.find((m: Obj) => m.name === dataVolume.name);
      assert(appConfig.data.ONBOARDING_KV_PATH.startsWith(`${mount.mountPath}/`));
    },
  );
  await t.step(
    "the replicas patch: 3 rolling pods, the database URL from a Secret, a PDB",
    async () => {
      const read = async (f: string) =>
        parse(await Deno.readTextFile(new URL(`replicas/${f}`, K8S_DIR))) as Obj;
      const patch = await read("deployment.patch.yaml");
      assertEquals(patch.spec.replicas, 3);
      assertEquals(patch.spec.strategy, {
        type: "RollingUpdate",
        rollingUpdate: { maxUnavailable: 0, maxSurge: 1 },
      });
      const c = patch.spec.template.spec.containers[0];
      assertEquals(c.name, appContainer.name);
      const url = c.env.find((e: Obj) => e.name === "ONBOARDING_DATABASE_URL");
      assert(url.valueFrom.secretKeyRef, "the database URL must come from a Secret");
      // The pods share no volume: the PVC (ReadWriteOnce) is replaced by scratch space.
      const data = patch.spec.template.spec.volumes.find((v: Obj) => v.name === "data");
      assertEquals(data.persistentVolumeClaim, null);
      assert(data.emptyDir);
      const pdb = await read("pdb.patch.yaml");
      assertEquals(pdb.spec, { maxUnavailable: null, minAvailable: 2 });
      // Readiness covers the store: /readyz reads it (routes/system.ts), on the database then.
      assertEquals(appContainer.readinessProbe.httpGet.path, "/readyz");
      // The database is reachable: the egress rule to PostgreSQL (port 5432) exists.
      const egress: Obj[] = find("NetworkPolicy", "onboarding", "onboarding").spec.egress;
      assert(egress.some((r) => r.ports?.some((p: Obj) => p.port === 5432)));
    },
  );
});

Deno.test("k8s Kea DaemonSet runs on the conductor nodes and matches the app's settings", async (t) => {
  const ds = find("DaemonSet", "kea-dhcp4", "kea-dhcp");
  const spec = podSpec(ds);
  const kea = JSON.parse(find("ConfigMap", "kea-dhcp4-config", "kea-dhcp").data["kea-dhcp4.conf"])
    .Dhcp4;

  await t.step("host network, cluster DNS, and only on ironic-conductor nodes", () => {
    assertEquals(spec.hostNetwork, true);
    assertEquals(spec.dnsPolicy, "ClusterFirstWithHostNet");
    const terms = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
      .nodeSelectorTerms;
    assert(
      terms.every((term: Obj) =>
        term.matchExpressions.some((e: Obj) => e.key.includes("ironic-conductor"))
      ),
    );
  });

  await t.step("tolerates the sunet.se/ironic-conductor taint and selects those nodes", () => {
    const taint = spec.tolerations.find((x: Obj) => x.key === "sunet.se/ironic-conductor");
    assert(taint, "no toleration for the sunet.se/ironic-conductor taint");
    // Any value and any effect (NoSchedule or NoExecute) of the conductor taint.
    assertEquals([taint.operator, taint.effect], ["Exists", undefined]);
    const terms = spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
      .nodeSelectorTerms;
    assertEquals(terms, [{
      matchExpressions: [{ key: "sunet.se/ironic-conductor", operator: "Exists" }],
    }]);
  });

  await t.step(
    "the VLAN interfaces come from the site settings: bond0.4002 and the PXE one",
    () => {
      const annotations = ds.spec.template.metadata.annotations;
      assertEquals(annotations["sunet.se/kea-bmc-interface"], "bond0.4002");
      assertEquals(annotations["sunet.se/kea-pxe-interface"], "", "the PXE VLAN is to fill in");
      const render = spec.initContainers.find((c: Obj) => c.name === "render-config");
      const fromAnnotation = (name: string) =>
        render.env.find((e: Obj) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
      assertEquals(
        fromAnnotation("BMC_INTERFACE"),
        "metadata.annotations['sunet.se/kea-bmc-interface']",
      );
      assertEquals(
        fromAnnotation("PXE_INTERFACE"),
        "metadata.annotations['sunet.se/kea-pxe-interface']",
      );
      assertEquals(kea["interfaces-config"].interfaces, ["@BMC_INTERFACE@", "@PXE_INTERFACE@"]);
      const bmc = kea.subnet4.find((s: Obj) => s.subnet === appConfig.data.ONBOARDING_BMC_PREFIX);
      assertEquals(bmc.interface, "@BMC_INTERFACE@");
      const doc = Deno.readTextFileSync(DEPLOY_DOC);
      assert(doc.includes("SITE SETTINGS") && doc.includes("sunet.se/kea-pxe-interface"));
    },
  );

  await t.step("render-config fills the interfaces in and refuses a missing one", async () => {
    const render = spec.initContainers.find((c: Obj) => c.name === "render-config");
    const dir = await Deno.makeTempDir({ prefix: "kea-render-" });
    try {
      await Deno.writeTextFile(
        `${dir}/in.conf`,
        find("ConfigMap", "kea-dhcp4-config", "kea-dhcp").data["kea-dhcp4.conf"],
      );
      // The script as shipped, with its paths moved into the temporary folder; `kea-dhcp4 -t`
      // (Kea 3 configuration) is tests/kea_config_test.ts's business.
      const script = render.args.join("\n")
        .replaceAll("/config/kea-dhcp4.conf", `${dir}/in.conf`)
        .replace("kea-dhcp4 -t /etc/kea/kea-dhcp4.conf", "true")
        .replaceAll("/etc/kea/kea-dhcp4.conf", `${dir}/out.conf`);
      const run = (pxe: string) =>
        new Deno.Command("sh", {
          args: ["-c", script],
          env: {
            HOST_IP: "192.0.2.10",
            KEA_DB_PASSWORD: "0123abcd",
            BMC_INTERFACE: "bond0.4002",
            PXE_INTERFACE: pxe,
          },
          stderr: "piped",
        }).output();
      const missing = await run("");
      assertEquals(missing.code, 1);
      assert(
        new TextDecoder().decode(missing.stderr).includes("sunet.se/kea-pxe-interface"),
        "the error names the annotation to set",
      );
      assertEquals((await run("bond0.4001;rm")).code, 1, "only interface names are accepted");
      const ok = await run("bond0.4001");
      assertEquals(ok.code, 0, new TextDecoder().decode(ok.stderr));
      const rendered = JSON.parse(await Deno.readTextFile(`${dir}/out.conf`)).Dhcp4;
      assertEquals(rendered["interfaces-config"].interfaces, ["bond0.4002", "bond0.4001"]);
      assertEquals(rendered.subnet4.map((s: Obj) => s.interface), ["bond0.4002", "bond0.4001"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step(
    "the schema init image is ISC's Kea of the same version plus kea-admin and psql",
    () => {
      const server = spec.containers.find((c: Obj) => c.name === "kea-dhcp4");
      const init = spec.initContainers.find((c: Obj) => c.name === "db-schema");
      // ISC's image installs only isc-kea-dhcp4, isc-kea-ctrl-agent and isc-kea-hooks.
      assert(init.image !== server.image, "ISC's kea-dhcp4 image has no kea-admin or psql");
      const version = server.image.split(":").at(-1);
      assertEquals(init.image.split(":").at(-1), version, "kea-admin of the deployed Kea version");
      const dockerfile = Deno.readTextFileSync(new URL("kea-admin/Dockerfile", K8S_DIR));
      assertEquals(dockerfile.match(/^ARG KEA_IMAGE=(.+)$/m)?.[1], server.image);
      assert(/^FROM \$\{KEA_IMAGE\}$/m.test(dockerfile));
      assert(
        /apk add --no-cache "isc-kea-admin=\$\{package_version\}" postgresql-client/.test(
          dockerfile,
        ),
      );
      // The build itself proves the tools are there, at the server's version.
      assert(dockerfile.includes('test "$(kea-admin --version)" = "$kea_version"'));
      assert(dockerfile.includes("psql --version"));
      const doc = Deno.readTextFileSync(DEPLOY_DOC);
      assert(doc.includes("k8s/kea-admin/Dockerfile") && doc.includes("apk info"));
    },
  );

  await t.step("both VLAN interfaces are served", () => {
    const ifaces = kea["interfaces-config"].interfaces;
    assertEquals(ifaces.length, 2);
    assertEquals(kea.subnet4.map((s: Obj) => s.interface).sort(), [...ifaces].sort());
  });

  await t.step("the schema init runs kea-admin db-init only when the schema is absent", () => {
    const init = spec.initContainers.find((c: Obj) => c.name === "db-schema");
    const script = init.args.join("\n");
    assert(/to_regclass\('schema_version'\)/.test(script), "checks for the schema first");
    assert(/kea-admin db-init pgsql/.test(script) && /kea-admin db-upgrade pgsql/.test(script));
  });

  await t.step(
    "KEA_SERVERS/KEA_PORT reach the control sockets and KEA_SUBNET_ID is the BMC subnet",
    () => {
      const svc = find("Service", "kea-dhcp4-ctrl", "kea-dhcp");
      assertEquals(
        JSON.parse(appConfig.data.ONBOARDING_KEA_SERVERS),
        [`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`],
      );
      assertEquals(String(svc.spec.ports[0].port), appConfig.data.ONBOARDING_KEA_PORT);
      assertEquals(svc.spec.ports[0].targetPort, kea["control-sockets"][0]["socket-port"]);
      assert(matches(svc.spec.selector, ds.spec.template.metadata.labels));
      const bmc = kea.subnet4.find((s: Obj) => s.subnet === appConfig.data.ONBOARDING_BMC_PREFIX);
      assertEquals(String(bmc.id), appConfig.data.ONBOARDING_KEA_SUBNET_ID);
    },
  );

  await t.step("Kea's database host is the PostgreSQL StatefulSet's Service", () => {
    const pg = find("StatefulSet", "kea-postgres", "kea-dhcp");
    const svc = find("Service", pg.spec.serviceName, "kea-dhcp");
    const host = `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
    assertEquals(kea["lease-database"].host, host);
    assertEquals(kea["hosts-databases"].map((d: Obj) => d.host), [host]);
    const env = Object.fromEntries(
      podSpec(pg).containers[0].env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]),
    );
    assertEquals(env.POSTGRES_DB, kea["lease-database"].name);
    assertEquals(env.POSTGRES_USER, kea["lease-database"].user);
  });
});
