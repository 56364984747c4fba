/** `deno task migrate-kea`: moves Kea JSON reservations (files or configs) into Kea's PostgreSQL
 * host database (or through the control API), per subnet, idempotently, with a read-back check.
 * `--help` lists the options.
 * Subnets: a Kea config gives each reservation its subnet; for plain lists the subnet is
 * `--subnet-id`, else the subnet (from `config-get` on `--api`, or the config-backend table) whose
 * range holds the IP. Exit code 0 when everything is in place, 1 on conflicts or errors, 2 on
 * usage or connection failures. */
import { parseCommandLine } from "../lib/domain/cli.ts";
import {
  migrateKea,
  type MigrateOptions,
  readReservationFiles,
} from "../lib/integrations/kea/migrate.ts";

const USAGE = `Usage: deno task migrate-kea [options] FILE… (- reads stdin)

Moves Kea JSON reservations (lists, {"reservations": …} or whole Kea configs) into Kea's
PostgreSQL host database, or through control agents that load host_cmds; per subnet,
idempotently, read back after writing.

Options:
  --db URL         Kea's host database, e.g. --db postgres://kea:secret@db.example.org:5432/kea
                   (default: $ONBOARDING_KEA_DB_URL); --db or --api is required, also for --dry-run
  --api URL        a control agent, e.g. --api http://kea1.example.org:8000/ (repeatable): finds
                   each IP's subnet with config-get, and writes when --db is not given (that
                   needs the host_cmds hook)
  --subnet-id N    subnet for reservations whose file does not say, e.g. --subnet-id 1
  --dry-run        show the plan (add, update, unchanged, conflict) and write nothing
  --per-row        one INSERT per reservation instead of batches (slow; for comparison)
  --verbose        also list reservations already in place
  -h, --help       show this help

Examples:
  deno task migrate-kea --db postgres://kea@db.example.org/kea --dry-run kea-dhcp4.conf
  deno task migrate-kea --db postgres://kea@db.example.org/kea --api http://kea1:8000/ bmc.json

Exit codes: 0 everything in place, 1 conflicts or errors, 2 bad usage, unreadable input or no
connection.`;

const HELP_HINT = "Run deno task migrate-kea --help for every option.";

/** CLI entry; writes to the console and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const parsed = parseCommandLine(args, {
    db: { type: "string" },
    api: { type: "string", multiple: true },
    "subnet-id": { type: "string" },
    "dry-run": { type: "boolean", default: false },
    "per-row": { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  });
  if (!parsed.ok) {
    console.error(`migrate-kea: ${parsed.error}\n${HELP_HINT}`);
    return 2;
  }
  const { values, positionals: files } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const options: MigrateOptions = {
    dbUrl: values.db ?? (Deno.env.get("ONBOARDING_KEA_DB_URL") || undefined),
    apiUrls: values.api ?? [],
    dryRun: values["dry-run"],
    perRow: values["per-row"],
  };
  const problem = (message: string) => {
    console.error(`migrate-kea: ${message}\n${HELP_HINT}`);
    return 2;
  };
  if (values["subnet-id"] !== undefined) {
    const n = Number(values["subnet-id"]);
    if (!Number.isInteger(n) || n < 0) {
      return problem(`--subnet-id must be a whole number, not '${values["subnet-id"]}'`);
    }
    options.subnetId = n;
  }
  if (!options.dbUrl && !options.apiUrls!.length) {
    return problem(
      "--db is required (Kea's host database, e.g. --db postgres://kea@db.example.org/kea), " +
        "also for --dry-run; or give --api for control agents with host_cmds",
    );
  }
  if (!files.length) return problem("Give at least one reservation file (or - for stdin)");
  try {
    const input = await readReservationFiles(files);
    const report = await migrateKea(input, {
      ...options,
      log: (line) => {
        if (values.verbose || options.dryRun || !line.startsWith("unchanged")) console.log(line);
      },
    });
    console.log(report.summary);
    return report.ok ? 0 : 1;
  } catch (e) {
    console.error(`migrate-kea: ${(e as Error).message}`);
    return 2;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
