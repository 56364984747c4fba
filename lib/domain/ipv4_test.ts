import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { intToIpv4, ipInPrefix, ipv4ToInt } from "./ipv4.ts";

Deno.test("ipInPrefix() checks IPv4 containment", () => {
  assertEquals(ipInPrefix("10.16.28.40", "10.16.28.0/24"), true);
  assertEquals(ipInPrefix("10.16.29.1", "10.16.28.0/24"), false);
  assertEquals(ipInPrefix("172.16.3.200", "172.16.0.0/22"), true);
  assertEquals(ipInPrefix("172.16.4.1", "172.16.0.0/22"), false);
});

Deno.test("ipInPrefix() takes the address first, and is false for what is not IPv4", () => {
  assertEquals(ipInPrefix("10.16.28.0/24", "10.16.28.40"), false);
  assertEquals(ipInPrefix("10.16.28.256", "10.16.28.0/24"), false);
  assertEquals(ipInPrefix("10.16.28.40", "10.16.28.0/33"), false);
  assertEquals(ipInPrefix("10.16.28.40", "0.0.0.0/0"), true);
});

Deno.test("ipv4ToInt() and intToIpv4() round-trip and refuse junk", () => {
  assertEquals(ipv4ToInt("255.255.255.255"), 0xffffffff);
  assertEquals(intToIpv4(ipv4ToInt("10.16.28.40")), "10.16.28.40");
  let thrown = false;
  try {
    ipv4ToInt("10.16.28");
  } catch {
    thrown = true;
  }
  assertEquals(thrown, true);
});
