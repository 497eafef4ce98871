// Which hosts never leave this machine. The one rule for every "ws:// / http:// only on loopback" decision: the
// WebSocket URL setting, the discovered WebSocket candidates, the session's "secure enough" test, the upload slot's
// URLs and the receiver's local-test downloads (docs/protocol.md §4).

/** Four dot-separated decimal numbers (range not checked). */
export const DOTTED_QUAD = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
/** Characters that would change the meaning of a host when it is put into a URL. */
export const HOST_FORBIDDEN = /[\s\p{Cc}%/?#@\\:[\]]/u;

/**
 * Is `host` (a bare host name or address, as in URL.hostname) this machine? True for `localhost`,
 * 127.0.0.0/8 and ::1 (with or without brackets), in any spelling the WHATWG URL parser (which the WebSocket and
 * fetch use) maps to them. Not an IPv4-mapped address (::ffff:127.0.0.1), not `localhost.` or `*.localhost`.
 * Anything with a port, a path, user info or whitespace is not a bare host and gives false.
 */
export function isLoopbackHost(host: string): boolean {
  if (host.length === 0 || host.length > 255) return false;
  const h = host.toLowerCase();
  if (h === "localhost") return true;
  const inner = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
  if (inner.includes(":")) {
    if (!/^[0-9a-f:.]+$/.test(inner)) return false;
    try {
      return new URL(`http://[${inner}]/`).hostname === "[::1]";
    } catch {
      return false;
    }
  }
  if (HOST_FORBIDDEN.test(h)) return false;
  let parsed: string;
  try {
    parsed = new URL(`http://${h}/`).hostname;
  } catch {
    return false;
  }
  const m = DOTTED_QUAD.exec(parsed);
  return m !== null && m[1] === "127";
}

/** Is the URL's host loopback (isLoopbackHost)? False for anything that does not parse as a URL. */
export function isLoopbackUrl(url: string): boolean {
  try {
    return isLoopbackHost(new URL(url).hostname);
  } catch {
    return false;
  }
}

/**
 * A name under the special-use `localhost` domain (RFC 6761 §6.3): `localhost` or `*.localhost`. No public
 * certificate or host permission can name it; an address literal is not such a name.
 */
export function isLocalhostName(name: string): boolean {
  const n = name.toLowerCase();
  return n === "localhost" || n.endsWith(".localhost");
}
