/**
 * The offline queue: registrations waiting to be sent, replayed on start, when the network returns
 * and when the app is shown; what a replay registered is said, with a link.
 */
import { useState } from "preact/hooks";
import {
  listOutbox,
  onOutboxChange,
  type OutboxItem,
  removeOutboxItem,
  replayOutbox,
} from "../../client/outbox.ts";
import { useIdleEffect } from "./model.ts";

export interface Sent {
  id: string;
  device_name: string;
}

/** The queue's items, kept current, and `send` to replay it now. */
export function useOutbox(onSent: (sent: Sent[]) => void) {
  const [outbox, setOutbox] = useState<OutboxItem[]>([]);
  const refresh = () => listOutbox().then(setOutbox).catch(() => {});
  const send = () =>
    replayOutbox().then((results) => {
      const done = results.filter((r) => r.answer?.ok).map((r) => r.answer!.body);
      if (done.length) onSent(done.map((b) => ({ id: b.id, device_name: b.device_name })));
      return refresh();
    }).catch(() => {});
  useIdleEffect(() => {
    const replay = () => navigator.onLine && send();
    refresh();
    replay();
    const off = onOutboxChange(refresh);
    const visible = () => document.visibilityState === "visible" && replay();
    addEventListener("online", replay);
    document.addEventListener("visibilitychange", visible);
    return () => {
      off();
      removeEventListener("online", replay);
      document.removeEventListener("visibilitychange", visible);
    };
  }, []);
  return { outbox, send };
}

export function OutboxCard(props: { outbox: OutboxItem[]; onSend: () => void }) {
  return (
    <section class="card outbox" aria-labelledby="outbox-title" data-testid="outbox">
      <h2 id="outbox-title">Waiting to send ({props.outbox.length})</h2>
      <ul class="steplist">
        {props.outbox.map((item) => (
          <li key={item.id}>
            <span>{item.device_name || String(item.payload.bmc_mac)}</span>
            <span class={`pill st-${item.status === "pending" ? "queued" : "failed"}`}>
              {item.status === "pending" ? "queued" : "needs attention"}
            </span>
            {item.lastError && <span class="msg">{item.lastError}</span>}
            {item.status === "attention" && (
              <button
                type="button"
                onClick={() => removeOutboxItem(item.id)}
              >
                Discard
              </button>
            )}
          </li>
        ))}
      </ul>
      <button type="button" onClick={props.onSend}>Send now</button>
    </section>
  );
}

/** What a replay of the queue registered, each with a link to its server. */
export function SentCard(props: { sent: Sent[] }) {
  return (
    <div class="card sent" role="status" data-testid="sent">
      {props.sent.map((s) => (
        <p key={s.id}>
          <a class="button" href={`/servers/${s.id}`}>{s.device_name} registered</a>
        </p>
      ))}
    </div>
  );
}
