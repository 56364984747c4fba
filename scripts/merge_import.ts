/** `deno task merge-import servers.yaml bmc-reservations.json`: joins a YAML device list with Kea
 * BMC reservations into import JSON for `deno task import` (SPEC §8). */
import { cannotRead, parseCommandLine } from "../lib/domain/cli.ts";
import {
  DEFAULT_PREFIXES,
  DEFAULT_SUFFIXES,
  hasErrors,
  mergeImport,
  OVERRIDE_FIELDS,
} from "../lib/domain/merge_import.ts";

const USAGE = `Usage: deno task merge-import DEVICES.yaml RESERVATIONS.json [options]

Reads a YAML list of devices (device_name, bmc_password and any other import field, which
overrides what the reservation gives) and Kea reservations (a JSON list, {"reservations": [...]},
or a whole Kea config with comments), matches them by hostname and prints import JSON
(device_name, bmc_mac, bmc_password, bmc_ip, overrides). Import fields:
  ${OVERRIDE_FIELDS.join(", ")}

A reservation hostname matches a device when, compared case-insensitively, it equals the device
name after removing a domain suffix and, if needed, one name prefix and/or one name suffix. A
short device name (ra07u01) also matches a hostname that adds a prefix such as the site
(dcoa-ra07u01-bmc.bmc.example.org); the import then uses Kea's full name (dcoa-ra07u01) unless
--names yaml is given. A short name that matches two hosts is an error, never a guess.

Options:
  --domain SUFFIX   domain removed from hostnames, e.g. .bmc.platform.sunet.se (repeatable; the
                    longest that fits is used). Default: none, the hostname's first label is used.
  --prefix PREFIX   name prefix of BMC hostnames, e.g. bmc- (repeatable).
                    Default: ${DEFAULT_PREFIXES.join(", ")}. --prefix '' turns prefixes off.
  --suffix SUFFIX   name suffix of BMC hostnames, e.g. -ipmi (repeatable).
                    Default: ${DEFAULT_SUFFIXES.join(", ")}. --suffix '' turns suffixes off.
  --names kea|yaml  the device name emitted for a short name: Kea's full name (default) or the
                    name as written in the YAML list, e.g. --names yaml
  --output FILE     write the JSON to FILE instead of stdout, e.g. --output servers.json
  --verbose         list every reservation that matched no device
  -h, --help        show this help

Examples:
  deno task merge-import devices.yaml kea-dhcp4.conf --domain .bmc.example.org -o servers.json
  deno task merge-import devices.yaml reservations.json | deno task import - --dry-run

An exact name match always wins over a match through a prefix or suffix.
Problems go to stderr. Exit codes: 0 merged without errors; 1 errors (missing password,
duplicate device or reservation, ambiguous short name, device with neither reservation nor
bmc_mac, unusable MAC, invalid item; the valid devices are still written); 2 bad usage or
unreadable input.`;

/** Where the command reads and writes; tests run it as a subprocess, this keeps it one place. */
interface MergeIo {
  readFile(path: string): Promise<string>;
  writeFile(path: string, text: string): Promise<void>;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Runs the command and returns its exit code. */
export async function runMergeImport(args: string[], io: MergeIo): Promise<number> {
  const parsed = parseCommandLine(args, {
    domain: { type: "string", multiple: true },
    prefix: { type: "string", multiple: true },
    suffix: { type: "string", multiple: true },
    names: { type: "string", default: "kea" },
    output: { type: "string", short: "o" },
    verbose: { type: "boolean", short: "v", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (!parsed.ok) {
    io.stderr(`${parsed.error}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(USAGE + "\n");
    return 0;
  }
  if (positionals.length !== 2) {
    io.stderr(`Give two files: the YAML device list and the Kea reservations\n\n${USAGE}\n`);
    return 2;
  }
  const names = values.names;
  if (names !== "kea" && names !== "yaml") {
    io.stderr(`--names must be kea or yaml, not '${names}'\n\n${USAGE}\n`);
    return 2;
  }
  const [devicesPath, keaPath] = positionals;
  const texts: string[] = [];
  for (const path of positionals) {
    try {
      texts.push(await io.readFile(path));
    } catch (e) {
      io.stderr(`${cannotRead(path, e)}\n`);
      return 2;
    }
  }

  const result = mergeImport(texts[0], texts[1], {
    domains: values.domain ?? [],
    prefixes: values.prefix ?? DEFAULT_PREFIXES,
    suffixes: values.suffix ?? DEFAULT_SUFFIXES,
    names,
  });
  // An unreadable file is bad input (2), not a merge problem (1).
  const unreadable = result.problems.find((p) =>
    p.kind === "invalid_yaml" || p.kind === "invalid_kea"
  );
  if (unreadable) {
    io.stderr(
      `${unreadable.kind === "invalid_yaml" ? devicesPath : keaPath}: ${unreadable.message}\n`,
    );
    return 2;
  }

  for (const p of result.problems) io.stderr(`${p.severity}: ${p.message}\n`);
  const unmatched = result.unmatchedReservations;
  if (values.verbose) {
    for (const r of unmatched) {
      io.stderr(
        `unmatched reservation: ${r.hostname ?? "(no hostname)"} ${r.mac ?? "(no hw-address)"} → ${
          r.ip ?? "(no ip)"
        }\n`,
      );
    }
  }
  const errors = result.problems.filter((p) => p.severity === "error").length;
  io.stderr(
    `Merged ${result.items.length} devices from ${devicesPath} with ${keaPath}; ${errors} error${
      errors === 1 ? "" : "s"
    }; ${unmatched.length} reservation${unmatched.length === 1 ? "" : "s"} matched no device${
      unmatched.length && !values.verbose ? " (--verbose lists them)" : ""
    }\n`,
  );

  const json = JSON.stringify(result.items, null, 2) + "\n";
  if (values.output) {
    try {
      await io.writeFile(values.output, json);
    } catch (e) {
      io.stderr(`Cannot write ${values.output}: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
  } else {
    io.stdout(json);
  }
  return hasErrors(result) ? 1 : 0;
}

/** Writes all of `text` (writeSync may write only part of a large buffer). */
function writeAll(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let data = new TextEncoder().encode(text);
  while (data.length) data = data.subarray(file.writeSync(data));
}

if (import.meta.main) {
  const code = await runMergeImport(Deno.args, {
    readFile: (path) => Deno.readTextFile(path),
    // Owner-only: the file holds BMC passwords.
    writeFile: (path, text) => Deno.writeTextFile(path, text, { mode: 0o600 }),
    stdout: (t) => writeAll(Deno.stdout, t),
    stderr: (t) => writeAll(Deno.stderr, t),
  });
  Deno.exit(code);
}
