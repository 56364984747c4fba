/**
 * Offline outbox: a registration made without network is stored in IndexedDB with its password
 * encrypted (RSA-OAEP, SHA-256) to the server's outbox key, then replayed with its id as
 * `Idempotency-Key` so a lost answer never registers a server twice.
 */
import { api, type ApiAnswer, errorMessage } from "./api.ts";

const DB_NAME = "onboarding";
const STORE = "outbox";

/** A queued registration; `payload` never contains the clear-text password. */
export interface OutboxItem {
  id: string;
  createdAt: string;
  device_name: string;
  payload: Record<string, unknown>;
  bmc_password_encrypted: string;
  status: "pending" | "attention";
  attempts: number;
  lastError?: string;
}

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx<T>(
  mode: IDBTransactionMode,
  fn: (store: IDBObjectStore) => IDBRequest<T> | void,
): Promise<T | undefined> {
  const db = await openDb();
  try {
    return await new Promise<T | undefined>((resolve, reject) => {
      const t = db.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
    });
  } finally {
    db.close();
  }
}

/** Encrypts `text` to an RSA-OAEP public JWK; returns base64. */
export async function encryptForServer(publicJwk: JsonWebKey, text: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "jwk",
    { ...publicJwk, alg: "RSA-OAEP-256", key_ops: ["encrypt"] },
    { name: "RSA-OAEP", hash: "SHA-256" },
    false,
    ["encrypt"],
  );
  const data = await crypto.subtle.encrypt(
    { name: "RSA-OAEP" },
    key,
    new TextEncoder().encode(text),
  );
  return btoa(String.fromCharCode(...new Uint8Array(data)));
}

const listeners = new Set<() => void>();

/** Calls `fn` whenever the queue changes; returns the unsubscribe function. */
export function onOutboxChange(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}
const changed = () => listeners.forEach((fn) => fn());

/** Queues a registration; the password is encrypted before it touches storage. */
export async function queueRegistration(
  payload: Record<string, unknown>,
  password: string,
  publicJwk: JsonWebKey,
  deviceName: string,
): Promise<OutboxItem> {
  const item: OutboxItem = {
    id: crypto.randomUUID(),
    createdAt: new Date().toISOString(),
    device_name: deviceName,
    payload,
    bmc_password_encrypted: await encryptForServer(publicJwk, password),
    status: "pending",
    attempts: 0,
  };
  await tx("readwrite", (s) => s.put(item));
  changed();
  return item;
}

/** Every queued item, oldest first. */
export async function listOutbox(): Promise<OutboxItem[]> {
  const items = (await tx<OutboxItem[]>("readonly", (s) => s.getAll())) ?? [];
  return items.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** Removes an item (sent, or discarded by the technician). */
export async function removeOutboxItem(id: string): Promise<void> {
  await tx("readwrite", (s) => s.delete(id));
  changed();
}

/** What a replay did with one item. */
export interface ReplayResult {
  item: OutboxItem;
  answer?: ApiAnswer<{ id: string; device_name: string }>;
}

let replaying: Promise<ReplayResult[]> | null = null;

/**
 * Sends pending items one by one. Accepted ones leave the queue; a 4xx (validation, slot taken)
 * moves the item to "needs attention"; a network failure or 5xx stops and waits for the next try.
 * Concurrent calls share one run, so an item is never sent twice at once.
 */
export function replayOutbox(): Promise<ReplayResult[]> {
  replaying ??= (async () => {
    const results: ReplayResult[] = [];
    try {
      for (const item of await listOutbox()) {
        if (item.status !== "pending") continue;
        let answer: ApiAnswer<{ id: string; device_name: string }>;
        try {
          answer = await api("POST", "/api/v1/servers/register", {
            body: { ...item.payload, bmc_password_encrypted: item.bmc_password_encrypted },
            headers: { "idempotency-key": item.id },
          });
        } catch {
          break;
        }
        if (answer.ok) {
          await removeOutboxItem(item.id);
        } else {
          const updated: OutboxItem = {
            ...item,
            attempts: item.attempts + 1,
            lastError: errorMessage(answer),
            status: answer.status >= 400 && answer.status < 500 && answer.status !== 429
              ? "attention"
              : "pending",
          };
          await tx("readwrite", (s) => s.put(updated));
          changed();
          results.push({ item: updated, answer });
          if (updated.status === "pending") break;
          continue;
        }
        results.push({ item, answer });
      }
    } finally {
      replaying = null;
    }
    return results;
  })();
  return replaying;
}
