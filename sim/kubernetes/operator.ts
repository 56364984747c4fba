/**
 * The simulated baremetal-operator: registering → inspecting → available one step at a time, its
 * finalizer, the credentials Secret's owner reference and label, and deprovisioning on delete.
 */
// deno-lint-ignore-file no-explicit-any -- request bodies are arbitrary JSON documents
import { update } from "./apply.ts";
import { type Cluster, now, objKey } from "./state.ts";
import { BMHS, type ResourceType, SECRETS } from "./status.ts";

const OPERATOR = "baremetal-operator";
const BMH_FINALIZER = "baremetalhost.metal3.io";

export function schedule(cluster: Cluster, fn: () => void, ms: number) {
  if (cluster.closed) return;
  const id = setTimeout(() => {
    cluster.timers.delete(id);
    if (!cluster.closed) fn();
  }, ms);
  cluster.timers.add(id);
}

export function operatorUpdate(
  cluster: Cluster,
  t: ResourceType,
  ns: string,
  name: string,
  mutate: (o: any) => void,
) {
  return update(cluster, t.kind, ns, name, mutate, OPERATOR).catch(() => {});
}

export function scheduleOperator(cluster: Cluster, ns: string, name: string) {
  const step = cluster.options.provisioning!.stepMs;
  schedule(cluster, () => void advance(cluster, ns, name), step);
}

export async function advance(cluster: Cluster, ns: string, name: string) {
  const s = cluster.objects.get(objKey(BMHS, ns, name));
  if (!s) return;
  const o = s.object;
  if (o.metadata.deletionTimestamp) {
    // Deprovisioning takes its time: an earlier provisioning tick leaves the finalizer.
    if (Date.now() < (cluster.deleteDue.get(objKey(BMHS, ns, name)) ?? 0)) return;
    cluster.deleteDue.delete(objKey(BMHS, ns, name));
    await operatorUpdate(cluster, BMHS, ns, name, (b) => {
      b.metadata.finalizers = (b.metadata.finalizers ?? []).filter((f: string) =>
        f !== BMH_FINALIZER
      );
    });
    return;
  }
  const state = o.status?.provisioning?.state ?? "";
  const base = {
    lastUpdated: now(),
    poweredOn: false,
    errorCount: 0,
    errorMessage: "",
    operationalStatus: "OK",
  };
  if (state === "") {
    if (!o.metadata.finalizers?.includes(BMH_FINALIZER)) {
      await operatorUpdate(cluster, BMHS, ns, name, (b) => {
        b.metadata.finalizers = [...(b.metadata.finalizers ?? []), BMH_FINALIZER];
      });
    }
    await writeStatus(cluster, ns, name, {
      ...base,
      provisioning: { state: "registering", ID: crypto.randomUUID() },
    });
  } else if (state === "registering") {
    const credName = o.spec?.bmc?.credentialsName;
    const secret = credName ? cluster.objects.get(objKey(SECRETS, ns, credName)) : undefined;
    const user = secret?.object.data?.username, pass = secret?.object.data?.password;
    if (!secret || !user || !pass) {
      await writeStatus(cluster, ns, name, {
        ...o.status,
        lastUpdated: now(),
        operationalStatus: "error",
        errorType: "registration error",
        errorMessage: !secret
          ? `Failed to get BMC credentials: secret ${ns}/${credName} not found`
          : `Missing BMC connection detail '${!user ? "username" : "password"}' in credentials`,
        errorCount: (o.status?.errorCount ?? 0) + 1,
      });
    } else {
      await operatorUpdate(cluster, SECRETS, ns, credName, (sec) => {
        sec.metadata.labels = { ...sec.metadata.labels, "environment.metal3.io": "baremetal" };
        if (!sec.metadata.ownerReferences?.some((r: any) => r.uid === o.metadata.uid)) {
          sec.metadata.ownerReferences = [{
            apiVersion: BMHS.apiVersion,
            kind: BMHS.kind,
            name,
            uid: o.metadata.uid,
          }];
        }
      });
      await writeStatus(cluster, ns, name, {
        ...base,
        provisioning: { ...o.status.provisioning, state: "inspecting" },
        goodCredentials: {
          credentials: { name: credName, namespace: ns },
          credentialsVersion: secret.object.metadata.resourceVersion,
        },
      });
    }
  } else if (state === "inspecting") {
    await writeStatus(cluster, ns, name, {
      ...o.status,
      ...base,
      provisioning: { ...o.status.provisioning, state: "available" },
    });
    return;
  } else return;
  scheduleOperator(cluster, ns, name);
}

export function writeStatus(
  cluster: Cluster,
  ns: string,
  name: string,
  status: any,
): Promise<unknown> {
  return update(
    cluster,
    "BareMetalHost",
    ns,
    name,
    (b) => {
      b.status = status;
    },
    OPERATOR,
    "status",
  ).catch(() => {});
}
