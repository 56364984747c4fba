/** Tests of `deno task import` (scripts/import.ts) against an in-test import WebSocket server. */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { type ImportIo, importSocketUrl, runImport } from "../scripts/import.ts";

const ITEMS = [
  {
    device_name: "dcoa-rb06u31",
    bmc_mac: "3c:ec:ef:a1:9c:e8",
    bmc_password: "S3cr3t!pass",
    bmc_ip: "10.16.28.31",
  },
  {
    device_name: "dcoa-rb06u32",
    bmc_mac: "3C-EC-EF-A1-9C-E9",
    bmc_password: "An0ther-pass",
    bmc_ip: "10.16.28.32",
    bmc_username: "root",
  },
];

type Send = (msg: unknown) => void;
interface Seen {
  authorization: string | null;
  url: string;
  received: unknown[];
}

/** A server speaking the import WebSocket protocol; `script` decides what it answers. */
function importServer(script: (items: unknown[], send: Send, close: () => void) => void) {
  const seen: Seen = { authorization: null, url: "", received: [] };
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname !== "/api/v1/servers/import/ws") return new Response("nope", { status: 404 });
    seen.authorization = req.headers.get("authorization");
    seen.url = req.url;
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => {
      const items = JSON.parse(String(e.data));
      seen.received = items;
      script(items, (msg) => socket.send(JSON.stringify(msg)), () => socket.close(1011, "boom"));
    };
    return response;
  });
  return {
    seen,
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** Answers every item with a full step sequence; items named in `fail` fail at Kea. */
function happy(fail: string[] = []) {
  return (items: unknown[], send: Send) => {
    items.forEach((raw, index) => {
      const item = raw as { device_name: string; bmc_ip: string };
      const failed = fail.includes(item.device_name);
      for (const step of ["netbox", "openbao", "kea"]) {
        send({ type: "step", index, device_name: item.device_name, step, status: "running" });
      }
      send({
        type: "result",
        index,
        device_name: item.device_name,
        status: failed ? "failed" : "ok",
        steps: {
          netbox: "skipped",
          openbao: "done",
          kea: failed ? "failed" : "done",
          metal3: failed ? "pending" : "done",
        },
        warnings: ["Netbox step skipped: no Netbox fields"],
        ...(failed ? { error: "Kea refused the reservation: 10.16.28.32 already reserved" } : {}),
        bmc_ip: item.bmc_ip,
      });
    });
    const failedCount =
      items.filter((i) => fail.includes((i as { device_name: string }).device_name))
        .length;
    send({ type: "done", done: true, ok: items.length - failedCount, failed: failedCount });
  };
}

function fakeIo(
  files: Record<string, string> = {},
  env: Record<string, string> = {},
  options: { stdin?: string; terminal?: boolean } = {},
) {
  const io = {
    out: "",
    err: "",
    readStdin: () => Promise.resolve(options.stdin ?? ""),
    readFile: (path: string) =>
      path in files ? Promise.resolve(files[path]) : Promise.reject(new Error("No such file")),
    stdout(t: string) {
      io.out += t;
    },
    stderr(t: string) {
      io.err += t;
    },
    stderrIsTerminal: options.terminal ?? false,
    env: (name: string) => env[name],
    progressIntervalMs: 0,
  } satisfies ImportIo & { out: string; err: string };
  return io;
}

function assertStringIncludes(text: string, part: string) {
  assert(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

function assertNoPasswords(text: string) {
  for (const item of ITEMS) assert(!text.includes(item.bmc_password), "a password was printed");
}

Deno.test("importSocketUrl() maps the server URL to the import WebSocket", () => {
  assertEquals(
    importSocketUrl("https://onboarding.example.org/", 4),
    "wss://onboarding.example.org/api/v1/servers/import/ws?concurrency=4",
  );
  assertEquals(
    importSocketUrl("http://10.0.0.5:8000/onboarding"),
    "ws://10.0.0.5:8000/onboarding/api/v1/servers/import/ws",
  );
});

Deno.test("runImport() imports over the WebSocket and reports per server", async (t) => {
  await t.step("sends the array with the bearer token and prints a table", async () => {
    await using server = importServer(happy());
    const io = fakeIo({ "servers.json": JSON.stringify(ITEMS) });
    const code = await runImport(
      ["servers.json", "--server", server.url, "--token", "tok-123", "--concurrency", "3"],
      io,
    );
    assertEquals(code, 0, io.err);
    assertEquals(server.seen.authorization, "Bearer tok-123");
    assertEquals(new URL(server.seen.url).searchParams.get("concurrency"), "3");
    assertEquals(server.seen.received, ITEMS);
    const lines = io.out.trim().split("\n");
    assertEquals(lines[0].split(/\s+/), ["name", "status", "bmc_ip", "steps", "error"]);
    assertStringIncludes(lines[1], "dcoa-rb06u31");
    assertStringIncludes(lines[1], "ok");
    assertStringIncludes(lines[1], "10.16.28.31");
    assertStringIncludes(lines[1], "openbao:done kea:done metal3:done");
    assertStringIncludes(lines[2], "dcoa-rb06u32");
    assertStringIncludes(io.out, "Warnings:");
    assertStringIncludes(io.err, "Import finished: 2 ok, 0 failed.");
    assert(!io.err.includes("tok-123") && !io.out.includes("tok-123"), "the token was printed");
    assertNoPasswords(io.out + io.err);
  });

  await t.step("takes server and token from the environment", async () => {
    await using server = importServer(happy());
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) }, {
      ONBOARDING_SERVER: server.url,
      ONBOARDING_TOKEN: "env-token",
    });
    assertEquals(await runImport(["s.json"], io), 0, io.err);
    assertEquals(server.seen.authorization, "Bearer env-token");
    assertEquals(new URL(server.seen.url).search, "");
  });

  await t.step("reads stdin for '-' and sends no Authorization without a token", async () => {
    await using server = importServer(happy());
    const io = fakeIo({}, {}, { stdin: JSON.stringify(ITEMS) });
    assertEquals(await runImport(["-", "--server", server.url], io), 0, io.err);
    assertEquals(server.seen.authorization, null);
    assertEquals(server.seen.received, ITEMS);
  });

  await t.step("exits 1 when a server failed and shows its error", async () => {
    await using server = importServer(happy(["dcoa-rb06u32"]));
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--server", server.url], io), 1);
    const failedLine = io.out.split("\n").find((l) => l.startsWith("dcoa-rb06u32"))!;
    assertStringIncludes(failedLine, "failed");
    assertStringIncludes(failedLine, "Kea refused the reservation");
    assertStringIncludes(io.err, "Import finished: 1 ok, 1 failed.");
  });

  await t.step("--json prints the results array in input order", async () => {
    await using server = importServer((items, send) => {
      // Results arrive in completion order, not input order.
      for (const index of [1, 0]) {
        const name = (items[index] as { device_name: string }).device_name;
        send({ type: "result", index, device_name: name, status: "ok", steps: {}, warnings: [] });
      }
      send({ type: "done", done: true, ok: 2, failed: 0 });
    });
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--server", server.url, "--json"], io), 0, io.err);
    const results = JSON.parse(io.out);
    assertEquals(results.map((r: { index: number }) => r.index), [0, 1]);
    assertEquals(results[0], {
      index: 0,
      device_name: "dcoa-rb06u31",
      status: "ok",
      steps: {},
      warnings: [],
    });
  });

  await t.step("exits 1 when the connection breaks before done", async () => {
    await using server = importServer((_items, send, close) => {
      send({ type: "result", index: 0, device_name: "dcoa-rb06u31", status: "ok", steps: {} });
      close();
    });
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--server", server.url], io), 1);
    assertStringIncludes(io.err, "Import incomplete");
    assertStringIncludes(io.err, "1 of 2 results received; 1 servers have an unknown outcome");
    assertStringIncludes(io.out, "dcoa-rb06u31");
  });

  await t.step("shows the server's error message and exits 1", async () => {
    await using server = importServer((_items, send, close) => {
      send({ type: "error", error: { code: "import_failed", message: "KV is unavailable" } });
      close();
    });
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--server", server.url], io), 1);
    assertStringIncludes(io.err, "Import incomplete: KV is unavailable");
  });

  await t.step("reports a refused upgrade with its status", async () => {
    await using server = importServer(happy());
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--server", `${server.url}/elsewhere`], io), 1);
    assertStringIncludes(io.err, "404");
    assertStringIncludes(io.err, "nothing was sent");
  });

  await t.step("exits 1 when nothing listens", async () => {
    const listener = Deno.listen({ port: 0, hostname: "127.0.0.1" });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--server", `http://127.0.0.1:${port}`], io), 1);
    assertStringIncludes(io.err, "Import incomplete");
    assertStringIncludes(io.err, "nothing was sent");
  });

  await t.step("never prints a password the server echoes back", async () => {
    await using server = importServer((_items, send) => {
      send({
        type: "result",
        index: 0,
        device_name: "dcoa-rb06u31",
        status: "failed",
        steps: {},
        error: "BMC rejected password S3cr3t!pass",
      });
      send({ type: "result", index: 1, device_name: "dcoa-rb06u32", status: "ok", steps: {} });
      send({ type: "done", done: true, ok: 1, failed: 1 });
    });
    for (const json of [false, true]) {
      const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
      const args = ["s.json", "--server", server.url, ...(json ? ["--json"] : [])];
      assertEquals(await runImport(args, io), 1);
      assertStringIncludes(io.out, "BMC rejected password ***");
      assertNoPasswords(io.out + io.err);
    }
  });
});

Deno.test("runImport() shows progress on stderr", async (t) => {
  await t.step("plain lines when stderr is not a terminal", async () => {
    await using server = importServer(happy());
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    await runImport(["s.json", "--server", server.url], io);
    assertStringIncludes(io.err, "Progress: 2/2 done, 2 ok, 0 failed\n");
    assert(!io.err.includes("\r"), "a plain log must not redraw lines");
  });

  await t.step("a redrawn bar on a terminal", async () => {
    await using server = importServer(happy());
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) }, {}, { terminal: true });
    await runImport(["s.json", "--server", server.url], io);
    assertStringIncludes(io.err, "\r\x1b[K[");
    assertStringIncludes(io.err, "Progress: 2/2 done, 2 ok, 0 failed\n");
  });
});

Deno.test("runImport() --dry-run validates locally without contacting anything", async (t) => {
  await t.step("all valid: exit 0, shows what would be sent without passwords", async () => {
    const io = fakeIo({ "s.json": JSON.stringify(ITEMS) });
    assertEquals(await runImport(["s.json", "--dry-run"], io), 0, io.err);
    assertStringIncludes(io.out, "3c:ec:ef:a1:9c:e9"); // canonicalised as it would be stored
    assertStringIncludes(io.out, "10.16.28.32");
    assertStringIncludes(io.err, "2 of 2 servers valid, 0 invalid; nothing sent");
    assertNoPasswords(io.out + io.err);
  });

  await t.step("invalid rows: per-row field errors and exit 1", async () => {
    const items = [
      ITEMS[0],
      { device_name: "Bad_Name", bmc_mac: "01:00:5e:00:00:01", bmc_password: "x" },
      { device_name: "dcoa-rb06u33", bmc_mac: "3c:ec:ef:a1:9c:ea" },
    ];
    const io = fakeIo({ "s.json": JSON.stringify(items) });
    assertEquals(await runImport(["s.json", "--dry-run"], io), 1);
    const row2 = io.out.split("\n").find((l) => l.startsWith("2 "))!;
    assertStringIncludes(row2, "invalid");
    assertStringIncludes(row2, "device_name: The device name must be lower-case");
    assertStringIncludes(row2, "bmc_mac: A multicast MAC cannot be a BMC address");
    const row3 = io.out.split("\n").find((l) => l.startsWith("3 "))!;
    assertStringIncludes(row3, "bmc_password: Required");
    assertStringIncludes(io.err, "1 of 3 servers valid, 2 invalid");
  });

  await t.step("the original system's example: an empty tenant is not given", async () => {
    const original = await Deno.readTextFile(
      new URL("./testdata/original/import-example.json", import.meta.url),
    );
    const withExtra = JSON.stringify([{ ...JSON.parse(original)[0], rack_label: "A7" }]);
    for (
      const [text, warnings] of [[original, []], [withExtra, [
        "Unknown fields ignored: rack_label",
      ]]]
    ) {
      const io = fakeIo({ "s.json": text as string });
      assertEquals(await runImport(["s.json", "--dry-run", "--json"], io), 0, io.out);
      const [row] = JSON.parse(io.out);
      assertEquals([row.status, row.netbox, row.item.tenant, row.warnings], [
        "valid",
        true,
        undefined,
        warnings,
      ]);
    }
  });

  await t.step("--json gives per-row results", async () => {
    const items = [ITEMS[0], { device_name: "x", bmc_mac: "zz", bmc_password: "S3cr3t!pass" }];
    const io = fakeIo({ "s.json": JSON.stringify(items) });
    assertEquals(await runImport(["s.json", "--dry-run", "--json"], io), 1);
    const rows = JSON.parse(io.out);
    assertEquals(rows[0].status, "valid");
    assertEquals(rows[0].item.bmc_password, undefined);
    assertEquals(rows[1].status, "invalid");
    assertEquals(Object.keys(rows[1].errors), ["bmc_mac"]);
    assertNoPasswords(io.out);
  });
});

Deno.test("runImport() exits 2 on bad usage or a bad input file", async (t) => {
  const cases: [string, string[], Record<string, string>, string][] = [
    ["no input", ["--server", "http://x"], {}, "exactly one input"],
    ["unknown option", ["s.json", "--bogus"], { "s.json": "[]" }, "bogus"],
    [
      "no server",
      ["s.json"],
      { "s.json": JSON.stringify(ITEMS) },
      "--server is required (or set ONBOARDING_SERVER)",
    ],
    ["bad server", ["s.json", "--server", "ftp://x"], { "s.json": "[1]" }, "http(s) URL"],
    ["bad concurrency", ["s.json", "--dry-run", "--concurrency", "0"], {}, "--concurrency"],
    ["missing file", ["nope.json", "--dry-run"], {}, "Cannot read nope.json"],
    ["not JSON", ["s.json", "--dry-run"], { "s.json": "{oops" }, "s.json is not JSON"],
    ["not an array", ["s.json", "--dry-run"], { "s.json": '{"a":1}' }, "JSON array"],
    ["empty array", ["s.json", "--dry-run"], { "s.json": "[]" }, "holds no servers"],
  ];
  // A file problem is one line; a usage problem names the option and points to --help.
  const fileProblems = ["missing file", "not JSON", "not an array", "empty array"];
  for (const [name, args, files, message] of cases) {
    await t.step(name, async () => {
      const io = fakeIo(files);
      assertEquals(await runImport(args, io), 2);
      assertStringIncludes(io.err, message);
      assert(!io.err.includes("Usage:"), io.err);
      if (fileProblems.includes(name)) assertEquals(io.err.trim().split("\n").length, 1, io.err);
      else assertStringIncludes(io.err, "Run deno task import --help for every option.");
    });
  }
});

Deno.test("runImport() --help describes every option with an example", async () => {
  const io = fakeIo();
  assertEquals(await runImport(["--help"], io), 0);
  for (const option of ["--server", "--token", "--concurrency", "--dry-run", "--json", "--help"]) {
    assertStringIncludes(io.out, option);
  }
  assertStringIncludes(io.out, "e.g. --server https://");
  assertStringIncludes(io.out, "Examples:\n  deno task import servers.json");
});

Deno.test("scripts/import.ts run as a command: exit code, stdout and stderr", async () => {
  await using server = importServer(happy(["dcoa-rb06u32"]));
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/servers.json`;
    await Deno.writeTextFile(file, JSON.stringify(ITEMS));
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        new URL("../scripts/import.ts", import.meta.url).pathname,
        file,
        "--json",
      ],
      env: { ONBOARDING_SERVER: server.url, ONBOARDING_TOKEN: "cli-token", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 1, stderr);
    assertEquals(server.seen.authorization, "Bearer cli-token");
    assertEquals(JSON.parse(stdout).map((r: { status: string }) => r.status), ["ok", "failed"]);
    assertStringIncludes(stderr, "Import finished: 1 ok, 1 failed.");
    assertNoPasswords(stdout + stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
