// Two or more Thunderbirds on one XMPP account (home and office) whose receive folder is one IMAP folder that all of
// them see: the mail must end up there once. The rule (docs/protocol.md §6, "Several Thunderbirds on one account"):
//
//   * Each Thunderbird's add-on is a resource of the account; it knows the account's other online resources that run
//     the add-on from their presence (XEP-0115 caps node CAPS_NODE): its siblings.
//   * A folder in a local store (Local Folders, POP) is private to one Thunderbird: every Thunderbird files its own
//     copy, no coordination. Only a folder of an IMAP account is shared; it is named by a folder key (account type,
//     account name, identities, path) that two Thunderbirds set up for the same mailbox compute alike.
//   * Before filing into a shared folder a Thunderbird asks its siblings whether they filed the mail (answered at once,
//     from each one's ledger of recent filings): "filed, into <key>", or "not yet" with the key it files into now. A
//     "filed, into the same folder key" answer means: filed, do nothing.
//   * Otherwise the filer — the smallest resource name among itself and the siblings that said "not yet" for the same
//     folder key — files at once and then tells its siblings "filed into <folder key>" (or "failed"). A sibling that
//     files elsewhere or did not answer at all (crashed, its session not yet timed out by the server) is no candidate.
//   * The others wait for that notice, at most SIBLING_WAIT_MS, or SIBLING_FILING_MS more once the filer said it started
//     importing ("filing"). Same folder key: filed. Anything else in that time ("failed", another key, silence from a
//     slow filer): file themselves. A duplicate beats a loss; a mail is never
//     left unfiled because of a sibling. SIBLING_ASK_MS + SIBLING_WAIT_MS stay below the sender's default hold (8 s),
//     so the sender still gets "filed" in these cases.
//
// This file holds the pure part: election, the folder key, the decision after the siblings' answers, the ledger.

/** How long a Thunderbird that is not the filer waits for the filer's notice before it files itself. */
export const SIBLING_WAIT_MS = 5_000;
/** How much longer a Thunderbird waits once the filer said it is importing into the same folder. */
export const SIBLING_FILING_MS = 30_000;
/** How long a Thunderbird waits for its siblings' answers to "did you file it?". */
export const SIBLING_ASK_MS = 1_500;

/** The filer among the online add-on resources of the account (self included): the smallest resource name. */
export function electFiler(self: string, siblings: readonly string[]): string {
  let filer = self;
  for (const r of siblings) if (r < filer) filer = r;
  return filer;
}

/** Which folder a receive folder is, as far as other Thunderbirds are concerned. */
export interface FolderIdentity {
  /** The account type of the folder ("imap", "pop3", "none", …). */
  readonly accountType: string;
  readonly accountName: string;
  readonly identities: readonly string[];
  /** The folder's path inside its account ("/INBOX", "/Archives/XMPP"). */
  readonly path: string;
}

/**
 * The key two Thunderbirds compare to tell whether they file into the same folder, or null for a folder only this
 * Thunderbird sees (local store). Deliberately strict: a key that differs where the folder is the same only costs a
 * duplicate; a key that matches where the folders differ would leave one folder without the mail.
 */
export function sharedFolderKey(folder: FolderIdentity): string | null {
  if (folder.accountType !== "imap") return null;
  const ids = [...new Set(folder.identities.map((i) => i.trim().toLowerCase()))].sort().join(",");
  return `imap|${folder.accountName.trim().toLowerCase()}|${ids}|${folder.path}`;
}

/** The folder key of a folder only this Thunderbird sees (never equal to a shared folder's key or another's). */
export const localFolderKey = (self: string) => `local|${self}`;

/** A sibling's answer about one mail. */
export type SiblingWord =
  | { readonly state: "filed"; readonly folder: string }
  /**
   * The answer to "did you file it?" from a sibling that has not (yet), with the folder key it files into (its
   * receive folder's; absent: unknown).
   */
  | { readonly state: "not-yet"; readonly folder?: string }
  /** The filer's notice that it started importing into that folder (a large mail to a slow IMAP server takes a while). */
  | { readonly state: "filing"; readonly folder: string }
  /** The filer's notice that its import failed. */
  | { readonly state: "failed" };

export type SharedDecision =
  /** A sibling filed it into this very folder: do not import, count it as filed. */
  | { readonly action: "filed-by-sibling"; readonly by: string }
  /** Import now (this Thunderbird is the filer, the folder is its own, or no sibling will file it here). */
  | {
      readonly action: "file";
      readonly why: "local-folder" | "no-siblings" | "filer" | "filer-silent" | "other-folder" | "filer-failed" | "no-word-in-time";
    }
  /** Wait for the filer's notice (at most SIBLING_WAIT_MS), then decide again with `waited: true`. */
  | { readonly action: "wait"; readonly filer: string };

export interface SharedInput {
  /** This Thunderbird's folder key (sharedFolderKey), null for a local folder. */
  readonly folderKey: string | null;
  readonly self: string;
  /** Resource names of the account's other online add-on resources. */
  readonly siblings: readonly string[];
  /**
   * What siblings said so far, by resource name, after asking them all (SIBLING_ASK_MS). A sibling that runs the
   * add-on answers at once ("not-yet" with its folder key at least), so one without any word is gone (crashed, its
   * session not yet timed out by the server) and is not waited for.
   */
  readonly words: ReadonlyMap<string, SiblingWord>;
  /** True once the wait for the filer's notice is over. */
  readonly waited: boolean;
  /** The filer that was waited for (the first decision's `filer`). */
  readonly waitedFor?: string;
}

/**
 * What to do with a mail for a shared folder, given what is known now. Pure; table-tested.
 *
 * The filer is elected among this Thunderbird and the siblings that answered "not yet" for the same folder key (or
 * for an unknown one): a sibling that files elsewhere, has filed, failed or is silent is no candidate. After the wait
 * anything but "filed here" means: file.
 */
export function decideShared(input: SharedInput): SharedDecision {
  const { folderKey, self, siblings, words, waited } = input;
  if (folderKey === null) return { action: "file", why: "local-folder" };
  for (const [by, word] of words) if (word.state === "filed" && word.folder === folderKey) return { action: "filed-by-sibling", by };
  if (waited) {
    const word = input.waitedFor === undefined ? undefined : words.get(input.waitedFor);
    return { action: "file", why: word?.state === "filed" ? "other-folder" : word?.state === "failed" ? "filer-failed" : "no-word-in-time" };
  }
  const candidates = siblings.filter((r) => {
    const word = words.get(r);
    return (word?.state === "not-yet" && (word.folder === undefined || word.folder === folderKey)) || (word?.state === "filing" && word.folder === folderKey);
  });
  const filer = electFiler(self, candidates);
  if (filer !== self) return { action: "wait", filer };
  if (siblings.length === 0) return { action: "file", why: "no-siblings" };
  const smallest = electFiler(self, siblings);
  if (smallest === self) return { action: "file", why: "filer" };
  const word = words.get(smallest);
  if (word === undefined) return { action: "file", why: "filer-silent" };
  if (word.state === "failed") return { action: "file", why: "filer-failed" };
  return { action: "file", why: "other-folder" };
}

/** Recent filings into shared folders (mail key → folder key), bounded, oldest dropped first; JSON-serialisable. */
export class FilingLedger {
  readonly #max: number;
  readonly #entries = new Map<string, string>();

  constructor(max = 2000, saved?: unknown) {
    this.#max = max;
    if (Array.isArray(saved)) {
      for (const e of saved) if (Array.isArray(e) && typeof e[0] === "string" && typeof e[1] === "string") this.set(e[0], e[1]);
    }
  }

  get(mailKey: string): string | undefined {
    return this.#entries.get(mailKey);
  }

  set(mailKey: string, folderKey: string): void {
    this.#entries.delete(mailKey);
    this.#entries.set(mailKey, folderKey);
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  toJSON(): Array<[string, string]> {
    return [...this.#entries];
  }
}

/** The key of one mail across Thunderbirds: the sender's bare JID and the stanza's origin-id. */
export const siblingMailKey = (senderJid: string, originId: string) => `${senderJid.toLowerCase()}/${originId}`;
