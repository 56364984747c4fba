import { ok as assert, rejects } from "node:assert/strict";
import { createPgsqlBackend } from "./pgsql.ts";
import { IntegrationError } from "../http.ts";

/** PostgreSQL's ErrorResponse message (protocol 3.0): type 'E', length, then code/value fields. */
function errorResponse(fields: Record<string, string>): Uint8Array {
  const text = Object.entries(fields).map(([k, v]) => `${k}${v}\0`).join("") + "\0";
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(5 + body.length);
  out[0] = 0x45;
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

/** A server still starting up: it answers every startup message with SQLSTATE 57P03 (as
 * PostgreSQL does during recovery), counting the connections. */
function startingServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const answer = errorResponse({
    S: "FATAL",
    V: "FATAL",
    C: "57P03",
    M: "the database system is starting up",
  });
  const done = (async () => {
    for await (const conn of listener) {
      accepted++;
      await conn.read(new Uint8Array(1024));
      await conn.write(answer);
      conn.close();
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    accepted: () => accepted,
    close: () => (listener.close(), done),
  };
}

Deno.test("pgsql backend retries a transient database failure under the shared policy, then fails naming the operation without the password", async () => {
  const server = startingServer();
  const backend = createPgsqlBackend(`postgres://kea:s3cret-pw@127.0.0.1:${server.port}/kea`, {
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
  });
  try {
    await rejects(backend.health(), (e: unknown) => {
      assert(e instanceof IntegrationError);
      assert(e.message.startsWith("kea pgsql health failed"), e.message);
      assert(e.message.includes("starting up"), e.message);
      assert(!e.message.includes("s3cret-pw"), e.message);
      return true;
    });
    assert(server.accepted() === 3, `connections: ${server.accepted()}`);
  } finally {
    await backend.close();
    await server.close();
  }
});
