// The address↔JID knowledge kept in storage.local, mirrored in memory for the send path: explicit mappings
// ("mappings", shared with the receiving side's sender check), mappings learned from X-Jabber-ID headers
// ("learnedMappings") and the verified senders of mail received over XMPP ("verifiedSenders"). Every value read from
// storage is validated; the stores are bounded.
import { emailKey, isAddressItself, isValidBareJid, MAX_LEARNED_CANDIDATES, type LearnedMapping, type ResolutionData } from "../core/resolve.js";
import { parseXmppDomains } from "../core/settings.js";
import { jidDomain, sameJid } from "../core/jid.js";

const MAPPINGS = "mappings";
const LEARNED = "learnedMappings";
const VERIFIED = "verifiedSenders";
const MAX_ENTRIES = 2000;

type Learned = LearnedMapping;

function readExplicit(raw: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof raw !== "object" || raw === null) return out;
  for (const [address, value] of Object.entries(raw as Record<string, unknown>)) {
    const jid = Array.isArray(value) ? value.find((j): j is string => typeof j === "string" && isValidBareJid(j)) : typeof value === "string" ? value : undefined;
    if (jid && isValidBareJid(jid)) out.set(emailKey(address), jid);
  }
  return out;
}

function readVerified(raw: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (typeof raw !== "object" || raw === null) return out;
  for (const [address, jid] of Object.entries(raw as Record<string, unknown>)) if (typeof jid === "string" && isValidBareJid(jid)) out.set(emailKey(address), jid);
  return out;
}

/**
 * Stored learned mappings. 0.1 stored `{jid, confirmed}` (its resolver used an unconfirmed JID on the address's
 * domain at once); read the same way, such a JID is now only a suggestion unless it is the address itself.
 */
function readLearned(raw: unknown): Map<string, Learned> {
  const out = new Map<string, Learned>();
  if (typeof raw !== "object" || raw === null) return out;
  for (const [address, value] of Object.entries(raw as Record<string, unknown>)) {
    const { jid, confirmed, also } = (value ?? {}) as { jid?: unknown; confirmed?: unknown; also?: unknown };
    if (typeof jid !== "string" || !isValidBareJid(jid)) continue;
    if (confirmed === true) {
      out.set(emailKey(address), { jid, confirmed: true });
      continue;
    }
    const more: string[] = [];
    for (const j of Array.isArray(also) ? also.slice(0, MAX_LEARNED_CANDIDATES) : []) {
      if (more.length >= MAX_LEARNED_CANDIDATES - 1) break;
      if (typeof j === "string" && isValidBareJid(j) && ![jid, ...more].some((k) => sameJid(k, j))) more.push(j);
    }
    out.set(emailKey(address), more.length > 0 ? { jid, confirmed: false, also: more } : { jid, confirmed: false });
  }
  return out;
}


/**
 * The learned mappings bounded to `max` addresses: the confirmed ones (the user's word) are dropped last, so that a
 * flood of mails announcing JIDs for new addresses cannot push them out; within each kind the oldest goes first.
 */
function boundedLearned(map: Map<string, Learned>, max: number): Map<string, Learned> {
  if (map.size <= max) return map;
  let excess = map.size - max;
  const out = new Map(map);
  for (const pass of [false, true]) {
    for (const [key, value] of map) {
      if (excess === 0) return out;
      if (value.confirmed !== pass) continue;
      out.delete(key);
      excess--;
    }
  }
  return out;
}

/** Keeps the newest `max` entries of a map (insertion order = age). */
function bounded<V>(map: Map<string, V>, max: number): Record<string, V> {
  const entries = [...map];
  return Object.fromEntries(entries.slice(Math.max(0, entries.length - max)));
}

export function createResolutionStore() {
  let explicit = new Map<string, string>();
  let learned = new Map<string, Learned>();
  let verified = new Map<string, string>();
  let loaded: Promise<void> | null = null;

  const load = () =>
    (loaded ??= messenger.storage.local.get([MAPPINGS, LEARNED, VERIFIED]).then((got) => {
      explicit = readExplicit(got[MAPPINGS]);
      learned = readLearned(got[LEARNED]);
      verified = readVerified(got[VERIFIED]);
    }));

  return {
    ready: load,
    /** storage.onChanged listener (area "local"). */
    onStorageChanged(changes: Record<string, { newValue?: unknown }>): void {
      if (MAPPINGS in changes) explicit = readExplicit(changes[MAPPINGS]!.newValue);
      if (LEARNED in changes) learned = readLearned(changes[LEARNED]!.newValue);
      if (VERIFIED in changes) verified = readVerified(changes[VERIFIED]!.newValue);
    },
    /** Everything resolution needs, from memory. */
    data(addressBook: ReadonlyMap<string, readonly string[]>, settings: { jid: string; xmppDomains: string }): ResolutionData {
      const own = jidDomain(settings.jid);
      const listed = parseXmppDomains(settings.xmppDomains) ?? [];
      return { explicit, addressBook, xmppDomains: listed.length > 0 ? listed : own ? [own] : [], learned, verifiedSenders: verified };
    },
    /** Remembers the checked address ↔ JID pair of a mail received over XMPP (resolution step 5). */
    async rememberVerifiedSender(address: string, jid: string): Promise<void> {
      await load();
      const key = emailKey(address);
      if (verified.get(key) === jid || !isValidBareJid(jid)) return;
      const next = new Map(verified);
      next.delete(key);
      next.set(key, jid);
      verified = next;
      await messenger.storage.local.set({ [VERIFIED]: bounded(next, MAX_ENTRIES) });
    },
    /**
     * Remembers a JID announced in an X-Jabber-ID header (resolution step 4), or with `confirmed` the one the user
     * chose. The header is unauthenticated: resolution uses an unconfirmed JID only when it is the address itself, and
     * offers the others for confirmation. Per address up to MAX_LEARNED_CANDIDATES different JIDs are kept, first seen
     * first, so a forged first mail neither wins nor hides a later genuine one ("candidate": kept beside an earlier
     * one — a conflict the user sees); the address itself is always kept (it displaces the newest other one). When the
     * list is full, or the user confirmed one, a different JID is not stored ("conflict").
     */
    async rememberLearned(address: string, jid: string, confirmed = false): Promise<"learned" | "known" | "candidate" | "conflict" | "invalid"> {
      await load();
      if (!isValidBareJid(jid)) return "invalid";
      const key = emailKey(address);
      const known = learned.get(key);
      let entry: Learned;
      let outcome: "learned" | "candidate";
      if (confirmed) {
        if (known?.confirmed === true && sameJid(known.jid, jid)) return "known";
        entry = { jid, confirmed: true };
        outcome = "learned";
      } else if (known === undefined) {
        entry = { jid, confirmed: false };
        outcome = "learned";
      } else {
        const all = [known.jid, ...(known.also ?? [])];
        if (all.some((j) => sameJid(j, jid))) return "known";
        if (known.confirmed) return "conflict";
        if (all.length >= MAX_LEARNED_CANDIDATES) {
          if (!isAddressItself(jid, address)) return "conflict";
          all.pop();
        }
        const [first, ...more] = [...all, jid];
        entry = { jid: first!, confirmed: false, also: more };
        outcome = "candidate";
      }
      const next = new Map(learned);
      next.delete(key);
      next.set(key, entry);
      learned = boundedLearned(next, MAX_ENTRIES);
      await messenger.storage.local.set({ [LEARNED]: Object.fromEntries(learned) });
      return outcome;
    },
  };
}

export type ResolutionStore = ReturnType<typeof createResolutionStore>;
