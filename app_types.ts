/** The types routes and middleware share with the app (kept apart from `app.ts`: no cycle). */
import type { Config } from "./lib/domain/config.ts";
import type { User } from "./lib/domain/model.ts";
import type { Auth } from "./lib/integrations/oidc.ts";
import type { Integrations } from "./lib/integrations/mod.ts";
import type { Logger } from "./lib/observability/log.ts";
import type { Metrics } from "./lib/observability/metrics.ts";
import type { DriftMonitor } from "./lib/registration/drift.ts";
import type { Engine } from "./lib/registration/engine.ts";
import type { ReferenceData } from "./lib/registration/reference.ts";
import type { EventBus } from "./lib/state/events.ts";
import type { OutboxKey } from "./lib/state/outbox_key.ts";
import type { RegistrationStore, StateKv } from "./lib/state/store.ts";

export type { Integrations, User };

/** `clientAddress`: the socket peer, or the client a trusted proxy names; "local" in-process. */
export type AppEnv = { Variables: { requestId: string; clientAddress: string; user?: User } };

export interface AppDeps {
  config: Config;
  kv: StateKv;
  log: Logger;
  metrics: Metrics;
  integrations: Integrations;
  store: RegistrationStore;
  events: EventBus;
  engine: Engine;
  drift: DriftMonitor;
  /** Demo only: breaks something in the simulators (or the demo's Kea) so the Drift page has
   * findings; says what it did. */
  makeDrift?: () => Promise<string[]>;
  reference?: ReferenceData;
  outboxKey: OutboxKey;
  authEnabled: boolean;
  /** A prepared OIDC client (tests); built from the config when absent and auth is enabled. */
  auth?: Auth;
  /** Open WebSockets, closed with a close frame on shutdown. */
  sockets: Set<{ close(code?: number, reason?: string): void }>;
  /** Demo mode: simulators behind the clients; a banner says so (a string says which, e.g.
   * "simulated Netbox, OpenBao and Metal3, real Kea 2.2"). */
  demo?: boolean | string;
}
