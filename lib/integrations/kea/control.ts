/** Kea's control API: settings, commands and host_cmds reservations on every server. */
import { createHttpClient, IntegrationError, redactUrl, type RetryPolicy } from "../http.ts";
import type { Metrics } from "../../observability/metrics.ts";
import {
  type Reservation,
  reservationFromKea,
  reservationToKea,
  sameReservation,
} from "../../domain/kea_json.ts";
export interface KeaSettings {
  mode: "auto" | "api" | "pgsql";
  /** Control agent hosts (`kea1`, `10.0.0.5`) or full URLs (`http://kea1:8000/`). */
  servers: string[];
  /** Port used for servers given as bare hosts. */
  port: number;
  subnetId?: number;
  /** PostgreSQL URL of Kea's host database (pgsql mode). */
  dbUrl?: string;
  /** Known subnets, for subnet discovery without a control API. */
  subnets?: { id: number; subnet: string }[];
  fetch?: typeof fetch;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: Metrics;
  /** Clock in ms for the subnet cache; tests pass their own. Default `Date.now`. */
  now?: () => number;
}

/** One element of a control-agent answer. */
export interface KeaAnswer {
  result: number;
  text?: string;
  arguments?: Record<string, unknown>;
}

/** Kea control-channel result codes (src/lib/cc/command_interpreter.h). */
export const KEA_RESULT = {
  success: 0,
  error: 1,
  unsupported: 2,
  empty: 3,
  conflict: 4,
} as const;

/** The control-agent URL for a configured server. */
export function keaServerUrl(server: string, port: number): string {
  if (/^https?:\/\//i.test(server)) return server;
  const host = server.includes(":") && !server.startsWith("[") ? `[${server}]` : server;
  return `http://${host}:${port}/`;
}

/** Kea's control API over the shared HTTP layer: commands, host_cmds reservations, every server
 * or the first that answers. */
export function createKeaControl(settings: KeaSettings) {
  const http = createHttpClient({
    integration: "kea",
    fetch: settings.fetch,
    timeoutMs: settings.timeoutMs,
    retry: settings.retry,
    metrics: settings.metrics,
  });
  const servers = settings.servers;

  async function command(server: string, name: string, args?: Record<string, unknown>) {
    const url = keaServerUrl(server, settings.port);
    const body: Record<string, unknown> = { command: name, service: ["dhcp4"] };
    if (args) body.arguments = args;
    const res = await http.request<unknown>(name, "POST", url, { body });
    const answer = (Array.isArray(res.body) ? res.body[0] : res.body) as KeaAnswer | undefined;
    if (!answer || typeof answer !== "object" || typeof answer.result !== "number") {
      throw new IntegrationError({
        integration: "kea",
        operation: name,
        method: "POST",
        url: redactUrl(url),
        status: res.status,
        body: res.body,
        message: `kea ${name} failed: not a Kea control answer (POST ${redactUrl(url)})`,
      });
    }
    return answer;
  }

  const answerError = (server: string, name: string, answer: KeaAnswer) =>
    keaAnswerError(keaServerUrl(server, settings.port), server, name, answer);

  /** reservation-get: the host, or null for "not found" (result 3, or 0 without arguments). */
  async function reservationGet(server: string, args: Record<string, unknown>, subnetId: number) {
    const answer = await command(server, "reservation-get", { "subnet-id": subnetId, ...args });
    if (answer.result === KEA_RESULT.empty) return null;
    if (answer.result !== KEA_RESULT.success) throw answerError(server, "reservation-get", answer);
    if (!answer.arguments || !Object.keys(answer.arguments).length) return null;
    return { ...reservationFromKea(answer.arguments, subnetId), subnetId };
  }

  const byMac = (mac: string) => ({ "identifier-type": "hw-address", identifier: mac });

  async function reservationDel(server: string, mac: string, subnetId: number) {
    const answer = await command(server, "reservation-del", {
      "subnet-id": subnetId,
      ...byMac(mac),
    });
    if (answer.result === KEA_RESULT.success) return "deleted" as const;
    // Shipped host_cmds says 3; the ARM documents 1 "not found": accept both.
    if (
      answer.result === KEA_RESULT.empty ||
      (answer.result === KEA_RESULT.error && /not (found|deleted)/i.test(answer.text ?? ""))
    ) return "absent" as const;
    throw answerError(server, "reservation-del", answer);
  }

  async function reservationAdd(server: string, r: Reservation, subnetId: number) {
    const answer = await command(server, "reservation-add", {
      reservation: reservationToKea(r, subnetId),
    });
    if (answer.result === KEA_RESULT.success) return;
    // After a retried add whose first answer was lost, the host exists already: same data is fine.
    if (answer.result === KEA_RESULT.error && /exist|duplicate/i.test(answer.text ?? "")) {
      const now = await reservationGet(server, byMac(r.mac), subnetId);
      if (now && sameReservation(now, r)) return;
    }
    throw answerError(server, "reservation-add", answer);
  }

  /** Runs `fn` on each server concurrently; throws when every server failed. */
  async function onEvery<T>(
    operation: string,
    fn: (server: string) => Promise<T>,
  ): Promise<PromiseSettledResult<T>[]> {
    if (!servers.length) throw new Error("No Kea servers configured (KEA_SERVERS)");
    const settled = await Promise.allSettled(servers.map(fn));
    const failures = settled.filter((s) => s.status === "rejected") as PromiseRejectedResult[];
    for (const f of failures) {
      if (!(f.reason instanceof IntegrationError)) throw f.reason;
    }
    if (failures.length === servers.length) {
      if (servers.length === 1) throw failures[0].reason;
      const first = failures[0].reason as IntegrationError;
      throw new IntegrationError({
        integration: "kea",
        operation,
        method: "POST",
        url: servers.map((s) => redactUrl(keaServerUrl(s, settings.port))).join(", "),
        status: first.status,
        message: `kea ${operation} failed on every server: ${
          settled.flatMap((x, i) =>
            x.status === "rejected" ? [`${servers[i]}: ${(x.reason as Error).message}`] : []
          ).join("; ")
        }`,
      });
    }
    return settled;
  }

  /** Tries servers in order until one answers (for reads). */
  async function onFirst<T>(fn: (server: string) => Promise<T>): Promise<T> {
    if (!servers.length) throw new Error("No Kea servers configured (KEA_SERVERS)");
    let last: unknown;
    for (const s of servers) {
      try {
        return await fn(s);
      } catch (e) {
        if (!(e instanceof IntegrationError) || e.status === 200) throw e;
        last = e;
      }
    }
    throw last;
  }

  /** The subnets Kea serves, from `config-get` (shared networks included). */
  async function subnetsFromKea() {
    const answer = await onFirst((s) => command(s, "config-get"));
    if (answer.result !== KEA_RESULT.success) throw answerError(servers[0], "config-get", answer);
    const dhcp4 = (answer.arguments?.Dhcp4 ?? {}) as Record<string, unknown>;
    const list: { id: number; subnet: string }[] = [];
    const add = (subnets: unknown) => {
      for (const s of Array.isArray(subnets) ? subnets : []) {
        if (typeof s?.id === "number" && typeof s?.subnet === "string") {
          list.push({ id: s.id, subnet: s.subnet });
        }
      }
    };
    add(dhcp4.subnet4);
    for (const net of (dhcp4["shared-networks"] ?? []) as Record<string, unknown>[]) {
      add(net.subnet4);
    }
    return list;
  }

  return {
    command,
    answerError,
    reservationGet,
    byMac,
    reservationDel,
    reservationAdd,
    onEvery,
    onFirst,
    subnetsFromKea,
  };
}

/** A Kea answer with a failing result, as the typed error. */
function keaAnswerError(
  url: string,
  server: string,
  name: string,
  answer: KeaAnswer,
): IntegrationError {
  return new IntegrationError({
    integration: "kea",
    operation: name,
    method: "POST",
    url: redactUrl(url),
    status: 200,
    body: answer,
    message: `kea ${name} failed on ${server}: result ${answer.result}: ${answer.text ?? ""}`,
  });
}

/** Times a call that is not one HTTP request (pgsql) into the same metric. */
export async function timed<T>(
  metrics: Metrics | undefined,
  operation: string,
  fn: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    const out = await fn();
    metrics?.observeCall("kea", operation, 200, performance.now() - started);
    return out;
  } catch (e) {
    const status = e instanceof IntegrationError ? e.status : 200;
    metrics?.observeCall("kea", operation, status, performance.now() - started);
    throw e;
  }
}
