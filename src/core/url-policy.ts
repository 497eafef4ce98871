// Where the receiver may fetch an external payload from (docs/protocol.md §4): the URL rules and the classification of
// the addresses a host name resolves to. Pure: the DNS lookup itself is injected (src/platform/dns-resolver.ts in
// Thunderbird, node:dns in tests). The aim is that a sender cannot make the receiver send a request into the user's
// own network (loopback, LAN, link-local metadata services, unique-local IPv6) or to anything but a public HTTPS host.

import { isLoopbackHost } from "./host.js";

/** What an IP address is; everything but "public" is refused for a download (loopback only in a local test setup). */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "shared" // 100.64.0.0/10, carrier-grade NAT
  | "link-local"
  | "unique-local"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved"; // documentation, benchmarking, IETF and future use, deprecated transition forms

export interface UrlPolicyOptions {
  /**
   * Loopback hosts (127.0.0.0/8, ::1, localhost) over http: or https:, on any port. Only while the account's own
   * WebSocket URL is itself on loopback: a local test server, whose uploads are served from there.
   */
  readonly allowLoopback: boolean;
}

export type UrlVerdict =
  /** `resolve`: the host name whose addresses must be checked with checkAddresses() before the fetch. */
  | { readonly ok: true; readonly href: string; readonly resolve: string | null }
  | { readonly ok: false; readonly why: string };

export type AddressVerdict = { readonly ok: true } | { readonly ok: false; readonly why: string };

/** Longest URL looked at (the stanza parser allows 2,048 characters). */
const MAX_URL = 2048;
/**
 * Top-level names that are never a public upload host: RFC 6761/6762/8375 special-use names, the ICANN-reserved
 * .internal, and names in common private use that ICANN will not delegate (.corp, .home, .lan …). A name under one of
 * them is refused before any DNS lookup; anything else must still resolve to public addresses only.
 */
const PRIVATE_TLDS = new Set(["localhost", "local", "localdomain", "internal", "intranet", "lan", "home", "corp", "private", "arpa", "invalid", "test", "example", "onion", "alt"]);
const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

/**
 * Checks an external payload's URL before anything is fetched. Accepted: `https:` on the default port, no user info,
 * a DNS host name of at least two labels outside the private-use names — never an IP literal in any notation (the
 * WHATWG parser turns `127.1`, `0x7f.1`, `2130706433` into dotted IPv4, so they are seen as literals here too). With
 * `allowLoopback`, also `http:`/`https:` to a loopback host on any port (no DNS check needed for it).
 */
export function checkDownloadUrl(url: string, options: UrlPolicyOptions): UrlVerdict {
  if (url.length > MAX_URL) return { ok: false, why: "URL too long" };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, why: "not a URL" };
  }
  if (parsed.username !== "" || parsed.password !== "") return { ok: false, why: "URL with credentials" };
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return { ok: false, why: `scheme ${parsed.protocol} not allowed` };
  const host = parsed.hostname.toLowerCase();
  const literal = ipLiteral(host);
  if (options.allowLoopback && isLoopbackHost(host)) {
    return { ok: true, href: parsed.href, resolve: null };
  }
  if (parsed.protocol !== "https:") return { ok: false, why: "only https:// is allowed" };
  if (parsed.port !== "") return { ok: false, why: `port ${parsed.port} not allowed (only the default port)` };
  if (literal !== null) return { ok: false, why: `an IP address (${host}) instead of a host name` };
  const name = host.endsWith(".") ? host.slice(0, -1) : host;
  if (name.length === 0 || name.length > 253) return { ok: false, why: "not a host name" };
  const labels = name.split(".");
  if (labels.length < 2) return { ok: false, why: `single-label host name ${name}` };
  if (!labels.every((l) => LABEL.test(l))) return { ok: false, why: `not a DNS host name: ${name}` };
  if (PRIVATE_TLDS.has(labels.at(-1)!)) return { ok: false, why: `a private-use name: ${name}` };
  if (/^\d+$/.test(labels.at(-1)!)) return { ok: false, why: `a numeric top-level label: ${name}` };
  return { ok: true, href: parsed.href, resolve: name };
}

/**
 * Checks every address a host name resolved to: all must be public (loopback too with `allowLoopback`). One private
 * address is enough to refuse: the fetch may use any of them.
 */
export function checkAddresses(addresses: readonly string[], options: UrlPolicyOptions): AddressVerdict {
  if (addresses.length === 0) return { ok: false, why: "the host name has no address" };
  if (addresses.length > 64) return { ok: false, why: "too many addresses" };
  for (const address of addresses) {
    const kind = classifyAddress(address);
    if (kind === null) return { ok: false, why: `not an IP address: ${address.slice(0, 64)}` };
    if (kind === "public" || (kind === "loopback" && options.allowLoopback)) continue;
    return { ok: false, why: `resolves to a ${kind} address (${address})` };
  }
  return { ok: true };
}

/** The address in a URL hostname that is an IP literal (dotted IPv4 or bracketed IPv6), else null. */
function ipLiteral(host: string): string | null {
  if (host.startsWith("[") && host.endsWith("]")) return host.slice(1, -1);
  return parseIPv4(host) !== null ? host : null;
}

/**
 * Classifies an IP address as a resolver returns it: dotted-quad IPv4, or IPv6 (any RFC 4291 text form, with an
 * embedded IPv4 tail, optionally with a %zone). Null when `text` is not an address.
 */
export function classifyAddress(text: string): AddressClass | null {
  const v4 = parseIPv4(text);
  if (v4 !== null) return classifyIPv4(v4);
  const v6 = parseIPv6(text);
  return v6 === null ? null : classifyIPv6(v6);
}

/** Strict dotted-decimal IPv4 (four parts, 0–255, no leading zeros) as one unsigned 32-bit number. */
function parseIPv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const part = m[i]!;
    if (part.length > 1 && part.startsWith("0")) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

const inV4 = (a: number, base: string, bits: number): boolean => {
  const b = parseIPv4(base)!;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
};

function classifyIPv4(a: number): AddressClass {
  if (inV4(a, "127.0.0.0", 8)) return "loopback";
  if (inV4(a, "0.0.0.0", 8)) return "unspecified";
  if (inV4(a, "10.0.0.0", 8) || inV4(a, "172.16.0.0", 12) || inV4(a, "192.168.0.0", 16)) return "private";
  if (inV4(a, "100.64.0.0", 10)) return "shared";
  if (inV4(a, "169.254.0.0", 16)) return "link-local";
  if (a === 0xffffffff) return "broadcast";
  if (inV4(a, "224.0.0.0", 4)) return "multicast";
  if (
    inV4(a, "240.0.0.0", 4) || // future use
    inV4(a, "192.0.0.0", 24) || // IETF protocol assignments
    inV4(a, "192.0.2.0", 24) || // TEST-NET-1
    inV4(a, "198.51.100.0", 24) || // TEST-NET-2
    inV4(a, "203.0.113.0", 24) || // TEST-NET-3
    inV4(a, "198.18.0.0", 15) || // benchmarking
    inV4(a, "192.88.99.0", 24) // 6to4 relay anycast (deprecated)
  ) {
    return "reserved";
  }
  return "public";
}

/** IPv6 text → 8 groups of 16 bits. Accepts `::` once, an IPv4 tail, and a `%zone` suffix (ignored). */
function parseIPv6(input: string): number[] | null {
  if (input.length > 100) return null;
  let text = input.toLowerCase();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (!/^[0-9a-f:.]+$/.test(text) || !text.includes(":")) return null;
  if (text.includes(".")) {
    // An IPv4 tail ("::ffff:10.0.0.1") becomes its two 16-bit groups.
    const lastColon = text.lastIndexOf(":");
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    text = `${text.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    for (const g of s.split(":")) {
      if (!/^[0-9a-f]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || rest === null) return null;
  let all: number[];
  if (halves.length === 2) {
    const fill = 8 - head.length - rest.length;
    if (fill < 1) return null;
    all = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    all = head;
  }
  return all.length === 8 ? all : null;
}

function classifyIPv6(g: number[]): AddressClass {
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  const v4 = () => g[6]! * 65536 + g[7]!;
  if (zeros(0, 8)) return "unspecified";
  if (zeros(0, 7) && g[7] === 1) return "loopback";
  if (zeros(0, 5) && g[5] === 0xffff) return classifyIPv4(v4()); // ::ffff:a.b.c.d, IPv4-mapped
  if (zeros(0, 6)) return "reserved"; // ::a.b.c.d, IPv4-compatible (deprecated)
  // 64:ff9b::/96, the NAT64 well-known prefix: the IPv4 address it reaches decides (DNS64 on IPv6-only networks).
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return classifyIPv4(v4());
  const first = g[0]!;
  if (first >= 0xff00) return "multicast";
  if ((first & 0xffc0) === 0xfe80) return "link-local";
  if ((first & 0xffc0) === 0xfec0) return "private"; // site-local (deprecated)
  if ((first & 0xfe00) === 0xfc00) return "unique-local";
  // Only 2000::/3 is global unicast; within it, special blocks.
  if ((first & 0xe000) !== 0x2000) return "reserved";
  if (first === 0x2002) return classifyIPv4(g[1]! * 65536 + g[2]!); // 6to4: the embedded IPv4 address
  if (first === 0x2001 && g[1]! < 0x0200) return "reserved"; // 2001::/23, IETF protocol assignments (incl. Teredo)
  if (first === 0x2001 && g[1] === 0x0db8) return "reserved"; // documentation
  if ((first & 0xfff0) === 0x3ff0) return "reserved"; // 3fff::/20, documentation
  return "public";
}
