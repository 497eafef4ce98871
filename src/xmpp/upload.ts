// XEP-0363 HTTP File Upload: find the account's upload service, ask it for a slot, PUT the (already encrypted) bytes,
// and download a payload on the receiving side with hard bounds on size, time and transport security.
// Runs in Node and in Thunderbird: fetch, AbortController, Uint8Array only.
import xml, { type Element } from "@xmpp/xml";
import { NS_DISCO_INFO } from "../core/caps.js";
import { checkAddresses, checkDownloadUrl } from "../core/url-policy.js";
import type { XmppSession } from "./session.js";
import { isLoopbackHost } from "../core/host.js";
import { DeadlineError, withAbortDeadline } from "../core/scheduler.js";
import { realScheduler } from "./runtime.js";

export const NS_UPLOAD = "urn:xmpp:http:upload:0";
const NS_DISCO_ITEMS = "http://jabber.org/protocol/disco#items";
const NS_DATA = "jabber:x:data";
/** Upload components are few; a server listing hundreds of items is not queried item by item beyond this. */
const MAX_DISCO_ITEMS = 32;
/** Headers a slot may ask us to send (XEP-0363 §5); everything else is dropped. Canonical spelling. */
const ALLOWED_PUT_HEADERS = new Map([
  ["authorization", "Authorization"],
  ["cookie", "Cookie"],
  ["expires", "Expires"],
]);

export interface UploadService {
  readonly jid: string;
  /** From the service's XEP-0128 form; null when it states none. */
  readonly maxFileSize: number | null;
}

export interface UploadSlot {
  readonly putUrl: string;
  readonly putHeaders: Readonly<Record<string, string>>;
  readonly getUrl: string;
}

export type UploadErrorCode =
  | "no-service"
  | "too-large"
  | "slot-refused"
  | "insecure-url"
  | "http-status"
  | "timeout"
  | "network"
  | "oversize-download"
  /** A received URL the download policy does not allow (docs/protocol.md §4). */
  | "refused-url";

export class UploadError extends Error {
  override readonly name = "UploadError";
  constructor(
    readonly code: UploadErrorCode,
    message: string,
    /** The HTTP status, for code "http-status". */
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Discovery

/**
 * Finds the upload service of `domain`: the domain itself or one of its disco#items that announces NS_UPLOAD.
 * Resolves null when there is none. Entities that answer with an error are skipped; if nothing was found and some
 * query could not be answered at all (timeout, offline), rejects instead, so "no service" is never a guess.
 */
export async function discoverUploadService(session: XmppSession, domain: string, timeoutMs: number): Promise<UploadService | null> {
  const deadline = Date.now() + timeoutMs;
  const left = () => Math.max(1, deadline - Date.now());
  let unanswered: unknown = null;
  const info = (jid: string): Promise<Element | null> =>
    discoInfo(session, jid, left()).catch((error: unknown) => {
      if (!isStanzaError(error)) unanswered ??= error;
      return null;
    });

  const [own, items] = await Promise.all([
    info(domain),
    session
      .request(xml("iq", { type: "get", to: domain }, xml("query", { xmlns: NS_DISCO_ITEMS })), left())
      .then(
        (reply) => itemJids(reply),
        (error: unknown) => {
          if (!isStanzaError(error)) unanswered ??= error;
          return [] as string[];
        },
      ),
  ]);
  const ownService = own ? uploadServiceFrom(domain, own) : null;
  if (ownService) return ownService;

  const candidates = items.filter((jid) => jid !== domain).slice(0, MAX_DISCO_ITEMS);
  const infos = await Promise.all(candidates.map((jid) => info(jid)));
  for (let i = 0; i < candidates.length; i++) {
    const reply = infos[i];
    const service = reply ? uploadServiceFrom(candidates[i]!, reply) : null;
    if (service) return service;
  }
  if (unanswered !== null) throw toUploadError(unanswered, "upload service discovery");
  return null;
}

function discoInfo(session: XmppSession, jid: string, timeoutMs: number): Promise<Element> {
  return session.request(xml("iq", { type: "get", to: jid }, xml("query", { xmlns: NS_DISCO_INFO })), timeoutMs);
}

function itemJids(reply: Element): string[] {
  const query = reply.getChild("query", NS_DISCO_ITEMS);
  if (!query) return [];
  const jids: string[] = [];
  for (const item of query.getChildren("item")) {
    const jid = item.attrs.jid;
    // Items with a node are not separate entities; an upload service is one.
    if (jid && item.attrs.node === undefined && !jids.includes(jid)) jids.push(jid);
  }
  return jids;
}

function uploadServiceFrom(jid: string, reply: Element): UploadService | null {
  const query = reply.getChild("query", NS_DISCO_INFO);
  if (!query) return null;
  if (!query.getChildren("feature").some((f) => f.attrs.var === NS_UPLOAD)) return null;
  return { jid, maxFileSize: maxFileSizeFrom(query) };
}

/** max-file-size from the XEP-0128 form whose FORM_TYPE is NS_UPLOAD; null if absent or not a plain integer. */
function maxFileSizeFrom(query: Element): number | null {
  for (const form of query.getChildren("x", NS_DATA)) {
    const fields = form.getChildren("field");
    const formType = fields.find((f) => f.attrs.var === "FORM_TYPE")?.getChildText("value")?.trim();
    if (formType !== NS_UPLOAD) continue;
    const text = fields.find((f) => f.attrs.var === "max-file-size")?.getChildText("value")?.trim();
    if (!text || !/^\d{1,15}$/.test(text)) return null;
    return Number(text);
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Slot

/**
 * Asks the service for an upload slot. Refuses locally (no request) a file above the service's stated maximum.
 * The reply is validated: both URLs must be https:// (http:// only on loopback), and only the Authorization, Cookie
 * and Expires headers are kept, none with a line break.
 */
export async function requestSlot(
  session: XmppSession,
  service: UploadService,
  file: { filename: string; size: number; contentType: string },
  timeoutMs: number,
): Promise<UploadSlot> {
  if (!Number.isSafeInteger(file.size) || file.size < 0) throw new UploadError("slot-refused", `not a file size: ${file.size}`);
  if (!file.filename || file.filename.includes("/") || /[\u0000-\u001f]/.test(file.filename)) {
    throw new UploadError("slot-refused", "not a usable file name");
  }
  if (service.maxFileSize !== null && file.size > service.maxFileSize) {
    throw new UploadError("too-large", `${file.size} bytes is more than the upload service's limit of ${service.maxFileSize}`);
  }
  let reply: Element;
  try {
    reply = await session.request(
      xml(
        "iq",
        { type: "get", to: service.jid },
        xml("request", { xmlns: NS_UPLOAD, filename: file.filename, size: String(file.size), "content-type": file.contentType }),
      ),
      timeoutMs,
    );
  } catch (error) {
    if (isStanzaError(error)) {
      const { condition, text } = stanzaErrorParts(error as StanzaErrorLike);
      const detail = `${condition}${text ? ` (${text})` : ""}`;
      if ((error as StanzaErrorLike).element?.getChild("file-too-large", NS_UPLOAD)) {
        throw new UploadError("too-large", `the upload service refused the file as too large: ${detail}`);
      }
      throw new UploadError("slot-refused", `the upload service refused a slot: ${detail}`);
    }
    throw toUploadError(error, "slot request");
  }
  return parseSlot(reply);
}

function parseSlot(reply: Element): UploadSlot {
  const slot = reply.getChild("slot", NS_UPLOAD);
  const put = slot?.getChild("put");
  const get = slot?.getChild("get");
  const putUrl = put?.attrs.url;
  const getUrl = get?.attrs.url;
  if (!put || !putUrl || !getUrl) throw new UploadError("slot-refused", "the upload service sent no usable slot");
  const putHeaders: Record<string, string> = {};
  for (const header of put.getChildren("header")) {
    const name = ALLOWED_PUT_HEADERS.get((header.attrs.name ?? "").trim().toLowerCase());
    if (!name) continue; // XEP-0363: other headers MUST be ignored
    const value = header.text().trim();
    if (/[\r\n\u0000]/.test(value)) throw new UploadError("slot-refused", `the slot's ${name} header contains a line break`);
    putHeaders[name] = value;
  }
  return { putUrl: checkedUrl(putUrl), putHeaders, getUrl: checkedUrl(getUrl) };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

/** Parses `url` and requires https:, or http: to a loopback host; returns the normalised URL. Throws insecure-url. */
function checkedUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UploadError("insecure-url", "not a URL");
  }
  const secure = parsed.protocol === "https:" || (parsed.protocol === "http:" && isLoopbackHost(parsed.hostname));
  if (!secure) throw new UploadError("insecure-url", `only https:// URLs are allowed (got ${parsed.protocol}//${parsed.host})`);
  if (parsed.username || parsed.password) throw new UploadError("insecure-url", "URLs with credentials are not allowed");
  return parsed.href;
}

/** PUTs `data` to the slot. Resolves on 200/201; rejects with UploadError otherwise, at the latest after timeoutMs. */
export async function uploadBytes(slot: UploadSlot, data: Uint8Array, timeoutMs: number, fetchFn: typeof fetch = fetch): Promise<void> {
  const url = checkedUrl(slot.putUrl);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(slot.putHeaders)) {
    const canonical = ALLOWED_PUT_HEADERS.get(name.toLowerCase());
    if (canonical && !/[\r\n\u0000]/.test(value)) headers[canonical] = value;
  }
  // Content-Length comes from the byte body itself: fetch sets it (browsers forbid setting it by hand).
  headers["Content-Type"] = "application/octet-stream";
  await withDeadline(timeoutMs, "upload", async (signal) => {
    const body = data.buffer instanceof ArrayBuffer ? (data as Uint8Array<ArrayBuffer>) : new Uint8Array(data);
    // No redirects: a PUT body must not be re-sent somewhere the slot did not name.
    const response = await fetchFn(url, { method: "PUT", headers, body, redirect: "error", signal, credentials: "omit", cache: "no-store" });
    await cancelBody(response); // only the status matters; never read an answer of unknown size
    if (response.status !== 200 && response.status !== 201) {
      throw new UploadError("http-status", `the upload service answered HTTP ${response.status}`, response.status);
    }
  });
}

/**
 * GETs `url` and returns its body, reading at most `maxBytes` (the stream is aborted as soon as more arrives; a
 * Content-Length is never trusted to be small). https:// only (http:// to loopback). No redirect is followed: a
 * redirect fails the download (a browser's fetch hides where a redirect points, so its target could not be checked).
 * Which hosts a received URL may name at all is checkDownloadTarget()'s business, before this is called.
 */
export async function downloadBytes(url: string, maxBytes: number, timeoutMs: number, fetchFn: typeof fetch = fetch): Promise<Uint8Array> {
  const checked = checkedUrl(url);
  return withDeadline(timeoutMs, "download", async (signal) => {
    const response = await fetchFn(checked, {
      method: "GET",
      signal,
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
      referrerPolicy: "no-referrer",
      headers: { Accept: "application/octet-stream" },
    });
    if (response.status !== 200) {
      await cancelBody(response);
      throw new UploadError("http-status", `the download answered HTTP ${response.status}`, response.status);
    }
    const declared = Number(response.headers.get("content-length") ?? "");
    if (Number.isFinite(declared) && declared > maxBytes) {
      await cancelBody(response);
      throw new UploadError("oversize-download", `the download announces ${declared} bytes, more than ${maxBytes}`);
    }
    return readBounded(response, maxBytes);
  });
}

/** The addresses of a host name (messenger.dns.resolve in Thunderbird, node:dns in tests). */
export type HostResolver = (host: string) => Promise<readonly string[]>;

/** Where a received external payload may be fetched from (src/core/url-policy.ts, docs/protocol.md §4). */
export interface DownloadPolicy {
  /** Loopback hosts over http or https on any port: only while the account's own WebSocket URL is on loopback. */
  readonly allowLoopback: boolean;
  /** Null: host names cannot be checked, so none is accepted (only loopback literals, when allowed). */
  readonly resolve: HostResolver | null;
}

/**
 * Checks a received URL before anything is fetched: the URL rules, then every address of its host name. Resolves
 * with the URL to fetch; rejects with UploadError "refused-url" (or "timeout" when DNS does not answer in time).
 */
export async function checkDownloadTarget(url: string, policy: DownloadPolicy, timeoutMs: number): Promise<string> {
  const options = { allowLoopback: policy.allowLoopback };
  const verdict = checkDownloadUrl(url, options);
  if (!verdict.ok) throw new UploadError("refused-url", verdict.why);
  if (verdict.resolve === null) return verdict.href;
  const resolve = policy.resolve;
  if (!resolve) throw new UploadError("refused-url", `no resolver to check ${verdict.resolve}`);
  const host = verdict.resolve;
  const addresses = await withDeadline(timeoutMs, `resolving ${host}`, async () => {
    try {
      return await resolve(host);
    } catch (error) {
      throw new UploadError("refused-url", `${host} does not resolve: ${describe(error)}`);
    }
  });
  const checked = checkAddresses(addresses, options);
  if (!checked.ok) throw new UploadError("refused-url", `${host}: ${checked.why}`);
  return verdict.href;
}

async function readBounded(response: Response, maxBytes: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new UploadError("oversize-download", `the download is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Runs `work` with an AbortSignal that fires after timeoutMs; maps failures to UploadError ("timeout" when our
 * deadline fired, "network" for transport failures). The deadline covers reading the body too.
 */
async function withDeadline<T>(timeoutMs: number, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  try {
    // The deadline holds even if a fetch implementation ignored the signal.
    return await withAbortDeadline(realScheduler, Math.max(1, timeoutMs), `${what} did not finish within ${timeoutMs} ms`, work);
  } catch (error) {
    if (error instanceof UploadError) throw error;
    if (error instanceof DeadlineError) {
      if (error.cause instanceof UploadError) throw error.cause;
      throw new UploadError("timeout", error.message);
    }
    throw new UploadError("network", `${what} failed: ${describe(error)}`);
  }
}

async function cancelBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already closed
  }
}

// ---------------------------------------------------------------------------------------------------------------

interface StanzaErrorLike {
  condition?: string;
  text?: string;
  application?: Element;
  element?: Element;
}

const NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas";

/**
 * The defined condition and text of a stanza error, wherever they stand in <error/>. xmpp.js takes the first child as
 * the condition, but ejabberd 23.01 puts the application element (<file-too-large/>) first.
 */
function stanzaErrorParts(error: StanzaErrorLike): { condition: string; text: string } {
  const children = error.element?.getChildElements() ?? [];
  const condition = children.find((c) => c.attrs.xmlns === NS_STANZAS && c.name !== "text")?.name ?? error.condition ?? "error";
  const text = children.find((c) => c.name === "text" && c.attrs.xmlns === NS_STANZAS)?.text() ?? error.text ?? "";
  return { condition, text };
}

function isStanzaError(error: unknown): boolean {
  return error instanceof Error && error.name === "StanzaError";
}

function toUploadError(error: unknown, what: string): UploadError {
  if (error instanceof UploadError) return error;
  if (error instanceof Error && error.name === "TimeoutError") return new UploadError("timeout", `${what}: no answer in time`);
  return new UploadError("network", `${what} failed: ${describe(error)}`);
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}

// ---------------------------------------------------------------------------------------------------------------
// Cross-origin access (docs/protocol.md, "External payloads"): in Thunderbird the add-on's fetch is cross-origin.
// It reaches an upload host only when that host sends CORS headers (Prosody does) or the user granted the add-on a
// host permission for it (a background-page fetch to a permitted host is not subject to CORS). ejabberd's
// mod_http_upload sends no CORS headers unless its admin adds them.

/**
 * The host-permission match pattern that covers `url`: `https://<host>/*`, or `http://127.0.0.1/*` for a loopback
 * test server on 127.0.0.1 (every port). Null for any other URL: the add-on never asks for anything wider.
 */
export function uploadOriginPattern(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.username || parsed.password) return null;
  if (parsed.protocol === "https:" && parsed.hostname !== "" && !parsed.hostname.includes("*")) return `https://${parsed.hostname}/*`;
  if (parsed.protocol === "http:" && parsed.hostname === "127.0.0.1") return "http://127.0.0.1/*";
  return null;
}

/**
 * Can this code use `url` cross-origin? An OPTIONS request in cors mode: not a "simple" method, so without a host
 * permission the browser first sends a CORS preflight, as it does for the real PUT, and the request succeeds only when
 * the host answers it with Access-Control-Allow-* headers (ejabberd adds its configured CORS headers to OPTIONS and
 * successful answers only, not to a 404 for a URL that holds nothing yet, so a GET would misjudge it). Nothing is
 * stored. Any HTTP answer means yes ("readable"). When that fails, a GET in `no-cors` mode tells a host that answers
 * without CORS headers ("no-cors": the browser hides the answer) from one that does not answer at all ("unreachable").
 * In Node (no CORS) every answer is "readable". Never rejects.
 */
export async function probeCrossOrigin(url: string, timeoutMs: number, fetchFn: typeof fetch = fetch): Promise<"readable" | "no-cors" | "unreachable"> {
  const attempt = async (mode: RequestMode): Promise<boolean> => {
    try {
      await withDeadline(timeoutMs, "probe", async (signal) => {
        // Fetch allows no-cors only for GET/HEAD/POST with redirect "follow"; the URL is the own server's slot and
        // the (opaque) answer is never read.
        const init: RequestInit =
          mode === "no-cors"
            ? { method: "GET", mode, redirect: "follow", signal, credentials: "omit", cache: "no-store" }
            : { method: "OPTIONS", mode, redirect: "manual", signal, credentials: "omit", cache: "no-store" };
        const response = await fetchFn(url, init);
        await cancelBody(response);
      });
      return true;
    } catch {
      return false;
    }
  };
  if (await attempt("cors")) return "readable";
  return (await attempt("no-cors")) ? "no-cors" : "unreachable";
}
