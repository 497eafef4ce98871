// XEP-0156: find the XMPP WebSocket endpoint of a domain from https://<domain>/.well-known/host-meta(.json).
import { Parser } from "@xmpp/xml";
import type { Element } from "@xmpp/xml";

const REL_WEBSOCKET = "urn:xmpp:alt-connections:websocket";
const MAX_HOST_META_BYTES = 64 * 1024;

/** Extracts WebSocket URLs from a host-meta document (JSON or XRD). Only wss:// URLs are returned. */
export function parseHostMeta(body: string): string[] {
  const text = body.trim();
  if (text.length > MAX_HOST_META_BYTES) throw new Error("host-meta document too large");
  const hrefs: string[] = [];
  if (text.startsWith("{")) {
    const doc: unknown = JSON.parse(text);
    const links = (doc as { links?: unknown }).links;
    if (Array.isArray(links)) {
      for (const link of links) {
        const { rel, href } = (link ?? {}) as { rel?: unknown; href?: unknown };
        if (rel === REL_WEBSOCKET && typeof href === "string") hrefs.push(href);
      }
    }
  } else {
    for (const link of topLevelElements(text)) {
      if (link.name === "Link" && link.attrs.rel === REL_WEBSOCKET && link.attrs.href) hrefs.push(link.attrs.href);
    }
  }
  return hrefs.filter((href) => {
    try {
      return new URL(href).protocol === "wss:";
    } catch {
      return false;
    }
  });
}

/** Parses an XRD document and returns its top-level children (the streaming parser emits them one by one). */
function topLevelElements(text: string): Element[] {
  const parser = new Parser();
  const children: Element[] = [];
  let complete = false;
  let failure: Error | null = null;
  parser.on("element", (el: Element) => children.push(el));
  parser.on("end", () => {
    complete = true;
  });
  parser.on("error", (error: Error) => {
    failure ??= error;
  });
  parser.write(text);
  if (failure) throw failure;
  if (!complete) throw new Error("host-meta is not a complete XML document");
  return children;
}

export type FetchText = (url: string, timeoutMs: number) => Promise<{ ok: boolean; text: string }>;

/**
 * Asks for host-meta.json and host-meta at once (each within `timeoutMs`); resolves with the first wss:// endpoint,
 * host-meta.json's first, or an explanation.
 */
export async function discoverWebsocket(
  domain: string,
  fetchText: FetchText,
  timeoutMs = 5_000,
): Promise<{ url: string } | { error: string }> {
  if (!/^[a-z0-9.-]+$/i.test(domain) || domain.length > 253) return { error: `not a valid domain: ${domain}` };
  const paths = ["/.well-known/host-meta.json", "/.well-known/host-meta"];
  const answers = await Promise.all(
    paths.map(async (path): Promise<{ url: string } | { problem: string }> => {
      try {
        const res = await fetchText(`https://${domain}${path}`, timeoutMs);
        if (!res.ok) return { problem: `${path}: no document` };
        const [first] = parseHostMeta(res.text);
        return first ? { url: first } : { problem: `${path}: no secure WebSocket link` };
      } catch (error) {
        return { problem: `${path}: ${error instanceof Error ? error.message : String(error)}` };
      }
    }),
  );
  for (const answer of answers) if ("url" in answer) return { url: answer.url };
  return { error: `${domain} publishes no XMPP WebSocket endpoint (${answers.map((a) => ("problem" in a ? a.problem : "")).join("; ")})` };
}
