import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { type Elevation, nextFree, suggestPosition } from "./rack_elevation.tsx";

const rack: Elevation = {
  rack: { id: 1, name: "RB06", u_height: 10 },
  units: [
    { position: 3, device: { id: 1, name: "dcoa-rb06u3" } },
    { position: 12 },
    { position: 6, device: { id: 2, name: "dcoa-rb06u6" } },
    { position: 7, device: { id: 2, name: "dcoa-rb06u6" } },
  ],
};

Deno.test("suggestPosition() proposes the next free unit above the last one used in the rack", () => {
  assertEquals(suggestPosition(rack, 1, { position: 5, height: 1 }), 8);
  assertEquals(suggestPosition(rack, 1, { position: 3, height: 1 }), 4);
  assertEquals(suggestPosition(rack, 2, { position: 3, height: 1 }), 4);
  assertEquals(suggestPosition(rack, 3, { position: 3, height: 1 }), 8);
  // Nothing above (the top is full or too low): the lowest free unit.
  assertEquals(suggestPosition(rack, 1, { position: 10, height: 1 }), 1);
  assertEquals(suggestPosition(rack, 1, null), 1);
});

Deno.test("nextFree() steps over occupied units and stops at the rack's ends", () => {
  assertEquals(nextFree(rack, 3, 1, 1), 4);
  assertEquals(nextFree(rack, 7, 1, -1), 5);
  assertEquals(nextFree(rack, 10, 2, 1), null);
});
