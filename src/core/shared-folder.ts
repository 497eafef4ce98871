// Two or more Thunderbirds on one XMPP account (home and office) whose receive folder is one IMAP folder that all of
// them see: the mail must end up there once. The rule (docs/protocol.md §6, "Several Thunderbirds on one account"):
//
//   * Each Thunderbird's add-on is a resource of the account; it knows the account's other online resources that run
//     the add-on from their presence (XEP-0115 caps node CAPS_NODE): its siblings.
//   * A folder in a local store (Local Folders, POP) is private to one Thunderbird: every Thunderbird files its own
//     copy, no coordination. Only a folder of an IMAP account is shared; it is named by a folder key (account type,
//     account name, identities, path) that two Thunderbirds set up for the same mailbox compute alike.
//   * Before filing into a shared folder a Thunderbird asks its siblings whether they filed the mail already (answered
//     from each one's ledger of recent filings). A "filed, into the same folder key" answer means: filed, do nothing.
//   * Otherwise the filer — the smallest resource name among the online add-on resources, itself included — files at
//     once and then tells its siblings "filed into <folder key>" (or "failed" when the import failed).
//   * The others wait for that notice, at most SIBLING_WAIT_MS, if the filer answered their question at all (it
//     answers at once, "not yet" at least). Same folder key: filed. Another folder key, "failed", no answer to the
//     question (the filer crashed and the server has not noticed yet) or no notice in time (the filer is slow): file
//     themselves. A duplicate beats a loss; a mail is never left unfiled because of a sibling. SIBLING_ASK_MS +
//     SIBLING_WAIT_MS stay below the sender's default hold (8 s), so the sender still gets "filed" in these cases.
//
// This file holds the pure part: election, the folder key, the decision after the siblings' answers, the ledger.

/** How long a Thunderbird that is not the filer waits for the filer's notice before it files itself. */
export const SIBLING_WAIT_MS = 5_000;
/** How long a Thunderbird waits for its siblings' answers to "did you file it?". */
export const SIBLING_ASK_MS = 1_500;
/** Resource names the add-on binds (runtime.newResource). */
export const ADDON_RESOURCE = /^thunderbird-[0-9a-f]{8}$/;

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

/** A sibling's answer about one mail. */
export type SiblingWord =
  | { readonly state: "filed"; readonly folder: string }
  /** The answer to "did you file it?" from a sibling that has not (yet). */
  | { readonly state: "not-yet" }
  /** The filer's notice that its import failed. */
  | { readonly state: "failed" };

export type SharedDecision =
  /** A sibling filed it into this very folder: do not import, count it as filed. */
  | { readonly action: "filed-by-sibling"; readonly by: string }
  /** Import now (this Thunderbird is the filer, the folder is its own, or no sibling will file it here). */
  | { readonly action: "file"; readonly why: "local-folder" | "no-siblings" | "filer" | "other-folder" | "filer-failed" | "filer-silent" | "no-word-in-time" }
  /** Wait for the filer's notice (at most SIBLING_WAIT_MS), then decide again with `waited: true`. */
  | { readonly action: "wait"; readonly filer: string };

export interface SharedInput {
  /** This Thunderbird's folder key (sharedFolderKey), null for a local folder. */
  readonly folderKey: string | null;
  readonly self: string;
  /** Resource names of the account's other online add-on resources. */
  readonly siblings: readonly string[];
  /**
   * What siblings said so far, by resource name — after asking them all (SIBLING_ASK_MS): a sibling that runs the
   * add-on answers at once ("not-yet" at least), so a filer without any word is gone (crashed, its session not yet
   * timed out by the server) and is not waited for.
   */
  readonly words: ReadonlyMap<string, SiblingWord>;
  /** True once the wait for the filer's notice is over. */
  readonly waited: boolean;
}

/** What to do with a mail for a shared folder, given what is known now. Pure; table-tested. */
export function decideShared(input: SharedInput): SharedDecision {
  const { folderKey, self, siblings, words, waited } = input;
  if (folderKey === null) return { action: "file", why: "local-folder" };
  for (const [by, word] of words) if (word.state === "filed" && word.folder === folderKey) return { action: "filed-by-sibling", by };
  const filer = electFiler(self, siblings);
  if (siblings.length === 0 && words.size === 0) return { action: "file", why: "no-siblings" };
  if (filer === self) return { action: "file", why: "filer" };
  const filerWord = words.get(filer);
  if (filerWord === undefined) return { action: "file", why: waited ? "no-word-in-time" : "filer-silent" };
  if (filerWord.state === "filed") return { action: "file", why: "other-folder" };
  if (filerWord.state === "failed") return { action: "file", why: "filer-failed" };
  if (waited) return { action: "file", why: "no-word-in-time" };
  return { action: "wait", filer };
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
