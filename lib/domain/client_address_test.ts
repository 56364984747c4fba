import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { clientAddress, inNetworks, type Network, parseNetwork } from "./client_address.ts";

const nets = (...cidrs: string[]) => cidrs.map((c) => parseNetwork(c)!) as Network[];

Deno.test("parseNetwork() and inNetworks() handle IPv4, IPv6 and IPv4-mapped addresses", () => {
  for (const bad of ["10.0.0.0/33", "10.0.0", "fd00::/129", "1.2.3.4/8/1", "::1::2", "x"]) {
    assertEquals(parseNetwork(bad), null, bad);
  }
  const list = nets("10.42.0.0/16", "fd00::/8", "192.0.2.7");
  assertEquals(
    ["10.42.255.1", "10.43.0.1", "fd12::1", "fe80::1", "::ffff:10.42.0.5", "192.0.2.7", "192.0.2.8"]
      .map((ip) => inNetworks(ip, list)),
    [true, false, true, false, true, true, false],
  );
});

Deno.test("clientAddress() believes X-Forwarded-For only from trusted proxies, from the right", () => {
  const trusted = nets("10.0.0.0/8");
  assertEquals(clientAddress("198.51.100.1", "127.0.0.1", trusted), "198.51.100.1");
  assertEquals(clientAddress("10.0.0.7", "127.0.0.1, 203.0.113.9", trusted), "203.0.113.9");
  assertEquals(clientAddress("10.0.0.7", "203.0.113.9, 10.0.0.3", trusted), "203.0.113.9");
  assertEquals(clientAddress("10.0.0.7", "10.0.0.3", trusted), "10.0.0.3");
  assertEquals(clientAddress("10.0.0.7", "junk", trusted), "10.0.0.7");
  assertEquals(clientAddress(undefined, "203.0.113.9", trusted), "local");
});
