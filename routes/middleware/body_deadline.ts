/**
 * Deno.serve has no body (or header) timeout: a body that does not arrive in time ends the request
 * with 408, so its handler and buffers are released. The socket itself stays open while Deno waits
 * for the rest; the proxy in front closes it (see README, Security).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app_types.ts";

/** Thrown into a request body stream when the client has not sent it all in time. */
class BodyTimeout extends Error {
  override name = "BodyTimeout";
}

/** The body as a stream that fails after `ms`; `timedOut()` tells the middleware to answer 408. */
function withBodyDeadline(req: Request, ms: number): { req: Request; timedOut: () => boolean } {
  const source = req.body!.getReader();
  let expired = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      timer = setTimeout(() => {
        expired = true;
        controller.error(new BodyTimeout("The request body did not arrive in time"));
        source.cancel().catch(() => {});
      }, ms);
    },
    async pull(controller) {
      try {
        const { done, value } = await source.read();
        if (expired) return;
        if (done) {
          clearTimeout(timer);
          controller.close();
        } else controller.enqueue(value);
      } catch (e) {
        clearTimeout(timer);
        if (!expired) controller.error(e);
      }
    },
    cancel(reason) {
      clearTimeout(timer);
      return source.cancel(reason);
    },
  });
  return {
    req: new Request(req, { body, duplex: "half" } as RequestInit),
    timedOut: () => expired,
  };
}

/** Ends a request whose body has not arrived within `ms` with 408. */
export function bodyDeadline(ms: number): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    let timedOut = () => false;
    if (c.req.raw.body) {
      const limited = withBodyDeadline(c.req.raw, ms);
      c.req.raw = limited.req;
      timedOut = limited.timedOut;
    }
    await next();
    if (timedOut()) {
      c.res = c.json({
        error: { code: "request_timeout", message: "The request body did not arrive in time" },
      }, 408);
    }
  };
}
