/**
 * Live events across replicas (PostgreSQL LISTEN/NOTIFY): what this replica publishes on its bus
 * goes to the others' buses, so a browser on any replica sees every step. A registration event
 * travels as its id (NOTIFY payloads are small) and is read back from the store on arrival.
 */
import type postgres from "postgres";
import type { Logger } from "../observability/log.ts";
import { type EventBus, type LiveEvent, publicView } from "./events.ts";
import type { RegistrationStore } from "./store.ts";

const CHANNEL = "state_events";

type Wire = Exclude<LiveEvent, { type: "registration" }> | { type: "registration"; id: string };

/** Relays `bus` to and from the other replicas; returns the function that stops it. */
export async function shareEvents(
  sql: postgres.Sql,
  bus: EventBus,
  store: RegistrationStore,
  log?: Logger,
): Promise<() => Promise<void>> {
  const origin = crypto.randomUUID();
  const relayed = new WeakSet<LiveEvent>();
  // One chain each way keeps the order steps happened in.
  let sending = Promise.resolve();
  let receiving = Promise.resolve();
  const listener = await sql.listen(CHANNEL, (payload) => {
    const m = JSON.parse(payload) as { origin: string; event: Wire };
    if (m.origin === origin) return;
    receiving = receiving.then(async () => {
      let event: LiveEvent;
      if (m.event.type === "registration") {
        const r = await store.get(m.event.id);
        if (!r) return;
        event = { type: "registration", registration: publicView(r) };
      } else event = m.event;
      relayed.add(event);
      bus.publish(event);
    }).catch((e) => log?.warn("event from another replica dropped", { error: e }));
  });
  const unsubscribe = bus.subscribe((e) => {
    if (relayed.has(e)) return;
    const event: Wire = e.type === "registration"
      ? { type: "registration", id: e.registration.id }
      : e;
    const payload = JSON.stringify({ origin, event });
    sending = sending.then(() => sql`SELECT pg_notify(${CHANNEL}, ${payload})`).then(
      () => {},
      (err) => log?.warn("event not sent to the other replicas", { error: err }),
    );
  });
  return async () => {
    unsubscribe();
    await sending;
    await listener.unlisten().catch(() => {});
  };
}
