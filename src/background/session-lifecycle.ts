// The XMPP session's life: brought in line with the settings at start and after every change (calls serialized),
// stopped and replaced when the account changes, with the per-login parts around it (health, upload access, sender,
// siblings, block list, roster, receiver). What the rest of the background reads of it is in `Live`.
import type { Keyring } from "../xmpp/e2e-keyring.js";
import { backoffDelay } from "../core/backoff.js";
import { mergeLimitations } from "../core/limitations.js";
import type { Logger, LogLevel } from "../core/log.js";
import { DEFAULT_SETTINGS, type Settings } from "../core/settings.js";
import { withLimitations, type SessionStatus } from "../core/status.js";
import type { UploadEstimator } from "../core/upload-estimate.js";
import type { CredentialStore } from "../platform/credentials-store.js";
import type { SettingsStore } from "../platform/settings-store.js";
import type { SharedFolderSink } from "../platform/shared-folder.js";
import { AccountHealth } from "../xmpp/account-health.js";
import { BlockList } from "../xmpp/blocklist.js";
import { withdrawCapability } from "../xmpp/capability.js";
import { MailSender } from "../xmpp/mail-sender.js";
import { MailReceiver, type KeyValueStore, type MailSink, type MailReceiverDeps } from "../xmpp/receiver.js";
import { Roster } from "../xmpp/roster.js";
import { newResource, realScheduler, webCryptoSha1 } from "../xmpp/runtime.js";
import { inlineLimitWithoutUpload, observeStreamManagement } from "../xmpp/server-features.js";
import { XmppSession } from "../xmpp/session.js";
import { SiblingTracker } from "../xmpp/siblings.js";
import { UploadAccess } from "../xmpp/upload-access.js";
import type { WebsocketEndpoint } from "./websocket-endpoint.js";

/** The current login's parts (null while there is none) and the effective settings as of the last applySettings. */
export interface Live {
  settings: Settings;
  session: XmppSession | null;
  /** The MailSender of the current session. */
  mailSender: MailSender | null;
  /** Whether the account's own upload host is reachable from here (checked at login and when host permissions change). */
  uploadAccess: UploadAccess | null;
  /** The other Thunderbirds of the account (for a receive folder they all see: docs/protocol.md §6). */
  siblings: SiblingTracker | null;
  /** The block list (XEP-0191, or local) and roster, for the limits on unsolicited mail. */
  blocklist: BlockList | null;
  roster: Roster | null;
}

export function createLive(): Live {
  return { settings: DEFAULT_SETTINGS, session: null, mailSender: null, uploadAccess: null, siblings: null, blocklist: null, roster: null };
}

export interface SessionLifecycleDeps {
  readonly log: Logger;
  setLogLevel(level: LogLevel): void;
  readonly live: Live;
  publish(status: SessionStatus): void;
  readonly settingsStore: SettingsStore;
  readonly credentials: CredentialStore;
  readonly endpoint: WebsocketEndpoint;
  /** This Thunderbird's resource name, the same across restarts. */
  resource(): Promise<string>;
  readonly store: KeyValueStore;
  readonly mailSink: MailSink;
  readonly folderSink: Pick<SharedFolderSink, "filedInto" | "ownFolderKey">;
  readonly directory: MailReceiverDeps["directory"];
  readonly resolveHost: NonNullable<MailReceiverDeps["resolveHost"]>;
  readonly admit: NonNullable<MailReceiverDeps["admit"]>;
  /** The upload rate learned so far: the uplink is this machine's, so it outlives a login (core/upload-estimate.ts). */
  readonly uploadEstimator: UploadEstimator;
  /** End-to-end encryption (docs/protocol.md §10): this device's keys and the trust state. */
  readonly keyring?: Keyring;
}

export interface SessionLifecycle {
  /** Brings the session in line with the settings; calls are serialized. */
  reconfigure(): Promise<void>;
  /** The user entered a new password: the next reconfigure restarts the session even if no setting changed. */
  passwordChanged(): void;
}

/**
 * Nothing found at login: look again later, in case the network was down rather than the server lacking a WebSocket
 * (from the browser the two look alike). 30 s, doubling, at most every 30 min; any settings change looks at once.
 */
const DISCOVERY_RETRY = { baseMs: 30_000, capMs: 30 * 60_000, factor: 2 } as const;

/** The resource kept in storage.local, or a new one stored there. */
export async function storedResource(area: Pick<messenger.storage.StorageArea, "get" | "set">): Promise<string> {
  const got = await area.get("resource");
  const stored = got["resource"];
  if (typeof stored === "string" && /^thunderbird-[0-9a-f]{8}$/.test(stored)) return stored;
  const fresh = newResource();
  await area.set({ resource: fresh });
  return fresh;
}

export function createSessionLifecycle(deps: SessionLifecycleDeps): SessionLifecycle {
  const { log, live, publish } = deps;
  let sessionKey = "";
  /** Bumped when the user enters a new password, so the session restarts with it even if no setting changed. */
  let credentialsGeneration = 0;
  /** The current session's limitations (missing server features, capability not published), shown with its status. */
  let health: AccountHealth | null = null;
  let discoveryRetry: ReturnType<typeof setTimeout> | null = null;
  let discoveryFailures = 0;
  let reconfiguring: Promise<void> = Promise.resolve();

  function reconfigure(): Promise<void> {
    reconfiguring = reconfiguring.then(applySettings).catch((error: unknown) => {
      log.error("reconfigure-failed", { error });
      publish({ state: "error", reason: error instanceof Error ? error.message : "configuration failed" });
    });
    return reconfiguring;
  }

  async function stopSession(settings: Settings): Promise<void> {
    const old = live.session;
    if (!old) return;
    live.session = null;
    live.mailSender?.stop();
    live.mailSender = null;
    live.uploadAccess?.stop();
    live.uploadAccess = null;
    health?.stop();
    health = null;
    live.siblings?.stop();
    live.siblings = null;
    live.blocklist = null;
    live.roster = null;
    // Switched off: tell senders first that we no longer accept mail (docs/protocol.md §2); the account's other
    // Thunderbirds, if any, stay in the item (§10.3).
    if (!settings.enabled && old.status.state === "online") {
      const ownDevice = deps.keyring ? await deps.keyring.device().then((k) => k.public.id, () => null) : null;
      await withdrawCapability(old, new Date(), ownDevice).then(
        (how) => log.info("capability-retracted", { how }),
        (error: unknown) => log.warn("capability-retract-failed", { error }),
      );
    }
    await old.stop();
  }

  async function applySettings(): Promise<void> {
    const resolved = await deps.settingsStore.load();
    const settings = resolved.settings;
    live.settings = settings;
    deps.setLogLevel(settings.logLevel);
    for (const problem of resolved.policyErrors) log.warn("policy-value-rejected", { setting: problem.key, error: problem.error });

    const key = JSON.stringify([settings.enabled, settings.jid, settings.websocketUrl, settings.password, credentialsGeneration]);
    if (key === sessionKey) return;
    sessionKey = key;
    if (discoveryRetry !== null) clearTimeout(discoveryRetry);
    discoveryRetry = null;
    await stopSession(settings);
    if (!settings.enabled) return publish({ state: "disconnected", reason: "switched off" });
    if (!settings.jid) return publish({ state: "disconnected", reason: "not configured" });
    const endpoint = await deps.endpoint.forLogin(settings);
    if ("reason" in endpoint) {
      discoveryFailures += 1;
      const delay = backoffDelay(discoveryFailures, Math.random, DISCOVERY_RETRY);
      sessionKey = ""; // so that the retry runs the whole path again
      discoveryRetry = setTimeout(() => {
        discoveryRetry = null;
        void reconfigure();
      }, delay);
      return publish({ state: "error", reason: `${endpoint.reason}; looking again in ${Math.ceil(delay / 60_000)} min`, code: endpoint.code, retryAt: Date.now() + delay });
    }
    discoveryFailures = 0;
    startSession(settings, endpoint.url, await deps.resource());
  }

  function startSession(settings: Settings, url: string, resource: string): void {
    const sm = observeStreamManagement();
    const next = new XmppSession(
      { jid: settings.jid, websocketUrl: url, resource },
      {
        createClient: sm.createClient,
        scheduler: realScheduler,
        random: Math.random,
        sha1: webCryptoSha1,
        log,
        credentials: deps.credentials.sourceFor(settings.jid, settings.password || undefined),
      },
    );
    const nextHealth = new AccountHealth({
      session: next,
      scheduler: realScheduler,
      random: Math.random,
      log,
      streamManagement: sm.enabled,
      ...(deps.keyring ? { keyring: deps.keyring } : {}),
    });
    const access = new UploadAccess({ session: next, log });
    const decorate = (s: SessionStatus): SessionStatus => {
      const blocked = access.limitation(inlineLimitWithoutUpload());
      return blocked ? withLimitations(s, mergeLimitations(nextHealth.limitations, [blocked])) : nextHealth.decorate(s);
    };
    next.onStatus((s) => publish(decorate(s)));
    nextHealth.onChange(() => {
      if (live.session === next) publish(decorate(next.status));
    });
    access.onChange(() => {
      if (live.session === next) publish(decorate(next.status));
    });
    access.start();
    live.uploadAccess = access;
    // The Receiver (file, then receipt), the MailSender, and telling others we accept mail, at every login.
    const sender = new MailSender({ session: next, log, scheduler: realScheduler, uploadAccess: access, uploadEstimator: deps.uploadEstimator });
    sender.start();
    sender.onLateFailure((id, to, reason) => log.warn("mail-bounced-after-accept", { id, to, reason }));
    live.mailSender = sender;
    const siblings = new SiblingTracker({
      session: next,
      log,
      filedInto: (key) => deps.folderSink.filedInto(key),
      ownFolderKey: () => deps.folderSink.ownFolderKey(),
    });
    siblings.start();
    live.siblings = siblings;
    // Block list and roster first: mail handled right after login waits for the block list (BlockList.settled).
    const blocklist = new BlockList({ session: next, store: deps.store, log });
    blocklist.start();
    live.blocklist = blocklist;
    const roster = new Roster({ session: next, log });
    roster.start();
    live.roster = roster;
    // Downloads of external payloads: host names checked with Thunderbird's DNS; loopback only while `url` is on it.
    new MailReceiver({
      session: next,
      sink: deps.mailSink,
      directory: deps.directory,
      store: deps.store,
      log,
      resolveHost: deps.resolveHost,
      admit: deps.admit,
      ...(deps.keyring ? { e2e: deps.keyring } : {}),
    }).start();
    // Telling others we accept mail (at every login, retried with backoff) and what the server lacks: in the status.
    nextHealth.start();
    health = nextHealth;
    live.session = next;
    next.start();
  }

  return {
    reconfigure,
    passwordChanged() {
      credentialsGeneration += 1;
    },
  };
}
