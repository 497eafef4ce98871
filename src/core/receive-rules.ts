// The receiving side's pure rules: de-duplication, the sender check, and the trace header.

/** A bounded set of seen keys, oldest dropped first; serializable so it survives a restart. */
export class DedupeSet {
  readonly #keys = new Set<string>();
  readonly #max: number;

  constructor(max = 5000, saved: unknown = []) {
    this.#max = max;
    if (Array.isArray(saved)) for (const k of saved) if (typeof k === "string") this.add(k);
  }

  has(key: string): boolean {
    return this.#keys.has(key);
  }

  add(key: string): void {
    this.#keys.delete(key);
    this.#keys.add(key);
    while (this.#keys.size > this.#max) {
      const oldest = this.#keys.values().next().value;
      if (oldest === undefined) break;
      this.#keys.delete(oldest);
    }
  }

  toJSON(): string[] {
    return [...this.#keys];
  }
}

export const originKey = (fromJid: string, originId: string) => `origin:${fromJid.toLowerCase()}/${originId}`;
/** Keyed by sender too: another account reusing someone's Message-ID must not suppress (and falsely confirm) their mail. */
export const messageIdKey = (fromJid: string, messageId: string) => `msgid:${fromJid.toLowerCase()}/${messageId.trim().toLowerCase()}`;

/**
 * Renames trace headers the sender put into the mail ("X-Mail-Over-XMPP: …verified=yes") so that only the one this
 * client prepends carries that name. Only the header block is touched.
 */
export function neutralizeTraceHeaders(raw: Uint8Array): Uint8Array {
  const name = "x-mail-over-xmpp:";
  let headerEnd = raw.length;
  for (let i = 0; i + 1 < raw.length; i++) {
    if (raw[i] === 0x0a && (raw[i + 1] === 0x0a || (raw[i + 1] === 0x0d && raw[i + 2] === 0x0a))) {
      headerEnd = i + 1;
      break;
    }
  }
  const hits: number[] = [];
  for (let i = 0; i < headerEnd; i = raw.indexOf(0x0a, i) + 1 || headerEnd) {
    let match = true;
    for (let j = 0; j < name.length && match; j++) match = (raw[i + j] ?? 0) === name.charCodeAt(j) || (raw[i + j] ?? 0) === name.toUpperCase().charCodeAt(j);
    if (match) hits.push(i);
  }
  if (hits.length === 0) return raw;
  const out = new Uint8Array(raw);
  // Same length: "X-Mail-Over-XMPP" → "X-Untrusted-Mox-" keeps every offset, the colon stays where it was.
  const replacement = new TextEncoder().encode("X-Untrusted-Mox-");
  for (const at of hits) out.set(replacement, at);
  return out;
}

export interface SenderEvidence {
  /** addr-specs of the mail's From: header, lowercased. */
  readonly fromAddresses: readonly string[];
  /** The single From header is not exactly one mailbox (`[name] <addr-spec>` or `addr-spec`, nothing after it). */
  readonly fromUnclear?: boolean;
  /** Bare JID the servers authenticated, lowercased. */
  readonly senderJid: string;
  /** JIDs the user confirmed for the (single) From address. */
  readonly confirmedJids: readonly string[];
  /** JIDs that address-book contacts with that e-mail address hold in their XMPP field. */
  readonly addressBookJids: readonly string[];
  /** Whether the sender is in the address book at all. */
  readonly senderKnown: boolean;
}

export type SenderVerdict =
  | { readonly verified: true; readonly how: "same-address" | "confirmed-mapping" | "address-book"; readonly known: boolean }
  | {
      readonly verified: false;
      /** The last two: a version 1 mail whose signature does not verify (docs/protocol.md §10.6.2). */
      readonly reason: "no-from" | "multiple-from" | "unclear-from" | "mismatch" | "unknown-sender-device" | "bad-signature";
    };

/**
 * Nothing is presented as from an address the sender's JID was not checked against: exactly one From address, equal
 * to the JID, or bound to it by the user or the address book.
 */
export function checkSender(e: SenderEvidence): SenderVerdict {
  if (e.fromAddresses.length === 0) return { verified: false, reason: "no-from" };
  if (e.fromAddresses.length > 1) return { verified: false, reason: "multiple-from" };
  if (e.fromUnclear) return { verified: false, reason: "unclear-from" };
  const from = e.fromAddresses[0]!.toLowerCase();
  const jid = e.senderJid.toLowerCase();
  const known = e.senderKnown || e.addressBookJids.some((j) => j.toLowerCase() === jid);
  if (from === jid) return { verified: true, how: "same-address", known };
  if (e.confirmedJids.some((j) => j.toLowerCase() === jid)) return { verified: true, how: "confirmed-mapping", known };
  if (e.addressBookJids.some((j) => j.toLowerCase() === jid)) return { verified: true, how: "address-book", known: true };
  return { verified: false, reason: "mismatch" };
}

const clean = (value: string) => value.replace(/[\r\n;=]/g, " ").slice(0, 200);

/** One header line recording the XMPP route and the verdict, prepended to the mail before filing. */
export function traceHeader(info: { fromJid: string; verified: boolean; how?: string; originId: string; receivedAt: Date; e2e?: boolean; keyChanged?: boolean }): string {
  const parts = [
    `from=${clean(info.fromJid)}`,
    `verified=${info.verified ? "yes" : "no"}`,
    ...(info.how ? [`how=${clean(info.how)}`] : []),
    `origin-id=${clean(info.originId)}`,
    `received=${info.receivedAt.toISOString()}`,
    // docs/protocol.md §10.8: end-to-end encrypted and signed by a device of the sender; signed by a device not pinned.
    ...(info.e2e === undefined ? [] : [`e2e=${info.e2e ? "yes" : "no"}`]),
    ...(info.keyChanged ? ["key=changed"] : []),
  ];
  return `X-Mail-Over-XMPP: ${parts.join("; ")}\r\n`;
}

export function prependHeader(raw: Uint8Array, headerLine: string): Uint8Array {
  const head = new TextEncoder().encode(headerLine);
  const out = new Uint8Array(head.length + raw.length);
  out.set(head);
  out.set(raw, head.length);
  return out;
}

/**
 * Mail filed over XMPP from a *verified* sender: Message-ID → (From address, when). A later copy of the same mail
 * arriving by SMTP/IMAP is recognized by both (only verified filings count, or anyone could make a genuine mail look
 * like a duplicate by sending a forged one over XMPP first). Bounded, oldest dropped first; serializable.
 */
export class FiledIndex {
  readonly #byId = new Map<string, { from: string; at: number }>();
  readonly #max: number;

  constructor(max = 500, saved: unknown = []) {
    this.#max = max;
    if (!Array.isArray(saved)) return;
    for (const e of saved as unknown[]) {
      const [id, from, at] = Array.isArray(e) ? (e as unknown[]) : [];
      if (typeof id === "string" && typeof from === "string" && typeof at === "number") this.remember(id, from, at);
    }
  }

  static key(messageId: string): string {
    return messageId.trim().replace(/^<|>$/g, "").toLowerCase();
  }

  remember(messageId: string, fromAddress: string, at: number): void {
    const key = FiledIndex.key(messageId);
    this.#byId.delete(key);
    this.#byId.set(key, { from: fromAddress.toLowerCase(), at });
    while (this.#byId.size > this.#max) {
      const oldest = this.#byId.keys().next().value;
      if (oldest === undefined) break;
      this.#byId.delete(oldest);
    }
  }

  /** Message-IDs (without brackets) filed within maxAgeMs before now: the ones whose SMTP copy may still come. */
  recent(now: number, maxAgeMs: number): string[] {
    return [...this.#byId].filter(([, v]) => now - v.at <= maxAgeMs).map(([k]) => k);
  }

  /** Is an arrived mail (its Message-ID and the addresses in its From) a copy of one filed over XMPP? */
  isDuplicate(messageId: string, fromAddresses: readonly string[]): boolean {
    const stored = this.#byId.get(FiledIndex.key(messageId));
    return stored !== undefined && fromAddresses.length === 1 && fromAddresses[0]!.toLowerCase() === stored.from;
  }

  toJSON(): Array<[string, string, number]> {
    return [...this.#byId].map(([k, v]) => [k, v.from, v.at]);
  }
}
