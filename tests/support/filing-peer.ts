// A recipient for sender-side measurements, written against docs/protocol.md with a stock xmpp.js client: it fetches
// an external copy (or decodes an inline one), checks the hash, keeps the mail in memory and answers `<filed/>`.
// Used by the slow-link test and bench, where the recipient's own link is not the subject (it connects directly).
import { client as stockClient, xml, type StockClient } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { decodeBase64Strict } from "../../src/core/base64.js";
import { openPayload, sha256Base64 } from "../../src/core/payload-crypto.js";
import { NS_MAIL } from "../../src/core/protocol.js";
import { buildFiledReceipt, buildRejection } from "../../src/xmpp/mail-stanza.js";
import { downloadBytes } from "../../src/xmpp/upload.js";
import type { XmppServer } from "./servers.js";

export interface FilingPeer {
  /** Ids of the mail stanzas filed, in order. */
  readonly filed: string[];
  /** Ids of every mail stanza that arrived (filed or not). */
  readonly arrived: string[];
  stop(): Promise<void>;
}

export async function startFilingPeer(server: XmppServer, user: string, password: string): Promise<FilingPeer> {
  const xmpp: StockClient = stockClient({ service: server.wsUrl, domain: server.domain, username: user, password, resource: "peer" });
  xmpp.on("error", () => {});
  const filed: string[] = [];
  const arrived: string[] = [];
  xmpp.on("stanza", (stanza: Element) => {
    void (async () => {
      const mail = stanza.getChild("mail", NS_MAIL);
      if (!stanza.is("message") || !mail) return;
      const from = stanza.attrs.from!;
      const id = stanza.attrs.id!;
      arrived.push(id);
      const size = Number(mail.attrs.size);
      const inline = mail.getChild("inline");
      const external = mail.getChild("external");
      let raw: Uint8Array;
      if (inline) raw = decodeBase64Strict(inline.text(), size);
      else {
        const ciphertext = await downloadBytes(external!.attrs.url!, Number(external!.attrs.size), 60_000);
        raw = await openPayload(ciphertext, { key: external!.attrs.key!, iv: external!.attrs.iv!, sha256: mail.attrs.sha256! }, size);
      }
      if ((await sha256Base64(raw)) !== mail.attrs.sha256) return xmpp.send(buildRejection(from, id, "hash-mismatch"));
      filed.push(id);
      await xmpp.send(buildFiledReceipt(from, id));
    })().catch(() => undefined);
  });
  await xmpp.start();
  await xmpp.send(xml("presence"));
  return { filed, arrived, stop: () => xmpp.stop().then(() => undefined, () => undefined) };
}

/** A syntactically plain mail of exactly `bytes` octets (headers, then filler lines of 76 letters). */
export function mailOfSize(bytes: number, from = "bob@localhost", to = "alice@localhost"): Uint8Array {
  const head = new TextEncoder().encode(`From: ${from}\r\nTo: ${to}\r\nSubject: slow link ${bytes}\r\nMessage-ID: <s${bytes}.${Date.now()}@localhost>\r\n\r\n`);
  const out = new Uint8Array(bytes);
  out.set(head);
  for (let i = head.length; i < bytes; i++) {
    const col = (i - head.length) % 78;
    out[i] = col === 76 ? 0x0d : col === 77 ? 0x0a : 0x41 + (i % 26);
  }
  return out;
}
