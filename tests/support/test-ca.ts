// A certificate authority made at test time (Debian's openssl; no key is ever committed), and server certificates it
// issues for the test servers' names, so that a test can run TLS as in real life: wss:// and https:// with a
// certificate that a client trusts only because the test told it to.
//
//   const ca = makeTestCa(dir);                                  // CA key + self-signed CA certificate
//   const cert = ca.issueCert(["localhost", "127.0.0.1"]);        // key + certificate with these subjectAltNames
//   ... startServer(kind, { tls: { certFile: cert.certFile, keyFile: cert.keyFile } })
//   ... Node: new WebSocket(url, { ca: ca.certPem }); Thunderbird: launchThunderbird({ trustCa: ca.certFile })
//
// EC P-256 keys: the whole CA plus one server certificate takes a few tens of ms.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { WebSocket as WsWebSocket, type ClientOptions } from "ws";

export interface IssuedCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** The subjectAltNames, as given. */
  readonly names: readonly string[];
}

export interface TestCa {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  /** A server certificate (serverAuth) for these DNS names and IP addresses, signed by this CA. */
  issueCert(names: readonly string[], label?: string): IssuedCert;
}

const VALID_DAYS = 7;

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"], timeout: 15_000 });
  } catch (error) {
    const e = error as { stderr?: Buffer; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

function subjectAltName(names: readonly string[]): string {
  if (names.length === 0) throw new Error("issueCert: at least one name");
  return names
    .map((n) => {
      if (!/^[A-Za-z0-9.:*-]+$/.test(n)) throw new Error(`issueCert: not a host name or IP address: ${JSON.stringify(n)}`);
      return isIP(n) ? `IP:${n}` : `DNS:${n}`;
    })
    .join(",");
}

/** Makes a new CA in `dir` (created if missing): ca.key, ca.pem. `name` goes into the CA's subject. */
export function makeTestCa(dir: string, name = "Mail over XMPP test CA"): TestCa {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keyFile = join(dir, "ca.key");
  const certFile = join(dir, "ca.pem");
  openssl(
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
      "-keyout", keyFile, "-out", certFile, "-days", String(VALID_DAYS), "-sha256",
      "-subj", `/O=Mail over XMPP tests/CN=${name} ${process.pid}-${Date.now()}`,
      "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
      "-addext", "keyUsage=critical,keyCertSign,cRLSign",
      "-addext", "subjectKeyIdentifier=hash",
    ],
    dir,
  );
  let serial = 1;
  const ca: TestCa = {
    dir,
    certFile,
    keyFile,
    certPem: readFileSync(certFile, "utf8"),
    issueCert(names, label = `server${serial}`) {
      if (!/^[\w-]+$/.test(label)) throw new Error(`issueCert: label must be a plain file name, got ${JSON.stringify(label)}`);
      const key = join(dir, `${label}.key`);
      const csr = join(dir, `${label}.csr`);
      const cert = join(dir, `${label}.pem`);
      const ext = join(dir, `${label}.ext`);
      writeFileSync(
        ext,
        [
          "basicConstraints=critical,CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          "extendedKeyUsage=serverAuth",
          `subjectAltName=${subjectAltName(names)}`,
          "authorityKeyIdentifier=keyid",
          "subjectKeyIdentifier=hash",
          "",
        ].join("\n"),
      );
      openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=${names[0]}`], dir);
      openssl(
        ["x509", "-req", "-in", csr, "-CA", certFile, "-CAkey", keyFile, "-set_serial", String(1000 + serial++), "-days", String(VALID_DAYS), "-sha256", "-extfile", ext, "-out", cert],
        dir,
      );
      return { certFile: cert, keyFile: key, certPem: readFileSync(cert, "utf8"), keyPem: readFileSync(key, "utf8"), names: [...names] };
    },
  };
  return ca;
}

const DISPATCHER = Symbol.for("undici.globalDispatcher.1");

/**
 * Makes this Node process trust `caPem` (and only it) for the two TLS clients the add-on's code uses in Node: the
 * global `fetch` (Node's bundled undici: a global dispatcher whose connector has `ca`) and the global `WebSocket`
 * (the `ws` package, see websocket-global.ts: a subclass that passes `ca`). NODE_EXTRA_CA_CERTS cannot do this: Node
 * reads it once at process start, before a test has made its CA. Returns a function that puts both back.
 */
export async function trustCaInNode(caPem: string): Promise<() => void> {
  const g = globalThis as unknown as Record<symbol, unknown> & { WebSocket?: unknown };
  // Node 20 loads its fetch implementation (and creates the default dispatcher) on the first call.
  if (g[DISPATCHER] === undefined) await fetch("data:,").catch(() => undefined);
  const previous = g[DISPATCHER] as { constructor: new (opts: { connect: { ca: string } }) => unknown } | undefined;
  if (!previous) throw new Error("trustCaInNode: Node's fetch dispatcher not found (Node's undici changed?)");
  const Agent = previous.constructor;
  g[DISPATCHER] = new Agent({ connect: { ca: caPem } });
  const previousWebSocket = g.WebSocket;
  class TrustingWebSocket extends WsWebSocket {
    constructor(address: string | URL, protocols?: string | string[], options?: ClientOptions) {
      super(address, protocols, { ...options, ca: caPem });
    }
  }
  g.WebSocket = TrustingWebSocket;
  return () => {
    g[DISPATCHER] = previous;
    g.WebSocket = previousWebSocket;
  };
}
