/**
 * The latest full drift check, kept in the state store so every replica serves it (the check runs
 * in one, behind the leader lock, and takes minutes at 100,000 servers): a head with the summary,
 * and one entry per finding, by system and kind and by server, read a page at a time.
 */
import { Conflict, NotFound, ValidationFailed } from "../../domain/errors.ts";
import type { DriftView } from "../../domain/drift.ts";
import type { StateKv } from "../../state/backend.ts";
import { keys } from "../../state/keys.ts";
import type { DriftKind, DriftReport, Finding } from "./types.ts";
import { DRIFT_KINDS } from "./types.ts";

/** The stored check's head: its summary and which generation of finding entries it reads. */
interface Head extends Omit<DriftView, "findings" | "cursor"> {
  generation: string;
  /** The finding ids in order, hashed: a new check with the same findings changes nothing. */
  digest: string;
}

/** What a page of the view asks for. */
export interface ViewQuery {
  system?: string;
  kind?: DriftKind;
  server?: string;
  limit?: number;
  cursor?: string;
}

/** Findings written per commit: two entries each, well under KV's 1,000 mutations and 800 KB. */
const BATCH = 100;

async function digestOf(findings: Finding[]): Promise<string> {
  const bytes = new TextEncoder().encode(findings.map((f) => f.id).join("\n"));
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

const byKind = (g: string, f: Finding) => keys.driftFinding(g, f.system, f.kind, f.id);
const byServer = (g: string, f: Finding) =>
  keys.driftFindingOfServer(g, f.server.toLowerCase(), f.id);

/**
 * Stores a full check as the latest: its findings under a new generation, then the head, then the
 * previous generation's entries are deleted. Returns whether the findings differ from the last.
 */
export async function saveDriftReport(kv: StateKv, report: DriftReport): Promise<boolean> {
  const previous = (await kv.get<Head>(keys.driftReport())).value;
  const generation = crypto.randomUUID();
  for (let i = 0; i < report.findings.length; i += BATCH) {
    const op = kv.atomic();
    for (const f of report.findings.slice(i, i + BATCH)) {
      op.set(byKind(generation, f), f).set(byServer(generation, f), f);
    }
    const done = await op.commit();
    if (!done.ok) throw new Error("Could not store the drift check's findings");
  }
  const kinds: Partial<Record<DriftKind, number>> = {};
  for (const f of report.findings) kinds[f.kind] = (kinds[f.kind] ?? 0) + 1;
  const head: Head = {
    checked_at: report.checked_at,
    servers: report.servers,
    errors: report.errors,
    counts: report.counts,
    kinds,
    total: report.findings.length,
    generation,
    digest: await digestOf(report.findings),
  };
  await kv.set(keys.driftReport(), head);
  if (previous) await deleteGeneration(kv, previous.generation);
  return previous?.digest !== head.digest;
}

async function deleteGeneration(kv: StateKv, generation: string): Promise<void> {
  for (const prefix of [keys.driftFindings(generation), keys.driftFindingsOfServer(generation)]) {
    let batch: Deno.KvKey[] = [];
    const flush = async () => {
      const op = kv.atomic();
      for (const key of batch) op.delete(key);
      await op.commit();
      batch = [];
    };
    for await (const e of kv.list({ prefix })) {
      batch.push(e.key);
      if (batch.length >= BATCH * 2) await flush();
    }
    if (batch.length) await flush();
  }
}

function encodeCursor(generation: string, kvCursor: string): string {
  return btoa(JSON.stringify({ g: generation, c: kvCursor })).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

function decodeCursor(text: string): { g: string; c: string } {
  try {
    const c = JSON.parse(atob(text.replaceAll("-", "+").replaceAll("_", "/")));
    if (typeof c.g === "string" && typeof c.c === "string") return c;
  } catch { /* reported below */ }
  throw new ValidationFailed({ cursor: "Not a cursor this view gave out" });
}

/**
 * A page of the latest stored check: its summary and the findings that pass the filters, by
 * system, kind and id (or by id for one server). NotFound before the first check; Conflict for a
 * cursor of a check that a newer one has replaced.
 */
export async function readDriftView(kv: StateKv, query: ViewQuery): Promise<DriftView> {
  const head = (await kv.get<Head>(keys.driftReport())).value;
  if (!head) {
    throw new NotFound(
      "No drift check has run yet: start one with POST /api/v1/drift/check (the page's Check now)",
    );
  }
  const g = head.generation;
  const after = query.cursor ? decodeCursor(query.cursor) : null;
  if (after && after.g !== g) {
    throw new Conflict(
      `A newer drift check (${head.checked_at}) replaced the one this cursor pages through: start again from the first page`,
    );
  }
  const system = query.kind ? DRIFT_KINDS[query.kind] : query.system;
  const prefix = query.server
    ? keys.driftFindingsOfServer(g, query.server.toLowerCase())
    : system
    ? keys.driftFindings(g, system, ...(query.kind ? [query.kind] : []))
    : keys.driftFindings(g);
  const limit = query.limit ?? 100;
  const findings: Finding[] = [];
  let read = 0;
  const iter = kv.list<Finding>({ prefix }, { limit, cursor: after?.c });
  for await (const e of iter) {
    read++;
    // One server's findings are by id: the system and kind filters apply here.
    if ((!system || e.value.system === system) && (!query.kind || e.value.kind === query.kind)) {
      findings.push(e.value);
    }
  }
  const { generation: _g, digest: _d, ...summary } = head;
  // A full read may have more behind it; the next page says so by being empty.
  const more = read === limit && iter.cursor;
  return { ...summary, findings, cursor: more ? encodeCursor(g, iter.cursor) : null };
}
