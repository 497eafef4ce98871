// The composition root: the only place that wires settings, credentials, the XMPP session, the router and the
// platform together. Listeners are registered synchronously at the top level; everything that must survive a
// restart lives in storage (settings, credentials, resource name, the receiver's dedupe set and MAM position), so this
// file holds no state worth losing.
import { createLogger, type LogLevel } from "../core/log.js";
import { STATUS_PORT, type AccountInput, type StatusPush } from "../core/messages.js";
import { boundAddresses, DEFAULT_SETTINGS, validateSetting, type Settings } from "../core/settings.js";
import { UploadEstimator } from "../core/upload-estimate.js";
import type { SessionStatus } from "../core/status.js";
import { createCredentialStore } from "../platform/credentials-store.js";
import { browserProbes, fetchText } from "../platform/probes.js";
import { messengerResolver } from "../platform/dns-resolver.js";
import { createSettingsStore } from "../platform/settings-store.js";
import { testConnection } from "../xmpp/connection-test.js";
import { findWebsocket } from "../xmpp/endpoint-probe.js";
import { backoffDelay } from "../core/backoff.js";
import { newResource, realScheduler, webCryptoSha1 } from "../xmpp/runtime.js";
import { XmppSession } from "../xmpp/session.js";
import { retractCapability } from "../xmpp/capability.js";
import { AccountHealth } from "../xmpp/account-health.js";
import { observeStreamManagement } from "../xmpp/server-features.js";
import { MailReceiver, type MailSink } from "../xmpp/receiver.js";
import { createKeyValueStore } from "../platform/kv-store.js";
import { createFolderSink, INBOX_FOLDER, UNVERIFIED_FOLDER } from "../platform/mail-folder.js";
import { createSharedFolderSink } from "../platform/shared-folder.js";
import { SiblingTracker } from "../xmpp/siblings.js";
import { createSmtpDuplicateGuard } from "../platform/smtp-duplicates.js";
import { createSenderDirectory } from "../platform/sender-directory.js";
import { createRouter, type Handlers } from "./router.js";
import { diagnosticReport } from "../core/diagnostic.js";
import { parseAddressList } from "../core/mime/address.js";
import { isValidBareJid } from "../core/resolve.js";
import { addJidToAddressBook } from "../platform/address-book-writer.js";
import { BlockList } from "../xmpp/blocklist.js";
import { Roster } from "../xmpp/roster.js";
import { StrangerGate } from "../xmpp/stranger-gate.js";
import { addressInAddressBooks } from "../platform/relations.js";
import { createBlockAction, updateBlockButton } from "../platform/block-action.js";

/** "Name <a@b>" or "a@b" → the one mailbox, or null. */
function singleMailbox(text: string): { name: string; address: string } | null {
  try {
    const list = parseAddressList(text);
    const only = list.length === 1 ? list[0]! : null;
    return only && only.address.includes("@") ? { name: only.name, address: only.address } : null;
  } catch {
    return null;
  }
}
import { showStatusInToolbar } from "../platform/toolbar.js";
import { CapabilityCache } from "../core/capability-cache.js";
import { SendFlow, type CopyOutcome } from "../core/send-flow.js";
import { createAddressIndex } from "../platform/address-index.js";
import { createComposeSend, createDeliveryLog, toSendRequest } from "../platform/compose-send.js";
import { createResolutionStore } from "../platform/resolution-store.js";
import { createJabberIdLearner } from "../platform/jabber-id-learner.js";
import { queryCapability } from "../xmpp/capability.js";
import { fallbackBody } from "../xmpp/mail-stanza.js";
import { MailSender } from "../xmpp/mail-sender.js";
import { UploadAccess } from "../xmpp/upload-access.js";
import { onChange as onUploadPermissionChange } from "../platform/upload-permission.js";
import { inlineLimitWithoutUpload } from "../xmpp/server-features.js";
import { mergeLimitations } from "../core/limitations.js";
import { describeStatus, withLimitations } from "../core/status.js";

let logLevel: LogLevel = "info";
const log = createLogger(
  (level, line) => {
    const out = level === "error" ? console.error : level === "warn" ? console.warn : console.log;
    out(`[mox] ${line}`);
  },
  () => logLevel,
);

const settingsStore = createSettingsStore(messenger.storage);
const credentials = createCredentialStore(messenger.storage.local);
const ports = new Set<messenger.runtime.Port>();
/** The effective settings as of the last applySettings; the folder sink reads them for every mail it files. */
let currentSettings: Settings = DEFAULT_SETTINGS;
const engineStore = createKeyValueStore();
/** The other Thunderbirds of the account (for a receive folder they all see: docs/protocol.md §6). */
let siblings: SiblingTracker | null = null;
const folderSink = createSharedFolderSink({
  inner: createFolderSink(log, () => currentSettings),
  log,
  settings: () => currentSettings,
  siblings: () => siblings,
  store: engineStore,
});
const smtpDuplicates = createSmtpDuplicateGuard(
  log,
  engineStore,
  (folder) => folder.name === INBOX_FOLDER || folder.name === UNVERIFIED_FOLDER || folder.id === currentSettings.receiveFolder,
);
const resolutionStore = createResolutionStore();
const addressIndex = createAddressIndex(log);
/**
 * Files received mail; remembers verified ones so a later SMTP copy of the same mail goes to the Trash, and the
 * checked address ↔ JID pair so that a reply goes back over XMPP.
 */
const mailSink: MailSink = {
  async file(mail) {
    // The sender fell back to SMTP and that copy is here already: show the mail once (the receipt still says filed).
    if (mail.verified && mail.fromAddress && mail.messageId && (await smtpDuplicates.arrivedBySmtp(mail.messageId, mail.fromAddress))) {
      log.info("xmpp-copy-already-by-smtp", { messageId: mail.messageId });
      return;
    }
    await folderSink.file(mail);
    if (mail.verified && mail.fromAddress) {
      const from = mail.fromAddress;
      await resolutionStore.rememberVerifiedSender(from, mail.fromJid.split("/")[0]!).catch((error: unknown) => log.warn("verified-sender-save-failed", { error }));
      if (mail.messageId) {
        await smtpDuplicates.remember(mail.messageId, from).catch((error: unknown) => log.warn("filed-index-save-failed", { error }));
      }
    }
  },
};
const senderDirectory = createSenderDirectory();
/** The current session's block list (XEP-0191, or local) and roster, for the limits on unsolicited mail. */
let blocklist: BlockList | null = null;
let roster: Roster | null = null;
const strangerGate = new StrangerGate({
  store: engineStore,
  log,
  limits: () => ({
    perHour: currentSettings.strangerMailsPerHour,
    perDay: currentSettings.strangerMailsPerDay,
    maxBytes: currentSettings.strangerMaxKiB * 1024,
  }),
  isBlocked: async (jid) => {
    const list = blocklist;
    if (!list) return false;
    await list.settled();
    return list.isBlocked(jid);
  },
  inRoster: (jid) => roster?.has(jid) ?? false,
  jidKnown: (jid) => senderDirectory.isKnown(jid),
  addressKnown: (address) => addressInAddressBooks(address),
});

let session: XmppSession | null = null;
/** The current session's limitations (missing server features, capability not published), shown with its status. */
let health: AccountHealth | null = null;
/** The sending engine of the current session. */
let mailSender: MailSender | null = null;
/** The upload rate learned so far: the uplink is this machine's, so it outlives a login (core/upload-estimate.ts). */
const uploadEstimator = new UploadEstimator();
/** Whether the account's own upload host is reachable from here (checked at login and when host permissions change). */
let uploadAccess: UploadAccess | null = null;
let sessionKey = "";
/** Bumped when the user enters a new password, so the session restarts with it even if no setting changed. */
let credentialsGeneration = 0;
let status: SessionStatus = { state: "disconnected", reason: "not configured" };

function publish(next: SessionStatus): void {
  // What the user is shown (toolbar, options page), in the log too: limitations included.
  if (describeStatus(next) !== describeStatus(status)) log.info("status-shown", { text: describeStatus(next) });
  status = next;
  showStatusInToolbar(next).catch((error: unknown) => log.debug("toolbar-update-failed", { error }));
  const push: StatusPush = { type: "status", status: next };
  for (const port of ports) {
    try {
      port.postMessage(push);
    } catch {
      ports.delete(port);
    }
  }
}

async function resourceName(): Promise<string> {
  const got = await messenger.storage.local.get("resource");
  const stored = got["resource"];
  if (typeof stored === "string" && /^thunderbird-[0-9a-f]{8}$/.test(stored)) return stored;
  const fresh = newResource();
  await messenger.storage.local.set({ resource: fresh });
  return fresh;
}

/** No URL entered: host-meta, then the usual Prosody/ejabberd endpoints (src/xmpp/endpoint-probe.ts, ≤ 10 s). */
const findEndpoint = (jid: string) => findWebsocket(jid.trim().split("@")[1]?.split("/")[0] ?? "", { fetchText, scheduler: realScheduler });

/**
 * Nothing found at login: look again later, in case the network was down rather than the server lacking a WebSocket
 * (from the browser the two look alike). 30 s, doubling, at most every 30 min; any settings change looks at once.
 */
const DISCOVERY_RETRY = { baseMs: 30_000, capMs: 30 * 60_000, factor: 2 } as const;
let discoveryRetry: ReturnType<typeof setTimeout> | null = null;
let discoveryFailures = 0;

async function websocketUrlFor(settings: Settings): Promise<{ url: string } | { reason: string }> {
  if (settings.websocketUrl) return { url: settings.websocketUrl };
  const found = await findEndpoint(settings.jid);
  if ("url" in found) {
    log.info("websocket-found", { url: found.url, via: found.via });
    return { url: found.url };
  }
  log.warn("discovery-failed", { error: found.error });
  return {
    reason: found.noWebsocket
      ? "this server offers no XMPP WebSocket, so Mail over XMPP cannot use this account (or enter the WebSocket URL in the options)"
      : "no WebSocket URL: enter it in the options",
  };
}

/** Brings the session in line with the settings; calls are serialized. */
let reconfiguring: Promise<void> = Promise.resolve();
function reconfigure(): Promise<void> {
  reconfiguring = reconfiguring.then(applySettings).catch((error: unknown) => {
    log.error("reconfigure-failed", { error });
    publish({ state: "error", reason: error instanceof Error ? error.message : "configuration failed" });
  });
  return reconfiguring;
}

async function applySettings(): Promise<void> {
  const resolved = await settingsStore.load();
  const settings = resolved.settings;
  currentSettings = settings;
  logLevel = settings.logLevel;
  for (const problem of resolved.policyErrors) log.warn("policy-value-rejected", { setting: problem.key, error: problem.error });

  const key = JSON.stringify([settings.enabled, settings.jid, settings.websocketUrl, settings.password, credentialsGeneration]);
  if (key === sessionKey) return;
  sessionKey = key;
  if (discoveryRetry !== null) clearTimeout(discoveryRetry);
  discoveryRetry = null;
  if (session) {
    const old = session;
    session = null;
    mailSender?.stop();
    mailSender = null;
    uploadAccess?.stop();
    uploadAccess = null;
    health?.stop();
    health = null;
    siblings?.stop();
    siblings = null;
    blocklist = null;
    roster = null;
    // Switched off: tell senders first that we no longer accept mail (docs/protocol.md §2).
    if (!settings.enabled && old.status.state === "online") {
      await retractCapability(old).then(
        () => log.info("capability-retracted"),
        (error: unknown) => log.warn("capability-retract-failed", { error }),
      );
    }
    await old.stop();
  }
  if (!settings.enabled) return publish({ state: "disconnected", reason: "switched off" });
  if (!settings.jid) return publish({ state: "disconnected", reason: "not configured" });
  const endpoint = await websocketUrlFor(settings);
  if ("reason" in endpoint) {
    discoveryFailures += 1;
    const delay = backoffDelay(discoveryFailures, Math.random, DISCOVERY_RETRY);
    sessionKey = ""; // so that the retry runs the whole path again
    discoveryRetry = setTimeout(() => {
      discoveryRetry = null;
      void reconfigure();
    }, delay);
    return publish({ state: "error", reason: `${endpoint.reason}; looking again in ${Math.ceil(delay / 60_000)} min` });
  }
  discoveryFailures = 0;
  const url = endpoint.url;

  const sm = observeStreamManagement();
  const next = new XmppSession(
    { jid: settings.jid, websocketUrl: url, resource: await resourceName() },
    {
      createClient: sm.createClient,
      scheduler: realScheduler,
      random: Math.random,
      sha1: webCryptoSha1,
      log,
      credentials: credentials.sourceFor(settings.jid, settings.password || undefined),
    },
  );
  const nextHealth = new AccountHealth({ session: next, scheduler: realScheduler, random: Math.random, log, streamManagement: sm.enabled });
  const access = new UploadAccess({ session: next, log });
  const decorate = (s: SessionStatus): SessionStatus => {
    const blocked = access.limitation(inlineLimitWithoutUpload());
    return blocked ? withLimitations(s, mergeLimitations(nextHealth.limitations, [blocked])) : nextHealth.decorate(s);
  };
  next.onStatus((s) => publish(decorate(s)));
  nextHealth.onChange(() => {
    if (session === next) publish(decorate(next.status));
  });
  access.onChange(() => {
    if (session === next) publish(decorate(next.status));
  });
  access.start();
  uploadAccess = access;
  // The receiving engine (file, then receipt), the sending engine, and telling others we accept mail, at every login.
  const sender = new MailSender({ session: next, log, scheduler: realScheduler, uploadAccess: access, uploadEstimator });
  sender.start();
  sender.onLateFailure((id, to, reason) => log.warn("mail-bounced-after-accept", { id, to, reason }));
  mailSender = sender;
  const nextSiblings = new SiblingTracker({
    session: next,
    log,
    filedInto: (key) => folderSink.filedInto(key),
    ownFolderKey: () => folderSink.ownFolderKey(),
  });
  nextSiblings.start();
  siblings = nextSiblings;
  // Block list and roster first: mail handled right after login waits for the block list (BlockList.settled).
  const nextBlocklist = new BlockList({ session: next, store: engineStore, log });
  nextBlocklist.start();
  blocklist = nextBlocklist;
  const nextRoster = new Roster({ session: next, log });
  nextRoster.start();
  roster = nextRoster;
  // Downloads of external payloads: host names checked with Thunderbird's DNS; loopback only while `url` is on it.
  new MailReceiver({ session: next, sink: mailSink, directory: senderDirectory, store: engineStore, log, resolveHost: messengerResolver, admit: strangerGate.admit }).start();
  // Telling others we accept mail (at every login, retried with backoff) and what the server lacks: in the status.
  nextHealth.start();
  health = nextHealth;
  session = next;
  next.start();
}

async function saveAccount(input: AccountInput): Promise<{ ok: true } | { ok: false; error: string }> {
  const jid = input.jid.trim();
  const websocketUrl = input.websocketUrl.trim();
  for (const [key, value] of [["jid", jid], ["websocketUrl", websocketUrl]] as const) {
    const check = validateSetting(key, value);
    if (!check.ok) return { ok: false, error: `${key}: ${check.error}` };
  }
  if (input.password) {
    await credentials.setPassword(jid, input.password);
    credentialsGeneration += 1;
  }
  const saved = await settingsStore.save({ jid, websocketUrl });
  if (!saved.ok) return { ok: false, error: saved.errors.map((issue) => `${issue.key}: ${issue.error}`).join(", ") };
  await reconfigure();
  return { ok: true };
}

const handlers: Handlers = {
  getStatus: async () => status,
  testConnection: async (input) => {
    const resolved = await settingsStore.load();
    const jid = input.jid.trim();
    let websocketUrl = input.websocketUrl.trim();
    if (!websocketUrl) {
      const found = await findEndpoint(jid);
      if ("error" in found) {
        return found.noWebsocket
          ? { ok: false, kind: "no-websocket", detail: found.error }
          : { ok: false, kind: "not-websocket", detail: `no WebSocket URL entered, and discovery failed: ${found.error}` };
      }
      websocketUrl = found.url;
    }
    const stored = input.password ? {} : await credentials.sourceFor(jid, resolved.settings.password || undefined).load();
    return testConnection(
      { jid, websocketUrl, ...stored, ...(input.password ? { password: input.password } : {}) },
      { probes: browserProbes, scheduler: realScheduler, random: Math.random, sha1: webCryptoSha1, log },
    );
  },
  saveAccount,
  discoverWebsocket: async ({ jid }) => {
    const found = await findEndpoint(jid);
    log.info("websocket-discovered", "url" in found ? { url: found.url, via: found.via } : { noWebsocket: found.noWebsocket });
    return "url" in found ? { url: found.url } : { error: found.error, noWebsocket: found.noWebsocket };
  },
  previewRoute: async ({ tabId }) => {
    await Promise.all([resolutionStore.ready().catch(() => undefined), addressIndex.ready()]);
    const details = await messenger.compose.getComposeDetails(tabId);
    const request = await toSendRequest(tabId, details, addressIndex.current, xmppOff.has(tabId));
    const preview = sendFlow.preview(request);
    log.debug("route-previewed", { result: preview.result, recipients: preview.recipients.length, routes: preview.recipients.map((r) => r.route).join(",") });
    return preview;
  },
  setXmppOff: async ({ tabId, off }) => {
    if (off) xmppOff.add(tabId);
    else xmppOff.delete(tabId);
    log.info("xmpp-switched", { tabId, off });
    return { ok: true };
  },
  getDeliveryLog: async () => ({ entries: await deliveryLog.entries() }),
  confirmMapping: async ({ address, jid }) => {
    const mailbox = singleMailbox(address);
    if (!mailbox || !isValidBareJid(jid)) return { error: "not an e-mail address and a bare JID" };
    await resolutionStore.rememberLearned(mailbox.address, jid, true);
    log.info("mapping-confirmed", { jid });
    return { ok: true };
  },
  saveJidToAddressBook: async ({ address, jid }) => {
    const mailbox = singleMailbox(address);
    if (!mailbox || !isValidBareJid(jid)) return { error: "not an e-mail address and a bare JID" };
    const how = await addJidToAddressBook(mailbox.address, jid, mailbox.name);
    addressIndex.changed();
    log.info("address-book-jid-saved", { how });
    return { ok: true, how };
  },
  getDiagnosticReport: async () => {
    const info = await messenger.runtime.getBrowserInfo().catch(() => ({ name: "unknown", version: "?" }));
    return {
      text: diagnosticReport({
        addonVersion: messenger.runtime.getManifest().version,
        host: `${info.name} ${info.version}`,
        status,
        settings: currentSettings,
        entries: await deliveryLog.entries(),
        now: new Date(),
      }),
    };
  },
};

// ---- sending ------------------------------------------------------------------------------------------------

const capabilities = { cache: null as CapabilityCache | null, saving: false };
function capabilityCache(): CapabilityCache {
  capabilities.cache ??= new CapabilityCache(() => Date.now());
  return capabilities.cache;
}
void engineStore.get("capabilities").then((saved) => {
  const loaded = new CapabilityCache(() => Date.now(), undefined, undefined, saved);
  // Answers learned before the load finished win over the stored ones.
  for (const entry of capabilities.cache?.toJSON() ?? []) loaded.set(entry.jid, entry.capable);
  capabilities.cache = loaded;
});
function saveCapabilities(): void {
  if (capabilities.saving) return;
  capabilities.saving = true;
  setTimeout(() => {
    capabilities.saving = false;
    engineStore.set("capabilities", capabilityCache().toJSON()).catch((error: unknown) => log.warn("capability-cache-save-failed", { error }));
  }, 1_000);
}

const deliveryLog = createDeliveryLog();
/** Compose tabs whose message the user switched to "SMTP only" in the compose window's indicator. */
const xmppOff = new Set<number>();
const sendFlow = new SendFlow({
  scheduler: realScheduler,
  log,
  online: () => session?.status.state === "online" && mailSender !== null,
  config: () => {
    const s = currentSettings;
    const own = s.jid.split("/")[0] ?? "";
    return {
      policy: s.routePolicy,
      holdMs: s.sendHoldSeconds * 1000,
      announceJid: s.enabled && s.announceJid && own ? own : null,
      // Only mail from the identities bound to the account goes over XMPP (docs/policies.md xmppIdentities).
      fromAddresses: boundAddresses(s),
    };
  },
  resolutionData: () => resolutionStore.data(addressIndex.current.jidsByEmail, currentSettings),
  capability: {
    cached: (jid) => capabilityCache().get(jid),
    lookup: async (jid, timeoutMs) => {
      const current = session;
      if (!current || current.status.state !== "online") throw new Error("offline");
      const answer = await queryCapability(current, jid, new Date(), timeoutMs);
      capabilityCache().set(jid, answer);
      saveCapabilities();
      return answer;
    },
  },
  deliver: async ({ jid, raw, mail }, deadlineMs): Promise<CopyOutcome> => {
    const sender = mailSender;
    if (!sender) return { status: "failed", reason: "offline" };
    const body = fallbackBody({ from: mail.from, to: [...mail.to, ...mail.cc], subject: mail.subject, text: mail.text, attachmentNames: mail.attachments.map((a) => a.name) });
    const outcome = await sender.deliver({ to: jid, raw, subject: mail.subject, fallbackBody: body }, deadlineMs);
    // Written to over XMPP: mail from that JID is no longer limited as unsolicited.
    if (outcome.status === "filed" || outcome.status === "accepted") {
      strangerGate.rememberSentTo(jid).catch((error: unknown) => log.warn("sent-to-save-failed", { error }));
    }
    // A bounce means the account does not take mail (any more): ask again next time.
    if (outcome.status === "failed" && /^bounced/.test(outcome.reason)) {
      capabilityCache().set(jid, false);
      saveCapabilities();
    }
    return outcome;
  },
  record: (entry) => deliveryLog.record(entry),
});
const composeSend = createComposeSend({
  flow: sendFlow,
  log,
  index: () => addressIndex.current,
  // Both are in memory after the first load (milliseconds after start); a Send right at start waits for them.
  ready: async () => {
    await Promise.all([resolutionStore.ready().catch(() => undefined), addressIndex.ready()]);
  },
  isSwitchedOff: (tabId) => xmppOff.has(tabId),
  notify: (delivered) => {
    messenger.notifications
      .create({
        type: "basic",
        title: messenger.i18n.getMessage("notifyDeliveredTitle"),
        message: messenger.i18n.getMessage("notifyDelivered", [delivered.join(", ")]),
      })
      .catch((error: unknown) => log.warn("notification-failed", { error }));
  },
});
messenger.compose.onBeforeSend.addListener((tab, details) => composeSend.onBeforeSend(tab, details));
messenger.compose.onAfterSave.addListener((tab, info) => {
  composeSend.onAfterSave(tab, info);
});
messenger.tabs.onRemoved.addListener((tabId) => {
  composeSend.onTabRemoved(tabId);
  xmppOff.delete(tabId);
});
for (const event of [
  messenger.contacts.onCreated,
  messenger.contacts.onUpdated,
  messenger.contacts.onDeleted,
  messenger.mailingLists.onCreated,
  messenger.mailingLists.onUpdated,
  messenger.mailingLists.onDeleted,
  messenger.mailingLists.onMemberAdded,
  messenger.mailingLists.onMemberRemoved,
] as Array<{ addListener(cb: () => void): void }>) {
  event.addListener(() => addressIndex.changed());
}
messenger.storage.onChanged.addListener((changes, area) => {
  if (area === "local") resolutionStore.onStorageChanged(changes);
});
void resolutionStore.ready().catch((error: unknown) => log.warn("mappings-load-failed", { error }));
void addressIndex.ready();

const ownPagePrefix = messenger.runtime.getURL("");
messenger.runtime.onMessage.addListener(
  createRouter<messenger.runtime.MessageSender>(
    handlers,
    (sender) => sender.id === messenger.runtime.id && typeof sender.url === "string" && sender.url.startsWith(ownPagePrefix),
    (error) => log.error("request-failed", { error }),
  ),
);

messenger.runtime.onConnect.addListener((port) => {
  if (port.name !== STATUS_PORT || port.sender?.id !== messenger.runtime.id) return;
  ports.add(port);
  port.onDisconnect.addListener(() => ports.delete(port));
  port.postMessage({ type: "status", status } satisfies StatusPush);
});

globalThis.addEventListener("online", () => session?.retryNow());
const blockAction = createBlockAction({
  log,
  block: async (jid) => {
    if (!blocklist) throw new Error("not connected to the XMPP account");
    return blocklist.block(jid);
  },
  notify: (result) => {
    const message =
      result.status === "blocked"
        ? messenger.i18n.getMessage(result.mode === "server" ? "notifyBlockedServer" : "notifyBlockedLocal", [result.jid])
        : result.status === "not-xmpp"
          ? messenger.i18n.getMessage("notifyBlockNotXmpp")
          : messenger.i18n.getMessage("notifyBlockFailed", [result.reason]);
    messenger.notifications
      .create({ type: "basic", title: messenger.i18n.getMessage(result.status === "blocked" ? "notifyBlockedTitle" : "extensionName"), message })
      .catch((error: unknown) => log.warn("notification-failed", { error }));
  },
});
messenger.messageDisplayAction.onClicked.addListener((tab) => void blockAction.onClicked(tab));
messenger.messageDisplay.onMessagesDisplayed.addListener((tab, shown) => {
  if (tab.id !== undefined) updateBlockButton(tab.id, shown).catch((error: unknown) => log.debug("block-button-update-failed", { error }));
});
const isOwnFolder = (folder: messenger.folders.MailFolder) =>
  folder.name === INBOX_FOLDER || folder.name === UNVERIFIED_FOLDER || folder.id === currentSettings.receiveFolder;
const jabberIdLearner = createJabberIdLearner(log, resolutionStore, () => currentSettings.enabled && currentSettings.learnJids, isOwnFolder, smtpDuplicates);
messenger.folders.onFolderInfoChanged.addListener((folder, info) => {
  smtpDuplicates.onFolderInfo(folder, info).catch((error: unknown) => log.warn("smtp-duplicate-check-failed", { error }));
  void jabberIdLearner.onFolderInfo(folder);
});
settingsStore.onChange(() => void reconfigure());
// A host permission granted on the options page (or removed in the add-on manager): check the upload host again.
onUploadPermissionChange(() => void uploadAccess?.recheck());
// First install: the settings page, with its short explanation and the account form, once the main window has
// finished opening (earlier, openOptionsPage fails with "An unexpected error occurred", or the tab the main window
// restores at start is put in front of ours).
messenger.runtime.onInstalled.addListener(({ reason }) => {
  log.info("installed", { reason });
  if (reason !== "install") return;
  const attempt = async (left: number): Promise<void> => {
    try {
      const windows = await messenger.windows.getAll({ windowTypes: ["normal"] });
      if (!windows.some((w) => w.type === "normal")) throw new Error("no main window yet");
      await new Promise((r) => setTimeout(r, 1_500));
      await messenger.runtime.openOptionsPage();
      log.info("onboarding-opened", {});
    } catch (error) {
      if (left > 0) setTimeout(() => void attempt(left - 1), 1_000);
      else log.warn("onboarding-open-failed", { error });
    }
  };
  void attempt(30);
});
log.info("started", { version: messenger.runtime.getManifest().version });
void reconfigure();
