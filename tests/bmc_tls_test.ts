/**
 * The BMC check over real TLS: an untrusted certificate is reported as such, with its cause; and
 * what README "BMC certificates" claims about DENO_CERT holds (each claim run in a Deno process of
 * its own, since DENO_CERT is read at start-up).
 */
import assert from "node:assert/strict";
import { createRedfishClient } from "../lib/integrations/redfish.ts";
import { createFakeRedfish } from "../sim/redfish/mod.ts";

const PASSWORD = "Zk4-label-p4ss";
const openssl = (() => {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** A CA, a certificate it issued for 127.0.0.1, one it issued without the IP, and two
 * self-signed ones: `CA:TRUE` (openssl's default, as many BMCs ship) and `CA:FALSE`. */
async function certificates(dir: string) {
  const req = ["req", "-newkey", "rsa:2048", "-nodes", "-days", "2"];
  await run("openssl", [
    ...req,
    "-x509",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    "/CN=BMC CA",
  ], dir);
  await run(
    "openssl",
    [...req, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=bmc"],
    dir,
  );
  await Deno.writeTextFile(
    `${dir}/ip.cnf`,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  await Deno.writeTextFile(`${dir}/noip.cnf`, "basicConstraints=CA:FALSE\n");
  for (const [out, ext] of [["issued.pem", "ip.cnf"], ["issued-noip.pem", "noip.cnf"]]) {
    await run("openssl", [
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-out",
      out,
      "-extfile",
      ext,
    ], dir);
  }
  const selfSigned = (name: string, ca: string) =>
    run("openssl", [
      ...req,
      "-x509",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.pem`,
      "-subj",
      "/CN=bmc",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-addext",
      `basicConstraints=critical,${ca}`,
    ], dir);
  await selfSigned("self-ca", "CA:TRUE");
  await selfSigned("self-leaf", "CA:FALSE");
}

/** Serves a Redfish BMC over TLS with the given certificate; `using` stops it. */
function serveBmc(dir: string, cert: string, key: string) {
  const fake = createFakeRedfish({ username: "ADMIN", password: PASSWORD });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(`${dir}/${cert}`),
    key: Deno.readTextFileSync(`${dir}/${key}`),
    onListen() {},
    onError: () => new Response(null, { status: 500 }),
  }, fake.handler);
  return { port: server.addr.port, [Symbol.asyncDispose]: () => server.shutdown() };
}

/** The check's outcome and message from a separate Deno process with these flags and DENO_CERT. */
async function checkInProcess(port: number, flags: string[], denoCert?: string) {
  const code = `
    const { createRedfishClient } = await import(${
    JSON.stringify(new URL("../lib/integrations/redfish.ts", import.meta.url).href)
  });
    const check = await createRedfishClient({ port: ${port} })
      .checkBmc({ host: "127.0.0.1", username: "ADMIN", password: ${JSON.stringify(PASSWORD)} });
    console.log(JSON.stringify({ outcome: check.outcome, message: check.message ?? "" }));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", ...flags, code],
    env: denoCert ? { DENO_CERT: denoCert } : {},
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(text.split("\n").at(-1)!) as { outcome: string; message: string };
}

Deno.test({
  name:
    "checkBmc() over TLS: an untrusted certificate says so, and DENO_CERT trusts what README says",
  ignore: !openssl,
}, async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await certificates(dir);

    await t.step("a certificate from an unknown CA: not trusted, UnknownIssuer", async () => {
      await using bmc = serveBmc(dir, "issued.pem", "leaf.key");
      const check = await createRedfishClient({ port: bmc.port })
        .checkBmc({ host: "127.0.0.1", username: "ADMIN", password: PASSWORD });
      assert.equal(check.outcome, "unreachable");
      assert.match(
        "message" in check ? check.message : "",
        /^The BMC's certificate is not trusted: invalid peer certificate: UnknownIssuer \(at 127\.0\.0\.1\): give the BMC a certificate from a CA in DENO_CERT/,
      );
    });

    const cases: [string, string, string, string[], string | undefined, RegExp][] = [
      [
        "issued by the CA in DENO_CERT, IP in its names: ok",
        "issued.pem",
        "leaf.key",
        [],
        "ca.pem",
        /^ok$/,
      ],
      [
        "issued by the CA in DENO_CERT without the IP in its names: refused",
        "issued-noip.pem",
        "leaf.key",
        [],
        "ca.pem",
        /not trusted: .*not valid for name "127\.0\.0\.1"/,
      ],
      [
        "self-signed CA:TRUE, itself in DENO_CERT: refused (CaUsedAsEndEntity)",
        "self-ca.pem",
        "self-ca.key",
        [],
        "self-ca.pem",
        /not trusted: .*CaUsedAsEndEntity/,
      ],
      [
        "self-signed CA:FALSE with the IP, itself in DENO_CERT: ok",
        "self-leaf.pem",
        "self-leaf.key",
        [],
        "self-leaf.pem",
        /^ok$/,
      ],
      [
        "self-signed CA:TRUE with --unsafely-ignore-certificate-errors=127.0.0.1: ok",
        "self-ca.pem",
        "self-ca.key",
        ["--unsafely-ignore-certificate-errors=127.0.0.1"],
        undefined,
        /^ok$/,
      ],
    ];
    for (const [name, cert, key, flags, denoCert, expected] of cases) {
      await t.step(name, async () => {
        await using bmc = serveBmc(dir, cert, key);
        const got = await checkInProcess(bmc.port, flags, denoCert && `${dir}/${denoCert}`);
        assert.match(got.outcome === "ok" ? "ok" : got.message, expected, JSON.stringify(got));
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
