/** Drift in Kubernetes: each BareMetalHost and its Secret; hosts with our labels and no record. */
import { bmcAddress, bmcSecretName, MANAGED_SELECTOR } from "../../domain/metal3.ts";
import type { KubernetesClient } from "../../integrations/kubernetes.ts";
import type { Registration } from "../../state/store.ts";
import { type Add, type DriftDeps, pool, type ReadSecret } from "./types.ts";

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function checkKubernetes(
  d: DriftDeps,
  kube: KubernetesClient,
  readSecret: ReadSecret,
  all: Registration[],
  full: boolean,
  add: Add,
): Promise<void> {
  const ns = d.config.METAL3_NAMESPACE;
  const { items } = await kube.listBareMetalHosts(ns, { labelSelector: MANAGED_SELECTOR });
  const hosts = new Map(items.map((h) => [h.metadata.name, h]));
  const handed = all.filter((r) => r.status === "ok" && r.created.metal3_bmh && r.bmc_ip);
  await pool(handed, d.config.IMPORT_CONCURRENCY, async (r) => {
    const name = r.created.metal3_bmh!;
    const host = hosts.get(name) ?? null;
    const secretName = r.created.metal3_secret ?? bmcSecretName(r.device_name);
    const address = bmcAddress(d.config.BMC_DRIVER, r.bmc_ip!, r.bmc?.systemPath || undefined);
    if (!host) {
      add(r, "kubernetes_host_missing", {
        where: `${ns}/${name}`,
        expected: `BareMetalHost ${name} (bmc ${address})`,
        found: "no BareMetalHost with our labels",
        repair: "Apply the BareMetalHost and its Secret again",
        step: "metal3",
      });
    } else if (
      host.spec.bmc?.address !== address || host.spec.bmc?.credentialsName !== secretName
    ) {
      add(r, "kubernetes_host_changed", {
        where: `${ns}/${name}`,
        expected: `bmc ${address}, credentials ${secretName}`,
        found: `bmc ${host.spec.bmc?.address ?? "-"}, credentials ${
          host.spec.bmc?.credentialsName ?? "-"
        }`,
        repair: "Apply the BareMetalHost again",
        step: "metal3",
      });
    }
    const secret = await kube.getSecret(ns, secretName);
    const encoded = secret?.data?.password;
    if (!secret || !encoded) {
      add(r, "kubernetes_secret_missing", {
        where: `${ns}/${secretName}`,
        expected: `Secret ${secretName} with the BMC password`,
        found: secret ? "no password in it" : "no Secret",
        repair: "Apply the Secret again with the password from OpenBao",
        step: "metal3",
      });
      return;
    }
    if (!d.openbao || r.steps.openbao.status !== "done") return;
    const bao = await readSecret(r.device_name).catch(() => null); // its error is OpenBao's
    if (!bao?.data.password) return; // reported as openbao_secret_missing
    const [have, want] = await Promise.all([sha256(atob(encoded)), sha256(bao.data.password)]);
    if (have !== want) {
      add(r, "kubernetes_password_differs", {
        where: `${ns}/${secretName}`,
        expected: `the OpenBao password (sha256 ${want.slice(0, 8)}…)`,
        found: `another password (sha256 ${have.slice(0, 8)}…)`,
        repair: "Apply the Secret again with the password from OpenBao",
        step: "metal3",
      });
    }
  });
  if (!full) return;
  const names = new Set(all.flatMap((r) => [r.created.metal3_bmh, r.host_deletion?.name]));
  for (const h of items) {
    if (names.has(h.metadata.name)) continue;
    add(null, "kubernetes_unknown_host", {
      server: h.metadata.name,
      where: `${ns}/${h.metadata.name}`,
      expected: "a registration for every BareMetalHost with our labels",
      found: `BareMetalHost ${h.metadata.name} (bmc ${h.spec.bmc?.address ?? "-"})`,
      repair: "None: unknown to the service, left untouched",
      unknown: true,
    });
  }
}
