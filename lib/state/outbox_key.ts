/**
 * The key pair the PWA's offline outbox encrypts passwords to (RSA-OAEP, SHA-256), so a queued
 * registration on a phone never holds the password in clear. The private key stays on the server.
 */
import { keys } from "./keys.ts";
import type { StateKv } from "./store.ts";

const ALGORITHM = {
  name: "RSA-OAEP",
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: "SHA-256",
};
const KEY = keys.outboxKey();

export class OutboxKey {
  private constructor(readonly publicJwk: JsonWebKey, readonly privateKey: CryptoKey) {}

  /** Loads the pair from KV, creating it once (atomically, so replicas agree). */
  static async load(kv: StateKv): Promise<OutboxKey> {
    let stored = (await kv.get<{ publicJwk: JsonWebKey; privateJwk: JsonWebKey }>(KEY)).value;
    if (!stored) {
      const pair = await crypto.subtle.generateKey(ALGORITHM, true, ["encrypt", "decrypt"]);
      const candidate = {
        publicJwk: await crypto.subtle.exportKey("jwk", pair.publicKey),
        privateJwk: await crypto.subtle.exportKey("jwk", pair.privateKey),
      };
      await kv.atomic().check({ key: KEY, versionstamp: null }).set(KEY, candidate).commit();
      stored = (await kv.get<typeof candidate>(KEY)).value!;
    }
    const privateKey = await crypto.subtle.importKey("jwk", stored.privateJwk, ALGORITHM, false, [
      "decrypt",
    ]);
    return new OutboxKey(stored.publicJwk, privateKey);
  }

  /** Decrypts a base64 ciphertext made by the PWA; throws on anything else. */
  async decrypt(base64: string): Promise<string> {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const plain = await crypto.subtle.decrypt({ name: "RSA-OAEP" }, this.privateKey, bytes);
    return new TextDecoder().decode(plain);
  }
}
