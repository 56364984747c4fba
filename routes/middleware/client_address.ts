/** Sets `clientAddress`: the socket peer, or the client a trusted proxy names in X-Forwarded-For. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../app_types.ts";
import { clientAddress, type Network } from "../../lib/domain/client_address.ts";

export function clientAddressOf(trustedProxies: Network[]): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const peer = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr;
    c.set(
      "clientAddress",
      clientAddress(peer?.hostname, c.req.header("x-forwarded-for"), trustedProxies),
    );
    await next();
  };
}
