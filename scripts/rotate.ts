/** `deno task rotate --server NAME | --all [--older-than 90d]`: rotates BMC passwords through
 * `POST /api/v1/servers/{id}/rotate-credentials`, a few servers at a time, with progress. */
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

const USAGE = `Usage: deno task rotate (--server NAME | --all) [options]

Replaces BMC passwords with generated ones (README "BMC password rotation"): the new password is
stored in OpenBao, set on the BMC, proven by a login, and written to the Metal3 Secret. A failure
leaves the old password current and is reported with its reason. Needs an administrator's token.

Options:
  --server NAME        rotate this server (device name or registration id)
  --all                rotate every registered server (status ok)
  --older-than AGE     with --all: only servers whose password is older than AGE
                       (e.g. 90d, 12h; age counts from the last rotation, else the registration)
  --concurrency N      servers rotated at the same time (default 4, at most 32)
  --url URL            onboarding service URL (default: $ONBOARDING_SERVER)
  --token TOKEN        bearer token (default: $ONBOARDING_TOKEN)
  -h, --help           show this help

Examples:
  deno task rotate --url https://onboarding.example.org --server dcoa-rb06u31
  deno task rotate --all --older-than 90d --concurrency 8

Exit codes: 0 all rotated, 1 some rotation failed, 2 bad usage.`;

export interface RotateIo extends ServiceIo {
  now?: () => number;
}

interface Server {
  id: string;
  device_name: string;
  status: string;
  created_at: string;
  rotation?: { status: string; at: string; message: string };
}

const MAX_CONCURRENCY = 32;

/** Runs the command and returns its exit code. */
export async function runRotate(args: string[], io: RotateIo): Promise<number> {
  const started = startServiceScript(io, USAGE, () => parseOptions(args, io));
  if ("code" in started) return started.code;
  const { opts, out, err } = started;
  const api: Api = (path, init) => callService(io, opts, path, init);

  let targets: Server[];
  try {
    targets = opts.server ? [await findOne(api, opts.server)] : await listAll(api);
  } catch (e) {
    err(`${(e as Error).message}\n`);
    return 1;
  }
  if (opts.olderThanMs !== undefined) {
    const cutoff = (io.now ?? Date.now)() - opts.olderThanMs;
    targets = targets.filter((s) => {
      const since = s.rotation?.status === "ok" ? s.rotation.at : s.created_at;
      return Date.parse(since) < cutoff;
    });
  }
  if (!targets.length) {
    err("No server to rotate\n");
    return 0;
  }
  err(`Rotating ${targets.length} server(s), ${opts.concurrency} at a time\n`);
  let done = 0;
  let failed = 0;
  const queue = [...targets];
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      let line: string;
      try {
        const res = await api(`/servers/${encodeURIComponent(s.id)}/rotate-credentials`, {
          method: "POST",
        });
        const ok = res.status === 200;
        if (!ok) failed++;
        line = `${s.device_name}\t${ok ? "rotated" : "FAILED"}\t${
          ok ? res.body?.rotation?.message ?? "" : res.body?.error?.message ?? `HTTP ${res.status}`
        }`;
      } catch (e) {
        failed++;
        line = `${s.device_name}\tFAILED\t${(e as Error).message}`;
      }
      done++;
      out(`${line}\n`);
      err(`[${done}/${targets.length}] ${failed} failed\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, targets.length) }, worker));
  err(`Done: ${done - failed} rotated, ${failed} failed\n`);
  return failed ? 1 : 0;
}

// deno-lint-ignore no-explicit-any -- the API's JSON answers
type Api = (path: string, init?: RequestInit) => Promise<{ status: number; body: any }>;

async function findOne(api: Api, name: string): Promise<Server> {
  const byId = await api(`/servers/${encodeURIComponent(name)}`);
  if (byId.status === 200) return byId.body;
  const found = await api(`/servers?source=ours&q=${encodeURIComponent(name)}&limit=200`);
  const match = (found.body?.items ?? []).find((s: Server) => s.device_name === name);
  if (!match) throw new Error(`No server named ${name} (HTTP ${found.status})`);
  return match;
}

async function listAll(api: Api): Promise<Server[]> {
  const all: Server[] = [];
  let cursor = "";
  do {
    const page = await api(
      `/servers?source=ours&status=ok&limit=200${
        cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""
      }`,
    );
    if (page.status !== 200) {
      throw new Error(`Listing servers failed: ${page.body?.error?.message ?? page.status}`);
    }
    all.push(...page.body.items);
    cursor = page.body.cursor ?? "";
  } while (cursor);
  return all;
}

function parseOptions(args: string[], io: RotateIo) {
  let values;
  try {
    values = parseArgs({
      args,
      strict: true,
      options: {
        server: { type: "string" },
        all: { type: "boolean", default: false },
        "older-than": { type: "string" },
        concurrency: { type: "string" },
        ...serviceOptions,
      },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return { help: true as const, url: "", concurrency: 0 };
  if (Boolean(values.server) === values.all) {
    throw new UsageError("Give either --server NAME or --all");
  }
  let olderThanMs: number | undefined;
  if (values["older-than"] !== undefined) {
    if (!values.all) throw new UsageError("--older-than goes with --all");
    const m = /^(\d+)([dh])$/.exec(values["older-than"]);
    if (!m) {
      throw new UsageError(`--older-than must be like 90d or 12h, not '${values["older-than"]}'`);
    }
    olderThanMs = Number(m[1]) * (m[2] === "d" ? 86_400_000 : 3_600_000);
  }
  const concurrency = Number(values.concurrency ?? 4);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new UsageError(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  return {
    help: false as const,
    server: values.server,
    olderThanMs,
    concurrency,
    ...serviceTarget(values, io),
  };
}

if (import.meta.main) {
  Deno.exit(await runRotate(Deno.args, processIo));
}
