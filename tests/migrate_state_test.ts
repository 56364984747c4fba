/** `deno task migrate-state`: a KV installation of 1,000 registrations moved to PostgreSQL reads
 * the same through the API (list, filters, audit), and a second run changes nothing. */
import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { openPgState } from "../lib/state/pg_store.ts";
import {
  newRegistrationId,
  pendingSteps,
  type Registration,
  RegistrationStore,
} from "../lib/state/store.ts";
import { startTestApp, type TestApp } from "./app_harness.ts";
import { newDatabase, postgresAvailable } from "./state_backends.ts";

const run = postgresAvailable("migrate-state");
const N = 1000;

function record(i: number): Registration {
  const now = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    id: newRegistrationId(),
    device_name: `dcoa-r${Math.floor(i / 40)}u${i % 40}`,
    status: i % 7 === 0 ? "failed" : "ok",
    source: i % 2 ? "import" : "register",
    bmc_mac: `3c:ec:ef:00:${(i >> 8).toString(16).padStart(2, "0")}:${
      (i & 255).toString(16).padStart(2, "0")
    }`,
    bmc_username: "ADMIN",
    bmc_ip: `10.16.${28 + (i >> 8)}.${i & 255}`,
    request: { site: i % 3 ? "dcoa" : "dcob" },
    steps: pendingSteps(),
    created: { netbox_device_id: i },
    warnings: [],
    actor: "tech",
    created_at: now,
    updated_at: now,
    slot: { rackId: Math.floor(i / 40), units: [i % 40] },
  };
}

async function migrate(from: string, to: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "migrate-state", "--from", from, "--to", to],
    cwd: new URL("..", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  ok(out.success, text);
  return text;
}

async function everything(app: TestApp, query = ""): Promise<unknown[]> {
  const rows: unknown[] = [];
  let cursor: string | null = null;
  do {
    const res = await app.call(
      "GET",
      `/api/v1/servers?source=ours&limit=200${query}${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
    );
    assertEquals(res.status, 200, res.text);
    rows.push(...res.body.items);
    cursor = res.body.cursor;
  } while (cursor);
  return rows;
}

Deno.test({
  name: "migrate-state: 1,000 registrations from KV read the same from PostgreSQL via the API",
  ignore: !run,
  async fn() {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/onboarding.kv`;
    const kv = await Deno.openKv(path);
    const store = new RegistrationStore(kv);
    const ids: string[] = [];
    for (let i = 0; i < N; i++) {
      const r = record(i);
      await store.create(r, i % 10 === 0 ? `key-${i}` : undefined);
      await store.audit(r.id, { at: r.created_at, actor: "tech", action: "register" });
      await store.audit(r.id, { at: r.updated_at, actor: "tech", action: r.status });
      ids.push(r.id);
    }
    kv.close();
    const url = await newDatabase();
    const first = await migrate(path, url);
    ok(first.includes(`registrations: ${N}`), first);
    await migrate(path, url); // again: idempotent

    const pg = await openPgState(url);
    const fromKv = await Deno.openKv(path);
    const a = await startTestApp({ kv: fromKv, worker: false });
    const b = await startTestApp({ kv: pg.kv, coordination: pg.coordination, worker: false });
    try {
      const listed = await everything(b);
      assertEquals(listed.length, N);
      assertEquals(listed, await everything(a));
      for (const q of ["&status=failed", "&site=dcob", "&q=dcoa-r3u1"]) {
        assertEquals(await everything(b, q), await everything(a, q), q);
      }
      for (const id of ids.filter((_, i) => i % 50 === 0)) {
        const [x, y] = [
          await a.call("GET", `/api/v1/servers/${id}`),
          await b.call("GET", `/api/v1/servers/${id}`),
        ];
        assertEquals(y.body.audit.length, 2);
        assertEquals(y.body, x.body);
      }
      // Claims moved too: the same MAC again is refused on PostgreSQL.
      const pgStore = new RegistrationStore(pg.kv, pg.coordination);
      assertEquals(await pgStore.idByMac(record(5).bmc_mac), ids[5]);
      assertEquals(await pgStore.slotHolder(0, 5), ids[5]);
      assertEquals(await pgStore.idByIdempotencyKey("key-10"), ids[10]);
    } finally {
      await a.close();
      await b.close();
      await pg.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
