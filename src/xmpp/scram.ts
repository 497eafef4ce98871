// SCRAM-SHA-1 / SCRAM-SHA-256 (RFC 5802, RFC 7677) for xmpp.js's SASL layer, with credential caching.
//
// Why our own: xmpp.js 0.14's SCRAM runs each PBKDF2 round as a separate async WebCrypto call (about a second per
// login at 10,000 iterations) and needs the password every time. Here PBKDF2 is a single `deriveBits` call, and a
// successful derive hands the caller ClientKey/ServerKey (RFC 5802 §3), which are enough to log in again and to check
// the server's signature without keeping the password.
//
// Runs unchanged in Node 20 and in Thunderbird's background page: only `globalThis.crypto` and TextEncoder/TextDecoder
// (base64 from core/base64.ts).
//
// Wire format, as xmpp.js (@xmpp/sasl + @xmpp/base64) uses it: the strings that `response()` returns and
// `challenge()` receives are *byte strings* (one char per byte, what btoa/atob work on), so UTF-8 text is converted
// here in both directions. Plain ASCII is the same either way.
//
// How @xmpp/sasl drives a mechanism: `response(creds)` for the initial <auth/>, then for every <challenge/>
// `challenge(data)` followed by `response(creds)` for the <response/>; on <success/> it stops, **ignoring the
// success element's content**. Servers that send the server-final message (v=…) as a challenge get it verified in
// `challenge()` (and the following `response()` returns ""). Servers that put it in <success/> (RFC 6120 §6.3.10;
// Prosody does this) are never verified by xmpp.js: a caller that wants that check must get hold of the mechanism
// instance (option `onCreate`) and call `verifyServerFinal(atob(text))` with the <success/> element's text.

import { decodeBase64Strict, encodeBase64 } from "../core/base64.js";
import { saslprep, SaslprepError } from "./saslprep.js";

export type ScramMechanismName = "SCRAM-SHA-1" | "SCRAM-SHA-256";

/** What we store instead of the password (RFC 5802 §3: ClientKey/ServerKey are enough to log in and to verify the server). */
export interface ScramKeys {
  readonly mechanism: ScramMechanismName;
  readonly salt: string; // base64, as sent by the server
  readonly iterations: number;
  readonly clientKey: string; // base64
  readonly serverKey: string; // base64
}

export interface ScramCredentials {
  readonly username: string;
  readonly password?: string; // may be absent when keys are present
  readonly keys?: ScramKeys; // reused when mechanism+salt+iterations match the server's challenge
  /**
   * Called after a successful derive from the password, before the client-final message goes out (to persist).
   * The login has not succeeded yet at that point: hold the keys and store them once the session is online.
   */
  readonly onKeys?: (keys: ScramKeys) => void;
}

/** Server's salt/iterations changed (or nothing stored) and no password: the UI must ask again. */
export class ScramNeedsPasswordError extends Error {
  override name = "ScramNeedsPasswordError";
}

/** The server failed to prove it knows the key (wrong or malformed v=, or it answered with e=). */
export class ScramServerSignatureError extends Error {
  override name = "ScramServerSignatureError";
}

export interface SaslMechanism {
  readonly name: string;
  readonly clientFirst: boolean;
  response(creds: ScramCredentials): Promise<string>;
  challenge(chal: string): Promise<void> | void;
}

/** What `new (scramMechanism(name))()` gives, beyond the saslmechanisms interface. */
export interface ScramMechanism extends SaslMechanism {
  /** Check a server-final message (byte string, e.g. `atob(<success/> text)`) when xmpp.js did not pass it to `challenge()`. */
  verifyServerFinal(serverFinal: string): Promise<void>;
  /** True once a server signature has been checked and matched. */
  readonly serverVerified: boolean;
}

export interface ScramMechanismOptions {
  /** Client nonce generator (tests inject the RFC examples' nonces). Default: 24 random bytes, base64. */
  readonly nonce?: () => string;
  /** Called with every new instance (the Factory creates them out of sight), e.g. to call verifyServerFinal() on <success/>. */
  readonly onCreate?: (mechanism: ScramMechanism) => void;
}

/** Lower bound on the server's iteration count: fewer is too weak (or a downgrade attempt). */
const SCRAM_MIN_ITERATIONS = 4096;
/** Upper bound on the server's iteration count: more would let a server keep us busy for minutes. */
const SCRAM_MAX_ITERATIONS = 10_000_000;

type Bytes = Uint8Array<ArrayBuffer>;
/** Bound on any base64 field of a SCRAM exchange or of stored keys (salts are 16–32 bytes in practice). */
const MAX_BASE64_BYTES = 4096;

const HASHES: Readonly<Record<ScramMechanismName, { readonly hash: "SHA-1" | "SHA-256"; readonly length: number }>> = {
  "SCRAM-SHA-1": { hash: "SHA-1", length: 20 },
  "SCRAM-SHA-256": { hash: "SHA-256", length: 32 },
};

const GS2_HEADER = "n,,"; // no channel binding, no authzid
const CHANNEL_BINDING = "c=biws"; // base64("n,,")
const NONCE_BYTES = 24;
const MAX_SERVER_TEXT = 200;

/** A class usable with saslmechanisms' Factory#use(): new() => mechanism; reads ScramCredentials fields from the creds object passed to response(). */
export function scramMechanism(name: ScramMechanismName, options: ScramMechanismOptions = {}): new () => ScramMechanism {
  if (!Object.hasOwn(HASHES, name)) throw new Error(`SCRAM: unsupported mechanism ${String(name)}`);
  const makeNonce = options.nonce ?? randomNonce;
  const onCreate = options.onCreate;

  type Stage = "start" | "client-first-sent" | "server-first-received" | "client-final-sent" | "done" | "failed";

  class Scram implements ScramMechanism {
    #stage: Stage = "start";
    #clientNonce = "";
    #clientFirstBare = "";
    #serverFirst: ServerFirst | undefined;
    #expectedServerSignature: Bytes | undefined;
    #serverVerified = false;

    constructor() {
      onCreate?.(this);
    }

    // Getters live on the prototype, which is where saslmechanisms' Factory#use() looks for the name.
    get name(): string {
      return name;
    }

    get clientFirst(): boolean {
      return true;
    }

    get serverVerified(): boolean {
      return this.#serverVerified;
    }

    async response(creds: ScramCredentials): Promise<string> {
      try {
        switch (this.#stage) {
          case "start":
            return this.#makeClientFirst(creds);
          case "server-first-received":
            return await this.#makeClientFinal(creds);
          case "done":
            return ""; // empty <response/> after a server-final sent as a challenge
          default:
            throw new Error(`SCRAM: response() not expected now (${this.#stage})`);
        }
      } catch (err) {
        this.#stage = "failed";
        throw err;
      }
    }

    async challenge(chal: string): Promise<void> {
      try {
        switch (this.#stage) {
          case "client-first-sent":
            this.#serverFirst = parseServerFirst(fromByteString(chal), this.#clientNonce);
            this.#stage = "server-first-received";
            return;
          case "client-final-sent":
            await this.verifyServerFinal(chal);
            return;
          default:
            throw new Error(`SCRAM: unexpected challenge (${this.#stage})`);
        }
      } catch (err) {
        this.#stage = "failed";
        throw err;
      }
    }

    async verifyServerFinal(serverFinal: string): Promise<void> {
      const expected = this.#expectedServerSignature;
      // "done" too: checking the <success/> data again after a server-final challenge is harmless.
      if ((this.#stage !== "client-final-sent" && this.#stage !== "done") || !expected) {
        throw new Error(`SCRAM: no server-final message expected now (${this.#stage})`);
      }
      this.#serverVerified = false;
      this.#stage = "failed"; // until proven otherwise
      const signature = parseServerFinal(fromByteString(serverFinal));
      if (!constantTimeEqual(signature, expected)) {
        throw new ScramServerSignatureError("SCRAM: the server's signature does not match (server does not know the key)");
      }
      this.#serverVerified = true;
      this.#stage = "done";
    }

    #makeClientFirst(creds: ScramCredentials): string {
      const username: unknown = creds.username;
      if (typeof username !== "string" || username === "") throw new Error("SCRAM: no username");
      if (!hasPassword(creds) && !creds.keys) {
        throw new ScramNeedsPasswordError("SCRAM: neither a password nor stored keys");
      }
      let prepared: string;
      try {
        prepared = saslprep(username);
      } catch (err) {
        if (err instanceof SaslprepError) throw new Error(`SCRAM: the username is not allowed (${err.category})`);
        throw err;
      }
      if (prepared === "") throw new Error("SCRAM: the username is empty after SASLprep");
      const nonce = makeNonce();
      if (!isValidNonce(nonce)) throw new Error("SCRAM: invalid client nonce (printable ASCII except ',' required)");
      this.#clientNonce = nonce;
      this.#clientFirstBare = `n=${escapeSaslName(prepared)},r=${nonce}`;
      this.#stage = "client-first-sent";
      return toByteString(GS2_HEADER + this.#clientFirstBare);
    }

    async #makeClientFinal(creds: ScramCredentials): Promise<string> {
      const sf = this.#serverFirst;
      if (!sf) throw new Error("SCRAM: no server-first message");
      const { hash, length } = HASHES[name];

      let keys = usableKeys(creds.keys, name, sf, length);
      if (!keys) {
        if (!hasPassword(creds)) {
          throw new ScramNeedsPasswordError(
            creds.keys
              ? "SCRAM: the server's salt or iteration count changed; the password is needed again"
              : "SCRAM: no stored keys for this server; the password is needed",
          );
        }
        let derived: ScramKeys;
        try {
          derived = await deriveKeys(name, creds.password, sf.saltB64, sf.iterations);
        } catch (err) {
          // Never let anything about the password reach a message.
          if (err instanceof SaslprepError) throw new Error(`SCRAM: the password is not allowed (${err.category})`);
          throw new Error("SCRAM: deriving keys from the password failed");
        }
        creds.onKeys?.(derived);
        keys = { clientKey: decodeBase64Strict(derived.clientKey, MAX_BASE64_BYTES), serverKey: decodeBase64Strict(derived.serverKey, MAX_BASE64_BYTES) };
      }

      const clientFinalWithoutProof = `${CHANNEL_BINDING},r=${sf.nonce}`;
      const authMessage = utf8(`${this.#clientFirstBare},${sf.message},${clientFinalWithoutProof}`);
      const storedKey = new Uint8Array(await crypto.subtle.digest(hash, keys.clientKey));
      const clientSignature = await hmac(hash, storedKey, authMessage);
      const proof = xor(keys.clientKey, clientSignature);
      this.#expectedServerSignature = await hmac(hash, keys.serverKey, authMessage);
      this.#stage = "client-final-sent";
      return toByteString(`${clientFinalWithoutProof},p=${encodeBase64(proof)}`);
    }
  }

  return Scram;
}

/** ClientKey/ServerKey from the password: PBKDF2 in ONE deriveBits call, then two HMACs. The password goes through SASLprep first. */
export async function deriveKeys(
  name: ScramMechanismName,
  password: string,
  saltB64: string,
  iterations: number,
): Promise<ScramKeys> {
  const params = HASHES[name];
  if (!params) throw new Error(`SCRAM: unsupported mechanism ${String(name)}`);
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error("SCRAM: iteration count must be a positive integer");
  const salt = decodeBase64Strict(saltB64, MAX_BASE64_BYTES);
  if (salt.length === 0) throw new Error("SCRAM: empty salt");
  const prepared = saslprep(password);
  if (prepared === "") throw new Error("SCRAM: empty password");

  const baseKey = await crypto.subtle.importKey("raw", utf8(prepared), "PBKDF2", false, ["deriveBits"]);
  const saltedPassword = new Uint8Array(
    await crypto.subtle.deriveBits({ name: "PBKDF2", hash: params.hash, salt, iterations }, baseKey, params.length * 8),
  );
  const clientKey = await hmac(params.hash, saltedPassword, utf8("Client Key"));
  const serverKey = await hmac(params.hash, saltedPassword, utf8("Server Key"));
  saltedPassword.fill(0);
  return Object.freeze({
    mechanism: name,
    salt: saltB64,
    iterations,
    clientKey: encodeBase64(clientKey),
    serverKey: encodeBase64(serverKey),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

interface ServerFirst {
  readonly message: string; // as received, for the AuthMessage
  readonly nonce: string;
  readonly saltB64: string;
  readonly salt: Bytes;
  readonly iterations: number;
}

// server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]   (RFC 5802 §7)
function parseServerFirst(message: string, clientNonce: string): ServerFirst {
  if (message.startsWith("e=")) {
    throw new Error(`SCRAM: the server refused: ${serverText(message.slice(2).split(",")[0] ?? "")}`);
  }
  const parts = message.split(",");
  const [r, s, i, ...extensions] = parts;
  if (r === undefined || !r.startsWith("r=")) {
    if (r?.startsWith("m=")) throw new Error("SCRAM: malformed server-first message: unsupported mandatory extension (m=)");
    throw new Error("SCRAM: malformed server-first message: it must start with the nonce (r=)");
  }
  if (s === undefined || !s.startsWith("s=")) throw new Error("SCRAM: malformed server-first message: salt (s=) missing");
  if (i === undefined || !i.startsWith("i=")) throw new Error("SCRAM: malformed server-first message: iteration count (i=) missing");
  for (const ext of extensions) {
    // Optional extensions (attr=value, attr a letter) are ignored per RFC 5802; anything else is malformed.
    if (!/^[A-Za-z]=/.test(ext)) throw new Error("SCRAM: malformed server-first message: trailing garbage");
  }

  const nonce = r.slice(2);
  if (!isValidNonce(nonce)) throw new Error("SCRAM: malformed server-first message: invalid nonce");
  if (!nonce.startsWith(clientNonce) || nonce.length <= clientNonce.length) {
    throw new Error("SCRAM: the server's nonce does not extend ours");
  }

  const saltB64 = s.slice(2);
  let salt: Bytes;
  try {
    salt = decodeBase64Strict(saltB64, MAX_BASE64_BYTES);
  } catch {
    throw new Error("SCRAM: malformed server-first message: the salt is not valid base64");
  }
  if (salt.length === 0) throw new Error("SCRAM: malformed server-first message: empty salt");

  const iterText = i.slice(2);
  if (!/^[1-9][0-9]{0,9}$/.test(iterText)) {
    throw new Error("SCRAM: malformed server-first message: the iteration count is not a positive integer");
  }
  const iterations = Number(iterText);
  if (iterations < SCRAM_MIN_ITERATIONS) {
    throw new Error(`SCRAM: the server asks for ${iterations} iterations; at least ${SCRAM_MIN_ITERATIONS} are required`);
  }
  if (iterations > SCRAM_MAX_ITERATIONS) {
    throw new Error(`SCRAM: the server asks for ${iterations} iterations; at most ${SCRAM_MAX_ITERATIONS} are accepted`);
  }
  return { message, nonce, saltB64, salt, iterations };
}

// server-final-message = (server-error / verifier) ["," extensions]   (RFC 5802 §7)
function parseServerFinal(message: string): Bytes {
  const first = message.split(",")[0] ?? "";
  if (first.startsWith("e=")) {
    throw new ScramServerSignatureError(`SCRAM: the server reported an error: ${serverText(first.slice(2))}`);
  }
  if (!first.startsWith("v=")) {
    throw new ScramServerSignatureError("SCRAM: malformed server-final message (no v=)");
  }
  try {
    return decodeBase64Strict(first.slice(2), MAX_BASE64_BYTES);
  } catch {
    throw new ScramServerSignatureError("SCRAM: malformed server-final message (v= is not valid base64)");
  }
}

function usableKeys(
  keys: ScramKeys | undefined,
  name: ScramMechanismName,
  sf: ServerFirst,
  length: number,
): { clientKey: Bytes; serverKey: Bytes } | undefined {
  if (!keys || keys.mechanism !== name || keys.iterations !== sf.iterations) return undefined;
  try {
    if (!bytesEqual(decodeBase64Strict(keys.salt, MAX_BASE64_BYTES), sf.salt)) return undefined;
    const clientKey = decodeBase64Strict(keys.clientKey, MAX_BASE64_BYTES);
    const serverKey = decodeBase64Strict(keys.serverKey, MAX_BASE64_BYTES);
    if (clientKey.length !== length || serverKey.length !== length) return undefined;
    return { clientKey, serverKey };
  } catch {
    return undefined; // damaged stored keys: behave as if there were none
  }
}

function hasPassword(creds: ScramCredentials): creds is ScramCredentials & { readonly password: string } {
  const password: unknown = creds.password; // xmpp.js fills in `password: null`
  return typeof password === "string" && password !== "";
}

/** RFC 5802 saslname: "=" → "=3D", "," → "=2C". */
function escapeSaslName(s: string): string {
  return s.replace(/[=,]/g, (c) => (c === "=" ? "=3D" : "=2C"));
}

// printable = %x21-2B / %x2D-7E  (printable ASCII except ",")
function isValidNonce(nonce: string): boolean {
  return /^[\x21-\x2B\x2D-\x7E]+$/.test(nonce);
}

function randomNonce(): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}

/** Server-supplied text for an error message: no control characters, bounded length. */
function serverText(s: string): string {
  const clean = s.replace(/[\p{Cc}\p{Cf}]/gu, "?");
  return clean.length > MAX_SERVER_TEXT ? `${clean.slice(0, MAX_SERVER_TEXT)}…` : clean;
}

// ---------------------------------------------------------------------------------------------------------------
// Bytes

function utf8(s: string): Bytes {
  return new TextEncoder().encode(s);
}

/** Text → byte string (one char per UTF-8 byte), what xmpp.js hands to btoa. */
function toByteString(s: string): string {
  let out = "";
  for (const b of utf8(s)) out += String.fromCharCode(b);
  return out;
}

/** Byte string (from atob) → text; rejects non-bytes and invalid UTF-8. */
function fromByteString(s: string): string {
  const bytes = new Uint8Array(s.length);
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    if (c > 0xff) throw new Error("SCRAM: server message is not a byte string");
    bytes[k] = c;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("SCRAM: server message is not valid UTF-8");
  }
}

async function hmac(hash: string, key: Bytes, data: Bytes): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

function xor(a: Bytes, b: Bytes): Bytes {
  const out = new Uint8Array(a.length);
  for (let k = 0; k < a.length; k++) out[k] = (a[k] ?? 0) ^ (b[k] ?? 0);
  return out;
}

/** Constant time in the contents (the length is not secret). */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let k = 0; k < a.length; k++) diff |= (a[k] ?? 0) ^ (b[k] ?? 0);
  return diff === 0;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, k) => v === b[k]);
}
