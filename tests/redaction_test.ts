/**
 * Property tests: a password echoed back by an integration, in any error shape, never reaches a
 * message, log line, KV, event or API response in any encoding (raw, JSON-escaped, URL-encoded,
 * base64), whole or as a cut-off prefix.
 */
import { ok as assert } from "node:assert/strict";
import { createHttpClient, IntegrationError, secretForms } from "../lib/integrations/http.ts";
import { createKubernetesClient } from "../lib/integrations/kubernetes.ts";
import { createLogger } from "../lib/observability/log.ts";
import { asFetch } from "../sim/faults.ts";
import { createFakeRedfish } from "../sim/redfish/mod.ts";
import { dumpKv, startTestApp } from "./app_harness.ts";

/** mulberry32: reproducible randomness (the seed is in the failure message). */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HARD = ['"', "'", "\\", "%", "+", "/", "=", "&", " ", "<", ">", "{", "}", ":"];
const UNICODE = ["é", "ü", "漢", "🔑", "\u0001", "\n", "\t", "\u2028", "\u007f"];
const PLAIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

function password(rnd: () => number, options: { ascii: boolean; length: number }): string {
  const pools = options.ascii ? [HARD, [...PLAIN]] : [HARD, UNICODE, [...PLAIN]];
  let out = "";
  for (let i = 0; i < options.length; i++) {
    const pool = pools[Math.floor(rnd() * pools.length)];
    out += pool[Math.floor(rnd() * pool.length)];
  }
  return out;
}

const b64 = (s: string) => btoa(String.fromCharCode(...new TextEncoder().encode(s)));

/** The ways an upstream echoes a value it was sent, as an error body. */
const SHAPES: Record<string, (echo: string) => unknown> = {
  "kubernetes Status with causes": (echo) => ({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    reason: "Invalid",
    code: 422,
    message: `Secret "h-bmc-secret" is invalid: stringData.password: Invalid value: "${echo}"`,
    details: {
      causes: [{
        reason: "FieldValueInvalid",
        field: "stringData.password",
        message: `Invalid value: "${echo}"`,
      }],
    },
  }),
  "kubernetes Status with a long message cut at 300": (echo) => ({
    kind: "Status",
    reason: "BadRequest",
    code: 400,
    message: `${"x".repeat(283)} body: ${JSON.stringify({ stringData: { password: echo } })}`,
  }),
  "netbox field errors": (echo) => ({ password: [`"${echo}" is not valid`], name: ["taken"] }),
  "netbox detail": (echo) => ({ detail: `Invalid value "${echo}"` }),
  "openbao errors": (echo) => ({
    errors: [`invalid request: ${JSON.stringify({ data: { password: echo } })}`],
  }),
  "kea text answer": (echo) => [{ result: 1, text: `bad parameter: "${echo}"` }],
  "redfish extended info": (echo) => ({
    error: {
      code: "Base.1.8.GeneralError",
      message: `Login failed for "${echo}" (${b64(`ADMIN:${echo}`)})`,
      "@Message.ExtendedInfo": [{ Message: encodeURIComponent(echo) }],
    },
  }),
};

/** Where `pw` could still be recognised in `text`: every form of 4+ characters anywhere, and for
 * shorter passwords the quoted contexts the shapes above put them in. */
function leaks(text: string, pw: string): string[] {
  const found = secretForms(pw).filter((f) => f.length >= 4 && text.includes(f));
  if (pw.length < 4) {
    for (const f of secretForms(pw)) {
      for (const quoted of [`"${f}"`, `\\"${f}\\"`, `password=${f}`]) {
        if (text.includes(quoted)) found.push(quoted);
      }
    }
  }
  // A prefix of 4+ characters left by a cut ("…" marks one).
  for (const f of secretForms(pw)) {
    for (let k = 4; k < f.length; k++) if (text.includes(`${f.slice(0, k)}…`)) found.push(`${f}…`);
  }
  return found;
}

Deno.test("property: an echoed secret survives in no form in an IntegrationError or a log line", async () => {
  const seed = 1307;
  const rnd = random(seed);
  for (let run = 0; run < 150; run++) {
    const pw = password(rnd, { ascii: run % 2 === 0, length: 1 + Math.floor(rnd() * 20) });
    for (const [shape, make] of Object.entries(SHAPES)) {
      const http = createHttpClient({
        integration: "netbox",
        fetch: asFetch(() => Response.json(make(pw), { status: 422 })),
        retry: { attempts: 1 },
        secrets: () => [pw],
      });
      const e = await http.request("create device", "POST", "http://nb.sim/api/dcim/devices/")
        .then(() => null, (e) => e);
      assert(e instanceof IntegrationError);
      const lines: string[] = [];
      const log = createLogger({ write: (l) => lines.push(l) });
      log.addSecret(pw);
      log.warn("step failed", { error: e, body: e.body, echoed: make(pw) });
      const text = `${e.message}\n${JSON.stringify(e.body)}\n${lines.join("\n")}`;
      const found = leaks(text, pw);
      assert(
        found.length === 0,
        `seed ${seed} run ${run} (${shape}): ${JSON.stringify(pw)} leaked as ${
          JSON.stringify(found)
        } in ${text}`,
      );
    }
  }
});

Deno.test("the Kubernetes client scrubs a Secret's value from a Status before formatting it", async () => {
  const pw = 'PW-long-enough\\"q\\\\z';
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "h-bmc-secret", namespace: "metal3" },
    stringData: { username: "ADMIN", password: pw },
  };
  for (const [shape, make] of Object.entries(SHAPES)) {
    const k8s = createKubernetesClient({
      server: "http://k8s.sim",
      fetch: asFetch(() => Response.json(make(pw), { status: 422 })),
      retry: { attempts: 1 },
    });
    const e = await k8s.apply(secret).then(() => null, (e) => e);
    assert(e instanceof IntegrationError);
    const text = `${e.message}\n${JSON.stringify(e.body)}`;
    assert(leaks(text, pw).length === 0, `${shape}: ${text}`);
  }
});

Deno.test("property: passwords echoed by OpenBao, Kubernetes and the BMC reach no log, KV, event or response", async () => {
  const seed = 4242;
  const rnd = random(seed);
  await using t = await startTestApp();
  const events: string[] = [];
  const unsubscribe = t.deps.events.subscribe((e) => events.push(JSON.stringify(e)));
  const responses: string[] = [];
  const cases: { pw: string; where: string; item: Record<string, unknown> }[] = [];
  for (let i = 0; i < 24; i++) {
    // Printable ASCII only: anything else is refused at the door (and that answer is checked too).
    const pw = password(rnd, { ascii: i % 8 !== 7, length: 1 + Math.floor(rnd() * 24) });
    const name = `leak-${i}`;
    const ip = `10.16.28.${100 + i}`;
    const where = ["openbao", "kubernetes", "redfish"][i % 3];
    const shape = Object.values(SHAPES)[i % Object.keys(SHAPES).length];
    const echo = ({ text, headers }: { text: string; headers: Headers }) => {
      // Echo what was sent: the request body, or the Basic credentials.
      const sent = text || atob((headers.get("authorization") ?? "").replace(/^Basic /, ""));
      return shape(sent.includes(pw) ? sent : pw);
    };
    if (where === "openbao") {
      t.world.openbao.faults.add({
        match: new RegExp(`^(POST|PUT) .*/data/bmc/${name}$`),
        status: 400,
        body: echo,
      });
    } else if (where === "kubernetes") {
      t.world.kubernetes.faults.add({
        match: `PATCH /api/v1/namespaces/metal3/secrets/${name}-bmc-secret`,
        status: 422,
        body: echo,
      });
    } else {
      const bmc = createFakeRedfish({ username: "ADMIN", password: pw });
      bmc.faults.add({ match: "/redfish/v1/Systems", status: i % 2 ? 401 : 400, body: echo });
      t.world.bmcs.add(ip, bmc);
    }
    cases.push({
      pw,
      where,
      item: {
        device_name: name,
        bmc_mac: `3c:ec:ef:10:00:${i.toString(16).padStart(2, "0")}`,
        boot_mac: `3c:ec:ef:20:00:${i.toString(16).padStart(2, "0")}`,
        bmc_password: pw,
        bmc_ip: ip,
      },
    });
  }
  const res = await t.call("POST", "/api/v1/servers/import", cases.map((c) => c.item));
  responses.push(res.text);
  for (const r of res.body as { id?: string }[]) {
    if (r.id) {
      responses.push((await t.call("GET", `/api/v1/servers/${r.id}`)).text);
      responses.push((await t.call("GET", `/api/v1/servers/${r.id}/status`)).text);
    }
  }
  responses.push((await t.call("GET", "/api/v1/servers?limit=100")).text);
  const register = await t.call("POST", "/api/v1/servers/register", {
    ...cases[0].item,
    bmc_password: `${cases[0].pw}\u0001é`,
  });
  responses.push(register.text);
  unsubscribe();
  const haystacks = {
    logs: t.logs.join("\n"),
    kv: await dumpKv(t.deps.kv),
    events: events.join("\n"),
    responses: responses.join("\n"),
  };
  assert(
    (res.body as { status: string }[]).some((r) => r.status === "failed"),
    "the faults were hit",
  );
  for (const { pw, where } of cases) {
    for (const [place, text] of Object.entries(haystacks)) {
      const found = leaks(text, pw);
      assert(
        found.length === 0,
        `seed ${seed}: ${JSON.stringify(pw)} echoed by ${where} leaked into ${place} as ${
          JSON.stringify(found)
        }`,
      );
    }
  }
});
