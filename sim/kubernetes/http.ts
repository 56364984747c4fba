/** The fake API server's HTTP surface: routes, bodies, field managers, auth and Status errors. */
// deno-lint-ignore-file no-explicit-any -- request bodies are arbitrary JSON documents
import {
  apply,
  checkKindAndName,
  collectGarbage,
  commit,
  recordUpdate,
  writeUpdate,
} from "./apply.ts";
import { jsonPatch, mergePatch } from "./fields.ts";
import { advance, schedule } from "./operator.ts";
import { foldStringData, metadataCauses } from "./schema.ts";
import {
  checkNamespace,
  type Cluster,
  emit,
  json,
  now,
  objKey,
  render,
  type Stored,
} from "./state.ts";
import {
  badRequest,
  BMHS,
  conflictModified,
  invalid,
  notFound,
  type ResourceType,
  SECRETS,
  StatusError,
} from "./status.ts";
import { listResponse, watchResponse } from "./watch.ts";

import { parse as parseYaml } from "yaml";
import { type Fault, logRequest } from "../faults.ts";

function statusResponse(e: StatusError): Response {
  return json(e.toJSON(), e.code);
}

async function readBody(req: Request, yamlOk: boolean): Promise<any> {
  const text = await req.text();
  if (!text.trim()) throw badRequest("the request body is empty");
  try {
    // JSON is YAML: try the fast parser first, as clients mostly send JSON apply patches.
    if (!yamlOk) return JSON.parse(text);
    try {
      return JSON.parse(text);
    } catch {
      return parseYaml(text);
    }
  } catch (e) {
    throw badRequest(`error decoding ${yamlOk ? "YAML" : "JSON"}: ${(e as Error).message}`);
  }
}

function managerFrom(url: URL, req: Request): string {
  const m = url.searchParams.get("fieldManager");
  if (m !== null) {
    if (m.length > 128) throw badRequest("fieldManager: Too long: must have at most 128 bytes");
    return m;
  }
  const ua = req.headers.get("user-agent") ?? "";
  return ua.split("/")[0] || "unknown";
}

async function route(cluster: Cluster, req: Request): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname.replace(/\/+$/, "");
  if (["/readyz", "/livez", "/healthz"].includes(path)) {
    return new Response("ok", { headers: { "content-type": "text/plain" } });
  }
  if (path === "/version") {
    return json({
      major: "1",
      minor: "32",
      gitVersion: "v1.32.0",
      platform: "linux/amd64",
    });
  }
  let m = path.match(/^\/api\/v1(?:\/namespaces\/([^/]+))?\/secrets(?:\/([^/]+))?$/);
  let t: ResourceType = SECRETS;
  let sub: string | undefined;
  if (!m) {
    m = path.match(
      /^\/apis\/metal3\.io\/v1alpha1(?:\/namespaces\/([^/]+))?\/baremetalhosts(?:\/([^/]+)(?:\/(status))?)?$/,
    );
    t = BMHS;
    sub = m?.[3];
  }
  if (!m) {
    throw new StatusError(
      404,
      "NotFound",
      "the server could not find the requested resource",
      {},
    );
  }
  const ns = m[1] ? decodeURIComponent(m[1]) : null;
  const name = m[2] ? decodeURIComponent(m[2]) : null;
  const strict = url.searchParams.get("fieldValidation") === "Strict";
  const watch = ["1", "true"].includes(url.searchParams.get("watch") ?? "");

  if (name === null) return await collectionRequest(cluster, req, url, t, ns, strict, watch);
  if (!ns) {
    throw new StatusError(
      404,
      "NotFound",
      "the server could not find the requested resource",
      {},
    );
  }
  if (sub && !t.statusSubresource) {
    throw new StatusError(
      404,
      "NotFound",
      "the server could not find the requested resource",
      {},
    );
  }
  return await objectRequest(cluster, req, url, { t, ns, name, sub, strict });
}

/** GET (list or watch) and POST on a collection. */
async function collectionRequest(
  cluster: Cluster,
  req: Request,
  url: URL,
  t: ResourceType,
  ns: string | null,
  strict: boolean,
  watch: boolean,
): Promise<Response> {
  if (req.method === "GET") {
    return watch ? watchResponse(cluster, t, ns, url) : listResponse(cluster, t, ns, url);
  }
  if (req.method === "POST" && ns) {
    const body = await readBody(req, /yaml/.test(req.headers.get("content-type") ?? ""));
    checkKindAndName(t, ns, null, body);
    const newName = body.metadata.name;
    if (!newName) throw invalid(t, "", metadataCauses(body.metadata));
    if (cluster.objects.has(objKey(t, ns, newName))) {
      throw new StatusError(
        409,
        "AlreadyExists",
        `${t.qualified} "${newName}" already exists`,
        {
          name: newName,
          group: t.group,
          kind: t.plural,
        },
      );
    }
    checkNamespace(cluster, ns);
    const manager = managerFrom(url, req);
    if (body.metadata.managedFields) delete body.metadata.managedFields;
    for (const f of ["resourceVersion", "uid", "creationTimestamp", "deletionTimestamp"]) {
      delete body.metadata[f];
    }
    body.metadata.namespace = ns;
    if (t.statusSubresource) delete body.status;
    if (t === SECRETS) {
      foldStringData(body);
      body.type ??= "Opaque";
    }
    const managers = recordUpdate(new Map(), manager, undefined, body);
    const stored = await commit(cluster, t, ns, newName, body, managers, strict, []);
    return json(render(stored), 201);
  }
  throw new StatusError(
    405,
    "MethodNotAllowed",
    `the server does not allow this method on the requested resource`,
  );
}

/** The object a request names. */
interface Target {
  t: ResourceType;
  ns: string;
  name: string;
  sub: string | undefined;
  strict: boolean;
}

/** GET, DELETE, PUT and PATCH on one object (or its status subresource). */
async function objectRequest(
  cluster: Cluster,
  req: Request,
  url: URL,
  target: Target,
): Promise<Response> {
  const { t, ns, name, sub, strict } = target;
  const k = objKey(t, ns, name);
  const existing = cluster.objects.get(k);

  switch (req.method) {
    case "GET": {
      if (!existing) throw notFound(t, name);
      return json(render(existing));
    }
    case "DELETE": {
      if (sub) {
        throw new StatusError(
          405,
          "MethodNotAllowed",
          "the server does not allow this method on the requested resource",
        );
      }
      if (!existing) throw notFound(t, name);
      if (existing.object.metadata.finalizers?.length) {
        if (!existing.object.metadata.deletionTimestamp) {
          const next = structuredClone(existing.object);
          next.metadata.deletionTimestamp = now();
          const stored = await commit(cluster, t, ns, name, next, existing.managers, false, []);
          if (cluster.options.provisioning && t === BMHS) {
            const ms = cluster.options.provisioning.deleteMs ?? cluster.options.provisioning.stepMs;
            cluster.deleteDue.set(k, Date.now() + ms);
            schedule(cluster, () => void advance(cluster, ns, name), ms);
          }
          return json(render(stored));
        }
        return json(render(existing));
      }
      cluster.objects.delete(k);
      cluster.rv++;
      existing.object.metadata.resourceVersion = String(cluster.rv);
      emit(cluster, "DELETED", existing, render(existing));
      collectGarbage(cluster, existing);
      return json(render(existing));
    }
    case "PUT": {
      const body = await readBody(req, /yaml/.test(req.headers.get("content-type") ?? ""));
      checkKindAndName(t, ns, name, body);
      if (!existing) throw notFound(t, name);
      const given = body.metadata.resourceVersion;
      if (!given && !t.unconditionalUpdate) {
        throw invalid(t, name, [{
          reason: "FieldValueInvalid",
          message: "Invalid value: 0x0: must be specified for an update",
          field: "metadata.resourceVersion",
        }]);
      }
      if (given && given !== existing.object.metadata.resourceVersion) {
        throw conflictModified(t, name);
      }
      const stored = await writeUpdate(
        cluster,
        t,
        existing,
        body,
        managerFrom(url, req),
        sub as "status" | undefined,
        strict,
      );
      return json(render(stored));
    }
    case "PATCH":
      return await patchRequest(cluster, req, url, target, existing);
    default:
      throw new StatusError(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
      );
  }
}

/** Apply, merge and JSON patches. */
async function patchRequest(
  cluster: Cluster,
  req: Request,
  url: URL,
  target: Target,
  existing: Stored | undefined,
): Promise<Response> {
  const { t, ns, name, sub, strict } = target;
  const type = (req.headers.get("content-type") ?? "").split(";")[0].trim();
  if (type === "application/apply-patch+yaml") {
    const manager = url.searchParams.get("fieldManager");
    // The API server validates PatchOptions as an Invalid (422) object.
    if (!manager) {
      throw new StatusError(
        422,
        "Invalid",
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
        {
          group: "meta.k8s.io",
          kind: "PatchOptions",
          causes: [{
            reason: "FieldValueRequired",
            message: "Required value: is required for apply patch",
            field: "fieldManager",
          }],
        },
      );
    }
    if (sub) {
      throw badRequest("apply to the status subresource is not supported by this server");
    }
    const force = url.searchParams.get("force") === "true";
    const body = await readBody(req, true);
    const { stored, created } = await apply(cluster, t, ns, name, body, manager, force, strict);
    return json(render(stored), created ? 201 : 200);
  }
  const strategic = type === "application/strategic-merge-patch+json";
  if (
    type !== "application/merge-patch+json" && type !== "application/json-patch+json" &&
    !(strategic && t === SECRETS)
  ) {
    throw new StatusError(
      415,
      "UnsupportedMediaType",
      `the body of the request was in an unknown format - accepted media types include: ` +
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    );
  }
  if (!existing) throw notFound(t, name);
  const patch = await readBody(req, false);
  const current = render(existing);
  delete current.metadata.managedFields;
  const next = type === "application/json-patch+json"
    ? jsonPatch(current, patch)
    : mergePatch(current, patch);
  if (
    next.metadata?.resourceVersion &&
    next.metadata.resourceVersion !== existing.object.metadata.resourceVersion
  ) throw conflictModified(t, name);
  checkKindAndName(t, ns, name, next);
  const stored = await writeUpdate(
    cluster,
    t,
    existing,
    next,
    managerFrom(url, req),
    sub as "status" | undefined,
    strict,
  );
  return json(render(stored));
}

/** The fake's HTTP handler: faults, request log, bearer token, then the API with Status errors. */
export function createHandler(cluster: Cluster): (req: Request) => Promise<Response> {
  return (req) => handle(cluster, req);
}

async function handle(cluster: Cluster, req: Request): Promise<Response> {
  await cluster.validatorReady;
  const injected = await cluster.faults.apply(req);
  if (injected) return injected;
  const url = new URL(req.url);
  logRequest(cluster.requests, {
    method: req.method,
    path: url.pathname,
    search: url.search,
    contentType: req.headers.get("content-type") ?? "",
  });
  if (cluster.token !== undefined) {
    const auth = req.headers.get("authorization") ?? "";
    if (auth !== `Bearer ${cluster.token}`) {
      await req.body?.cancel().catch(() => {});
      return statusResponse(new StatusError(401, "Unauthorized", "Unauthorized"));
    }
  }
  try {
    const res = await route(cluster, req);
    return res;
  } catch (e) {
    if (e instanceof StatusError) return statusResponse(e);
    throw e;
  }
}

/** A Fault with a Kubernetes Status body, for `fake.faults.add(...)`. */
export function statusFault(
  code: number,
  reason: string,
  message: string,
  extra: Omit<Fault, "status" | "body"> = {},
): Fault {
  return {
    ...extra,
    status: code,
    body: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message,
      reason,
      code,
    },
  };
}
