/** The fake's REST surface: authentication, routing, pagination and the available-IPs view. */
import { logRequest } from "../faults.ts";
import {
  HttpFailure,
  Invalid,
  MAX_PAGE_SIZE,
  type NetboxDb,
  nextId,
  NOT_FOUND,
  PAGINATE_COUNT,
  PAGING_PARAMS,
  withAllocationLock,
} from "./db.ts";
import { freeAddresses, ipFromBody, validateIp } from "./ipam.ts";
import { type Resource, resourcesOf } from "./resources.ts";
import { type Serializers, serializers } from "./serialize.ts";

function json(db: NetboxDb, body: unknown, status = 200): Response {
  const major = /(\d+\.\d+)/.exec(db.version)?.[1] ?? db.version;
  return Response.json(body, { status, headers: { "API-Version": major } });
}

function authenticate(db: NetboxDb, req: Request): Response | null {
  const header = req.headers.get("authorization");
  const m = header ? /^(Token|Bearer)\s+(\S+)$/i.exec(header.trim()) : null;
  if (!m) return json(db, { detail: "Authentication credentials were not provided." }, 403);
  const given = m[2];
  if (given.startsWith("nbt_")) {
    if (!given.includes(".")) return json(db, { detail: "Could not parse key from v2 token" }, 403);
    return given === db.token ? null : json(db, { detail: "Invalid v2 token" }, 403);
  }
  return given === db.token ? null : json(db, { detail: "Invalid v1 token" }, 403);
}

async function readBody(req: Request): Promise<unknown> {
  const text = await req.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpFailure(400, { detail: `JSON parse error - ${(e as Error).message}` });
  }
}

function asObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new Invalid({
      non_field_errors: ["Invalid data. Expected a dictionary, but got list."],
    });
  }
  return body as Record<string, unknown>;
}

function list(
  db: NetboxDb,
  req: Request,
  url: URL,
  res: Resource,
  s: Serializers,
): Response {
  const params = url.searchParams;
  let items = [...res.table.values()];
  const ids = params.getAll("id");
  if (ids.length) items = items.filter((o) => ids.map(Number).includes(o.id));
  for (const key of new Set(params.keys())) {
    if (key === "id" || PAGING_PARAMS.has(key)) continue;
    const filter = res.filters[key];
    // django-filter ignores parameters it does not know.
    if (!filter) continue;
    const values = params.getAll(key);
    items = items.filter((o) => filter(o, values));
  }
  items.sort((a, b) => a.id - b.id);
  const limitText = params.get("limit");
  let limit = limitText === null ? PAGINATE_COUNT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 0) limit = PAGINATE_COUNT;
  if (limit === 0 || limit > MAX_PAGE_SIZE) limit = MAX_PAGE_SIZE;
  let offset = Number(params.get("offset") ?? 0);
  if (!Number.isInteger(offset) || offset < 0) offset = 0;
  const page = items.slice(offset, offset + limit);
  const link = (o: number) => {
    const u = new URL(req.url);
    u.searchParams.set("limit", String(limit));
    if (o > 0) u.searchParams.set("offset", String(o));
    else u.searchParams.delete("offset");
    return u.toString();
  };
  return json(db, {
    count: items.length,
    next: offset + limit < items.length ? link(offset + limit) : null,
    previous: offset > 0 ? link(Math.max(0, offset - limit)) : null,
    results: page.map((o) => res.serialize(s, o)),
  });
}

async function availableIps(
  db: NetboxDb,
  req: Request,
  url: URL,
  prefixId: number,
  origin: string,
): Promise<Response> {
  const prefix = db.prefixes.get(prefixId);
  if (!prefix) throw NOT_FOUND();
  if (req.method === "GET") {
    let limit = Number(url.searchParams.get("limit") ?? PAGINATE_COUNT);
    if (!Number.isInteger(limit) || limit <= 0 || limit > MAX_PAGE_SIZE) limit = MAX_PAGE_SIZE;
    const out = [];
    for (const address of freeAddresses(db, prefix)) {
      if (out.length >= limit) break;
      out.push({ family: 4, address, vrf: null });
    }
    return json(db, out);
  }
  if (req.method !== "POST") {
    throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
  }
  // Parsed and shape-checked before the lock, as Netbox's view does; then one lock and one
  // transaction for the whole list: all created, or none (409 without room for every one, 400
  // naming each invalid object by its position).
  const body = await readBody(req);
  const many = Array.isArray(body);
  const requests = many ? eachOrErrors(body, asObject) : [asObject(body)];
  return await withAllocationLock(db, () => {
    const free = freeAddresses(db, prefix);
    const picked: string[] = [];
    for (let i = 0; i < requests.length; i++) {
      const next = free.next();
      if (next.done) {
        throw new HttpFailure(409, {
          detail: "Insufficient resources are available to satisfy the request",
        });
      }
      picked.push(next.value);
    }
    // Validate everything before saving anything.
    const draft = (r: Record<string, unknown>, i: number) => {
      const { prefix_length: _ignored, ...rest } = r;
      const ip = ipFromBody(db, { ...rest, address: picked[i] }, null);
      validateIp(db, ip, null, null);
      return ip;
    };
    const drafts = many ? eachOrErrors(requests, draft) : [draft(requests[0], 0)];
    for (const ip of drafts) {
      ip.id = nextId(db, db.ipAddresses);
      db.ipAddresses.set(ip.id, ip);
    }
    const s = serializers(db, origin);
    const out = drafts.map((ip) => s.ip(ip));
    return Promise.resolve(json(db, many ? out : out[0], 201));
  });
}

/** `fn` of each item of a list body, or a 400 listing each item's errors by position (`{}` if none). */
function eachOrErrors<T, R>(items: T[], fn: (item: T, i: number) => R): R[] {
  const out: R[] = [];
  const errors: Record<string, string[]>[] = [];
  items.forEach((item, i) => {
    try {
      out.push(fn(item, i));
      errors.push({});
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      errors.push(e.fields);
    }
  });
  if (out.length < items.length) throw new HttpFailure(400, errors);
  return out;
}

async function route(
  db: NetboxDb,
  resources: Record<string, Resource>,
  req: Request,
): Promise<Response> {
  const url = new URL(req.url);
  const path = url.pathname;
  if (!path.startsWith("/api")) throw NOT_FOUND();
  if (!path.endsWith("/")) {
    // Django's APPEND_SLASH.
    return new Response(null, { status: 302, headers: { location: `${path}/${url.search}` } });
  }
  const denied = authenticate(db, req);
  if (denied) return denied;
  const origin = url.origin;
  const parts = path.slice("/api/".length, -1).split("/").filter(Boolean);
  if (parts.length === 1 && parts[0] === "status") {
    if (req.method !== "GET") {
      throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
    }
    return json(db, {
      "django-version": "5.1.8",
      "installed-apps": {},
      "netbox-version": db.version,
      "netbox-full-version": db.version,
      plugins: {},
      "python-version": "3.12.3",
      "rq-workers-running": 1,
    });
  }
  if (parts.length === 0) {
    return json(db, { circuits: `${origin}/api/circuits/`, dcim: `${origin}/api/dcim/` });
  }
  if (
    parts.length === 4 && parts[0] === "ipam" && parts[1] === "prefixes" &&
    parts[3] === "available-ips"
  ) {
    if (!/^\d+$/.test(parts[2])) throw NOT_FOUND();
    return await availableIps(db, req, url, Number(parts[2]), origin);
  }
  const res = resources[`${parts[0]}/${parts[1]}`];
  if (!res || parts.length > 3) throw NOT_FOUND();
  const s = serializers(db, origin);
  if (parts.length === 2) {
    if (req.method === "GET") return list(db, req, url, res, s);
    if (req.method === "POST" && res.create) {
      const body = await readBody(req);
      if (Array.isArray(body)) {
        const created = body.map((b) => res.create!(asObject(b)));
        return json(db, created.map((o) => res.serialize(s, res.table.get(o.id))), 201);
      }
      const created = res.create(asObject(body));
      return json(db, res.serialize(s, res.table.get(created.id)), 201);
    }
    throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
  }
  if (!/^\d+$/.test(parts[2])) throw NOT_FOUND();
  const obj = res.table.get(Number(parts[2]));
  if (!obj) throw NOT_FOUND();
  if (req.method === "GET") return json(db, res.serialize(s, obj));
  if ((req.method === "PATCH" || req.method === "PUT") && res.update) {
    res.update(obj, asObject(await readBody(req)));
    return json(db, res.serialize(s, res.table.get(obj.id)));
  }
  if (req.method === "DELETE") {
    const blocking = res.dependents?.(obj) ?? 0;
    if (blocking) {
      throw new HttpFailure(409, {
        detail: `Unable to delete object. ${blocking} dependent objects were found`,
      });
    }
    if (res.remove) res.remove(obj);
    else res.table.delete(obj.id);
    return new Response(null, { status: 204, headers: { "API-Version": db.version } });
  }
  throw new HttpFailure(405, { detail: `Method "${req.method}" not allowed.` });
}

/** The fake's HTTP handler: request log, injected faults, then the API with Netbox's errors. */
export function createHandler(db: NetboxDb): (req: Request) => Promise<Response> {
  const resources = resourcesOf(db);
  return async (req) => {
    const url = new URL(req.url);
    logRequest(db.requestLog, `${req.method} ${url.pathname}${url.search}`);
    const faulted = await db.faults.apply(req);
    if (faulted) return faulted;
    try {
      return await route(db, resources, req);
    } catch (e) {
      if (e instanceof Invalid) return json(db, e.fields, 400);
      if (e instanceof HttpFailure) return json(db, e.body, e.status);
      throw e;
    }
  };
}
