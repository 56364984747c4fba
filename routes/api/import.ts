/** `/api/v1/servers/import`: a JSON array at once, or streamed over a WebSocket. */
import type { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import { ValidationFailed } from "../../lib/domain/errors.ts";
import { MAX_BODY_BYTES, previewImport, runImport } from "../../lib/registration/import.ts";
import type { AppDeps, AppEnv } from "../../app_types.ts";
import { actorOf } from "./common.ts";

export function importRoutes(app: Hono<AppEnv>, deps: AppDeps): void {
  app.post("/servers/import", async (c) => {
    const items = await c.req.json().catch(() => {
      throw new ValidationFailed(
        { body: "The body must be a JSON array" },
        "The body is not valid JSON",
      );
    });
    // Preview: the same pre-flight, nothing written.
    if (c.req.query("dry_run") === "true") return c.json(await previewImport(deps, items));
    const results = await runImport(deps, items, { actor: actorOf(c) });
    return c.json(results);
  });

  app.get(
    "/servers/import/ws",
    upgradeWebSocket((c) => {
      const actor = actorOf(c);
      // A client may ask for less parallelism than configured, never more.
      const requested = Number(c.req.query("concurrency"));
      const concurrency = Number.isInteger(requested) && requested >= 1
        ? Math.min(requested, deps.config.IMPORT_CONCURRENCY)
        : undefined;
      let started = false;
      return {
        onOpen: (_e, ws) => void deps.sockets.add(ws),
        onClose: (_e, ws) => void deps.sockets.delete(ws),
        onMessage: (event, ws) => {
          if (started) return;
          started = true;
          const data = event.data;
          const size = typeof data === "string"
            ? new TextEncoder().encode(data).byteLength
            : data instanceof Blob
            ? data.size
            : (data as ArrayBuffer).byteLength;
          if (size > MAX_BODY_BYTES) {
            ws.send(JSON.stringify({
              type: "error",
              error: { code: "payload_too_large", message: "The message is larger than 10 MB" },
            }));
            ws.close(1009, "message too big");
            return;
          }
          let items: unknown;
          try {
            items = JSON.parse(String(event.data));
          } catch {
            ws.send(
              JSON.stringify({
                type: "error",
                error: { code: "invalid_request", message: "Send one JSON array" },
              }),
            );
            ws.close(1003, "invalid JSON");
            return;
          }
          const send = (m: unknown) => {
            if (ws.readyState === 1) ws.send(JSON.stringify(m));
          };
          // The import carries on when the client goes away; it only stops streaming.
          runImport(deps, items, { actor, concurrency, onEvent: send }).then((results) => {
            const ok = results.filter((r) => r.status === "ok").length;
            send({ type: "done", done: true, ok, failed: results.length - ok });
            if (ws.readyState === 1) ws.close(1000, "done");
          }).catch((e) => {
            send({
              type: "error",
              error: { code: "import_failed", message: (e as Error).message },
            });
            if (ws.readyState === 1) ws.close(1011, "import failed");
          });
        },
      };
    }),
  );
}
