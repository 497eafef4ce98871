import { afterEach, describe, expect, it, vi } from "vitest";
import {
  deriveKeys,
  scramMechanism,
  ScramNeedsPasswordError,
  ScramServerSignatureError,
  type ScramCredentials,
  type ScramKeys,
  type ScramMechanism,
  type ScramMechanismName,
} from "../../src/xmpp/scram.js";

// RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3 (SCRAM-SHA-256), user "user", password "pencil".
const RFC = {
  "SCRAM-SHA-1": {
    clientNonce: "fyko+d2lbbFgONRv9qkxdawL",
    clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
    salt: "QSXCR+Q6sek8bf92",
  },
  "SCRAM-SHA-256": {
    clientNonce: "rOprNGfwEbeRWgbNEkqO",
    clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    clientFinal:
      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
  },
} as const;

const SHA1 = RFC["SCRAM-SHA-1"];
const PASSWORD = "pencil";

function mech(name: ScramMechanismName, nonce: string = RFC[name].clientNonce): ScramMechanism {
  const Mech = scramMechanism(name, { nonce: () => nonce });
  return new Mech();
}

/** Drive a mechanism the way @xmpp/sasl does: response, then challenge + response per server challenge. */
async function runToClientFinal(m: ScramMechanism, creds: ScramCredentials, serverFirst: string): Promise<string> {
  await m.response(creds);
  await m.challenge(serverFirst);
  return m.response(creds);
}

/** Expect a rejection of the given class and a message that does not contain the password. */
async function expectRejection(
  p: Promise<unknown>,
  cls: new (...args: never[]) => Error,
  password: string = PASSWORD,
): Promise<Error> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  const error = err as Error;
  expect(error.message).not.toContain(password);
  expect(String(error.stack)).not.toContain(password);
  return error;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("RFC test vectors", () => {
  for (const name of ["SCRAM-SHA-1", "SCRAM-SHA-256"] as const) {
    it(`${name}: reproduces the exact messages and accepts the server signature`, async () => {
      const v = RFC[name];
      const m = mech(name);
      const creds: ScramCredentials = { username: "user", password: PASSWORD };
      expect(m.name).toBe(name);
      expect(m.clientFirst).toBe(true);
      expect(await m.response(creds)).toBe(v.clientFirst);
      await m.challenge(v.serverFirst);
      expect(await m.response(creds)).toBe(v.clientFinal);
      expect(m.serverVerified).toBe(false);
      await m.challenge(v.serverFinal);
      expect(m.serverVerified).toBe(true);
      expect(await m.response(creds)).toBe(""); // the empty <response/> before <success/>
    });
  }

  it("exposes the mechanism name on the prototype, where saslmechanisms' Factory#use() reads it", () => {
    const Mech = scramMechanism("SCRAM-SHA-256");
    expect((Mech.prototype as { name?: unknown }).name).toBe("SCRAM-SHA-256");
  });
});

describe("deriveKeys", () => {
  it("runs PBKDF2 as one deriveBits call and returns keys that reproduce the RFC proof", async () => {
    const deriveBits = vi.spyOn(crypto.subtle, "deriveBits");
    const keys = await deriveKeys("SCRAM-SHA-1", PASSWORD, SHA1.salt, 4096);
    expect(deriveBits).toHaveBeenCalledTimes(1);
    expect(deriveBits.mock.calls[0]?.[0]).toMatchObject({ name: "PBKDF2", hash: "SHA-1", iterations: 4096 });
    expect(keys).toMatchObject({ mechanism: "SCRAM-SHA-1", salt: SHA1.salt, iterations: 4096 });

    const m = mech("SCRAM-SHA-1");
    expect(await runToClientFinal(m, { username: "user", keys }, SHA1.serverFirst)).toBe(SHA1.clientFinal);
  });

  it("rejects bad input without echoing the password", async () => {
    await expectRejection(deriveKeys("SCRAM-SHA-1", PASSWORD, "not base64!", 4096), Error);
    await expectRejection(deriveKeys("SCRAM-SHA-1", PASSWORD, SHA1.salt, 0), Error);
    await expectRejection(deriveKeys("SCRAM-SHA-1", "", SHA1.salt, 4096), Error, "\u0000never");
    await expectRejection(deriveKeys("SCRAM-SHA-1", "secret\u0007bell", SHA1.salt, 4096), Error, "secret");
  });
});

describe("cached keys", () => {
  it("log in without the password and produce the same proof; onKeys fires only when deriving", async () => {
    let stored: ScramKeys | undefined;
    const onKeys = vi.fn((k: ScramKeys) => {
      stored = k;
    });
    const first = await runToClientFinal(mech("SCRAM-SHA-1"), { username: "user", password: PASSWORD, onKeys }, SHA1.serverFirst);
    expect(first).toBe(SHA1.clientFinal);
    expect(onKeys).toHaveBeenCalledTimes(1);
    expect(stored).toEqual(await deriveKeys("SCRAM-SHA-1", PASSWORD, SHA1.salt, 4096));

    const deriveBits = vi.spyOn(crypto.subtle, "deriveBits");
    const m = mech("SCRAM-SHA-1");
    const creds: ScramCredentials = { username: "user", keys: stored, onKeys };
    expect(await runToClientFinal(m, creds, SHA1.serverFirst)).toBe(SHA1.clientFinal);
    await m.challenge(SHA1.serverFinal);
    expect(m.serverVerified).toBe(true);
    expect(deriveBits).not.toHaveBeenCalled();
    expect(onKeys).toHaveBeenCalledTimes(1);
  });

  it("prefers matching keys over the password (no PBKDF2 when nothing changed)", async () => {
    const keys = await deriveKeys("SCRAM-SHA-256", PASSWORD, RFC["SCRAM-SHA-256"].salt, 4096);
    const deriveBits = vi.spyOn(crypto.subtle, "deriveBits");
    const onKeys = vi.fn();
    const out = await runToClientFinal(
      mech("SCRAM-SHA-256"),
      { username: "user", password: PASSWORD, keys, onKeys },
      RFC["SCRAM-SHA-256"].serverFirst,
    );
    expect(out).toBe(RFC["SCRAM-SHA-256"].clientFinal);
    expect(deriveBits).not.toHaveBeenCalled();
    expect(onKeys).not.toHaveBeenCalled();
  });

  const changed = {
    salt: SHA1.serverFirst.replace("s=QSXCR+Q6sek8bf92", "s=c2FsdHNhbHRzYWx0"),
    iterations: SHA1.serverFirst.replace("i=4096", "i=10000"),
  };

  for (const [what, serverFirst] of Object.entries(changed)) {
    it(`${what} changed, keys but no password → ScramNeedsPasswordError`, async () => {
      const keys = await deriveKeys("SCRAM-SHA-1", PASSWORD, SHA1.salt, 4096);
      const m = mech("SCRAM-SHA-1");
      await expectRejection(runToClientFinal(m, { username: "user", keys }, serverFirst), ScramNeedsPasswordError);
    });

    it(`${what} changed, keys and password → re-derives and calls onKeys with the new keys`, async () => {
      const keys = await deriveKeys("SCRAM-SHA-1", PASSWORD, SHA1.salt, 4096);
      const onKeys = vi.fn();
      const m = mech("SCRAM-SHA-1");
      const out = await runToClientFinal(m, { username: "user", password: PASSWORD, keys, onKeys }, serverFirst);
      const salt = what === "salt" ? "c2FsdHNhbHRzYWx0" : SHA1.salt;
      const iterations = what === "iterations" ? 10000 : 4096;
      const fresh = await deriveKeys("SCRAM-SHA-1", PASSWORD, salt, iterations);
      expect(onKeys).toHaveBeenCalledTimes(1);
      expect(onKeys).toHaveBeenCalledWith(fresh);
      expect(fresh.clientKey).not.toBe(keys.clientKey);
      // The proof made from the password equals the one made from the new keys alone.
      const viaKeys = await runToClientFinal(mech("SCRAM-SHA-1"), { username: "user", keys: fresh }, serverFirst);
      expect(out).toBe(viaKeys);
      expect(out).not.toBe(SHA1.clientFinal);
    });
  }

  it("keys for another mechanism are not reused", async () => {
    const sha1Keys = await deriveKeys("SCRAM-SHA-1", PASSWORD, RFC["SCRAM-SHA-256"].salt, 4096);
    const m = mech("SCRAM-SHA-256");
    await expectRejection(
      runToClientFinal(m, { username: "user", keys: sha1Keys }, RFC["SCRAM-SHA-256"].serverFirst),
      ScramNeedsPasswordError,
    );
  });

  it("neither password nor keys (xmpp.js fills in password: null) → ScramNeedsPasswordError at once", async () => {
    const creds = { username: "user", password: null } as unknown as ScramCredentials;
    await expectRejection(mech("SCRAM-SHA-1").response(creds), ScramNeedsPasswordError);
  });
});

describe("server verification", () => {
  async function atServerFinal(): Promise<ScramMechanism> {
    const m = mech("SCRAM-SHA-1");
    await runToClientFinal(m, { username: "user", password: PASSWORD }, SHA1.serverFirst);
    return m;
  }

  it("wrong signature → ScramServerSignatureError", async () => {
    const m = await atServerFinal();
    const wrong = "v=" + btoa("x".repeat(20));
    await expectRejection(Promise.resolve(m.challenge(wrong)), ScramServerSignatureError);
    expect(m.serverVerified).toBe(false);
    // and the mechanism does not carry on as if nothing happened
    await expectRejection(m.response({ username: "user", password: PASSWORD }), Error);
  });

  it("signature of the wrong length, or a one-bit difference → ScramServerSignatureError", async () => {
    const m1 = await atServerFinal();
    await expectRejection(Promise.resolve(m1.challenge("v=" + btoa("short"))), ScramServerSignatureError);
    const m2 = await atServerFinal();
    await expectRejection(Promise.resolve(m2.challenge("v=rmF9pqV8S7suAoZWja4dJRkFsKU=")), ScramServerSignatureError);
  });

  it("e= → ScramServerSignatureError carrying the server's text", async () => {
    const m = await atServerFinal();
    const err = await expectRejection(Promise.resolve(m.challenge("e=invalid-proof")), ScramServerSignatureError);
    expect(err.message).toContain("invalid-proof");
  });

  it("malformed server-final → ScramServerSignatureError", async () => {
    const m = await atServerFinal();
    await expectRejection(Promise.resolve(m.challenge("x=whatever")), ScramServerSignatureError);
  });

  it("verifyServerFinal() checks the data of a <success/> that xmpp.js would ignore", async () => {
    const good = await atServerFinal();
    await good.verifyServerFinal(SHA1.serverFinal);
    expect(good.serverVerified).toBe(true);
    const bad = await atServerFinal();
    await expectRejection(bad.verifyServerFinal("v=" + btoa("y".repeat(20))), ScramServerSignatureError);
  });
});

describe("malformed server-first", () => {
  const n = SHA1.clientNonce;
  const cases: Record<string, string> = {
    "missing r": "s=QSXCR+Q6sek8bf92,i=4096",
    "nonce not extending ours": "r=AAAAd2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096",
    "nonce without a server part": `r=${n},s=QSXCR+Q6sek8bf92,i=4096`,
    "iterations 1000": `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=1000`,
    "iterations 4095": `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=4095`,
    "iterations above 10,000,000": `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=10000001`,
    "iterations not an integer": `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=4096.5`,
    "iterations with a leading zero": `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=04096`,
    "bad base64 salt": `r=${n}3rfc,s=QSXCR+Q6sek8bf9,i=4096`,
    "salt with invalid characters": `r=${n}3rfc,s=QSXC*Q6sek8bf92,i=4096`,
    "empty salt": `r=${n}3rfc,s=,i=4096`,
    "missing s": `r=${n}3rfc,i=4096`,
    "missing i": `r=${n}3rfc,s=QSXCR+Q6sek8bf92`,
    "attributes out of order": `s=QSXCR+Q6sek8bf92,r=${n}3rfc,i=4096`,
    "mandatory extension": `m=foo,r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=4096`,
    "trailing garbage": `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=4096,garbage`,
    "server error": "e=other-error",
  };

  for (const [what, serverFirst] of Object.entries(cases)) {
    it(`${what} → Error`, async () => {
      const m = mech("SCRAM-SHA-1");
      await expectRejection(runToClientFinal(m, { username: "user", password: PASSWORD }, serverFirst), Error);
    });
  }

  it("accepts the boundary iteration counts 4096 and 10,000,000 and optional extensions", async () => {
    for (const sf of [`r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=4096,x=ext`, `r=${n}3rfc,s=QSXCR+Q6sek8bf92,i=10000000`]) {
      const m = mech("SCRAM-SHA-1");
      await m.response({ username: "user", password: PASSWORD });
      await expect(Promise.resolve(m.challenge(sf))).resolves.toBeUndefined();
    }
  });

  it("challenge before the first response → Error", async () => {
    await expectRejection(Promise.resolve(mech("SCRAM-SHA-1").challenge(SHA1.serverFirst)), Error);
  });
});

describe("username and nonce", () => {
  it("escapes '=' and ',' in the username", async () => {
    const m = mech("SCRAM-SHA-1", "abc");
    expect(await m.response({ username: "a=b,c==", password: PASSWORD })).toBe("n,,n=a=3Db=2Cc=3D=3D,r=abc");
  });

  it("sends a non-ASCII username as UTF-8 in a byte string that btoa (as xmpp.js uses it) accepts", async () => {
    const m = mech("SCRAM-SHA-1", "abc");
    const out = await m.response({ username: "jörg", password: PASSWORD });
    const bytes = Uint8Array.from(atob(btoa(out)), (c) => c.charCodeAt(0));
    expect(new TextDecoder().decode(bytes)).toBe("n,,n=jörg,r=abc");
  });

  it("generates a fresh random nonce of at least 18 bytes without commas", async () => {
    const Mech = scramMechanism("SCRAM-SHA-1");
    const nonces = new Set<string>();
    for (let k = 0; k < 5; k++) {
      const first = await new Mech().response({ username: "user", password: PASSWORD });
      const nonce = /^n,,n=user,r=([^,]+)$/.exec(first)?.[1] ?? "";
      expect(atob(nonce).length).toBeGreaterThanOrEqual(18);
      nonces.add(nonce);
    }
    expect(nonces.size).toBe(5);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Through the real @xmpp/sasl and saslmechanisms, against a scripted server.

interface XmlElement {
  readonly name: string;
  getNS(): string;
  text(): string;
}
type Xml = (name: string, attrs?: Record<string, string>, ...children: (string | XmlElement)[]) => XmlElement;
type Listener = (el: XmlElement) => void;
interface FakeEntity {
  options: { domain: string };
  send(el: XmlElement): Promise<void>;
  on(event: string, fn: Listener): void;
  removeListener(event: string, fn: Listener): void;
  restart(): Promise<void>;
}
type FeatureHandler = (ctx: { entity: FakeEntity }, next: () => void, el: XmlElement) => Promise<void>;
type Done = (credentials: ScramCredentials, mechanism: string) => Promise<void>;
type SaslPlugin = (
  deps: { streamFeatures: { use(name: string, ns: string, h: FeatureHandler): void }; saslFactory: unknown },
  onAuthenticate: (done: Done, mechanisms: string[]) => Promise<void>,
) => void;
interface Factory {
  use(mech: new () => unknown): Factory;
}

const NS = "urn:ietf:params:xml:ns:xmpp-sasl";
// Non-literal specifiers: these packages ship no type declarations.
const load = (spec: string): Promise<unknown> => import(spec);

describe("with @xmpp/sasl", () => {
  /** Scripted server: each step checks what the client sent and answers with one element. */
  async function login(
    onSuccessStep: "challenge" | "success",
    serverFinal: string,
  ): Promise<{ mech: ScramMechanism | undefined; sent: string[] }> {
    const xml = ((await load("@xmpp/xml")) as { default: Xml }).default;
    const sasl = ((await load("@xmpp/sasl")) as { default: SaslPlugin }).default;
    const FactoryCtor = ((await load("saslmechanisms")) as { default: new () => Factory }).default;

    let mech: ScramMechanism | undefined;
    const factory = new FactoryCtor().use(
      scramMechanism("SCRAM-SHA-1", {
        nonce: () => SHA1.clientNonce,
        onCreate: (m) => (mech = m), // what a caller needs to check <success/> data itself
      }),
    );

    const b64 = (s: string) => btoa(s);
    const replies: (() => XmlElement)[] =
      onSuccessStep === "challenge"
        ? [
            () => xml("challenge", { xmlns: NS }, b64(SHA1.serverFirst)),
            () => xml("challenge", { xmlns: NS }, b64(serverFinal)),
            () => xml("success", { xmlns: NS }),
          ]
        : [
            () => xml("challenge", { xmlns: NS }, b64(SHA1.serverFirst)),
            () => xml("success", { xmlns: NS }, b64(serverFinal)),
          ];
    const sent: string[] = [];
    const listeners = new Set<Listener>();
    const entity: FakeEntity = {
      options: { domain: "example.org" },
      async send(el) {
        sent.push(`${el.name}:${atob(el.text())}`);
        const reply = replies.shift();
        if (reply) setTimeout(() => listeners.forEach((fn) => fn(reply())), 0);
      },
      on: (_event, fn) => listeners.add(fn),
      removeListener: (_event, fn) => listeners.delete(fn),
      restart: async () => {},
    };

    let handler: FeatureHandler | undefined;
    sasl({ streamFeatures: { use: (_n, _ns, h) => (handler = h) }, saslFactory: factory }, async (done, mechanisms) => {
      expect(mechanisms).toContain("SCRAM-SHA-1");
      await done({ username: "user", password: PASSWORD }, "SCRAM-SHA-1");
    });
    const features = xml("mechanisms", { xmlns: NS }, xml("mechanism", {}, "PLAIN"), xml("mechanism", {}, "SCRAM-SHA-1"));
    if (!handler) throw new Error("@xmpp/sasl did not register its feature handler");
    await handler({ entity }, () => {}, features);
    return { mech, sent };
  }

  it("server-final as a challenge: verified, then an empty response", async () => {
    const { mech: m, sent } = await login("challenge", SHA1.serverFinal);
    expect(sent).toEqual([`auth:${SHA1.clientFirst}`, `response:${SHA1.clientFinal}`, "response:"]);
    expect(m?.serverVerified).toBe(true);
  });

  it("server-final as a challenge with a wrong signature: the login fails", async () => {
    await expectRejection(login("challenge", "v=" + btoa("z".repeat(20))), ScramServerSignatureError);
  });

  it("server-final in <success/>: xmpp.js ignores it, verifyServerFinal() on the recorded instance catches a bad one", async () => {
    const good = await login("success", SHA1.serverFinal);
    expect(good.mech?.serverVerified).toBe(false); // xmpp.js never showed us the data
    await good.mech?.verifyServerFinal(SHA1.serverFinal);
    expect(good.mech?.serverVerified).toBe(true);

    const bad = await login("success", "v=" + btoa("z".repeat(20))); // xmpp.js lets this through
    await expectRejection(bad.mech?.verifyServerFinal("v=" + btoa("z".repeat(20))) ?? Promise.resolve(), ScramServerSignatureError);
  });
});
