/** `deno task drift [--repair] [--latest] [--server NAME] [--strict] [--force]`: checks (and
 * repairs) drift between the service's records and Netbox, OpenBao, Kea and Metal3 through
 * `/api/v1/drift`, or reads the latest check the service stored. */
import { parseArgs } from "node:util";
import {
  callService,
  processIo,
  type ServiceIo,
  serviceOptions,
  serviceTarget,
  startServiceScript,
  UsageError,
} from "../lib/domain/cli.ts";
import type {
  DriftReport as Report,
  DriftView,
  Finding,
  RepairResult,
} from "../lib/domain/drift.ts";

const USAGE = `Usage: deno task drift [options]

Compares what the service created for each server with what Netbox, OpenBao, every Kea server and
Kubernetes hold now, and prints each difference: system, kind, server, expected, found, repair.
Objects that look like ours but have no record are listed as unknown and never touched.

Options:
  --repair             repair what can be repaired (re-runs the step that owns each object),
                       then check again
  --force              with --repair: also put back values a person changed in Netbox
                       (device name/site/rack/U, the bmc interface MAC, the OOB IP); needs an
                       administrator's token
  --latest             print the latest check the service stored (its background check every
                       ONBOARDING_DRIFT_INTERVAL seconds, or the last one started) instead of
                       checking now: quick at any scale; the report says when it was taken
  --server NAME        check (and repair) this server only (device name)
  --strict             unknown objects count as drift for the exit code
  --json               print the report as JSON instead of a table
  --url URL            onboarding service URL (default: $ONBOARDING_SERVER)
  --token TOKEN        bearer token (default: $ONBOARDING_TOKEN)
  -h, --help           show this help

Examples:
  deno task drift --url https://onboarding.example.org
  deno task drift --latest --json
  deno task drift --server dcoa-rb06u31 --repair
  deno task drift --repair --force --strict

Exit codes: 0 no drift (after --repair: everything repairable was repaired), 1 drift,
2 could not check (service unreachable, a system unreadable, bad usage).`;

export type DriftIo = ServiceIo;

/** Runs the command and returns its exit code. */
export async function runDrift(args: string[], io: DriftIo): Promise<number> {
  const started = startServiceScript(io, USAGE, () => parseOptions(args, io));
  if ("code" in started) return started.code;
  const { opts, out, err } = started;
  const call = async (path: string, init: RequestInit = {}) => {
    const { status, body } = await callService(io, opts, path, {
      ...init,
      headers: { "content-type": "application/json" },
    });
    if (status !== 200) {
      throw new Error(`${path}: ${body?.error?.message ?? `HTTP ${status}`}`);
    }
    return body;
  };
  let report: Report;
  try {
    if (opts.repair) {
      const body = await call("/drift/repair", {
        method: "POST",
        body: JSON.stringify({
          ...(opts.server ? { server: opts.server } : {}),
          force: opts.force,
        }),
      });
      for (const r of body.results as RepairResult[]) {
        err(`${r.outcome}\t${r.server}\t${r.kind}\t${r.message}\n`);
      }
      report = body.report;
    } else {
      const server: Record<string, string> = opts.server ? { server: opts.server } : {};
      // A check now (stored when full), or the latest stored; its findings a page at a time.
      let view: DriftView = opts.latest
        ? await call(`/drift?${new URLSearchParams({ ...server, limit: "1000" })}`)
        : await call("/drift/check", { method: "POST", body: JSON.stringify(server) });
      const findings: Finding[] = [...view.findings];
      while (view.cursor) {
        const next = new URLSearchParams({ ...server, limit: "1000", cursor: view.cursor });
        view = await call(`/drift?${next}`);
        findings.push(...view.findings);
      }
      report = { ...view, findings };
      if (opts.latest) err(`Latest check: ${report.checked_at}\n`);
    }
  } catch (e) {
    err(`Could not check: ${(e as Error).message}\n`);
    return 2;
  }
  if (opts.json) out(JSON.stringify(report, null, 2) + "\n");
  else {
    for (const f of report.findings) {
      out(
        [f.system, f.kind, f.server, `expected: ${f.expected}`, `found: ${f.found}`, f.repair]
          .join("\t") + "\n",
      );
    }
  }
  for (const e of report.errors) err(`Could not check ${e.system}: ${e.message}\n`);
  const unknown = report.findings.filter((f) => f.unknown).length;
  // After a repair, what is left and could not be repaired anyway does not count.
  const counted = report.findings.filter((f) =>
    (!f.unknown || opts.strict) &&
    (!opts.repair || f.unknown || (f.step && (!f.needs_force || opts.force)))
  );
  err(
    `${report.servers} server(s) checked: ${report.findings.length - unknown} drift finding(s), ` +
      `${unknown} unknown object(s)\n`,
  );
  if (report.errors.length) return 2;
  return counted.length ? 1 : 0;
}

function parseOptions(args: string[], io: DriftIo) {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        repair: { type: "boolean", default: false },
        force: { type: "boolean", default: false },
        server: { type: "string" },
        strict: { type: "boolean", default: false },
        latest: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        ...serviceOptions,
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return { help: true as const, url: "" };
  if (values.force && !values.repair) throw new UsageError("--force goes with --repair");
  if (values.latest && values.repair) {
    throw new UsageError("--latest reads the stored check; --repair checks afresh: choose one");
  }
  return {
    help: false as const,
    repair: values.repair,
    force: values.force,
    server: values.server,
    strict: values.strict,
    latest: values.latest,
    json: values.json,
    ...serviceTarget(values, io),
  };
}

if (import.meta.main) {
  Deno.exit(await runDrift(Deno.args, processIo));
}
