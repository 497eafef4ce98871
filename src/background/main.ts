// The composition root: the only place that wires settings, credentials, the XMPP session, the router and the
// platform together, in the order things start. Each job lives in its own module (handlers, session-lifecycle,
// mail-sink, sending, onboarding, …); this file only connects them. Listeners are registered synchronously at the top
// level; everything that must survive a restart lives in storage (settings, credentials, resource name, the
// receiver's dedupe set and MAM position), so this file holds no state worth losing.
import { UploadEstimator } from "../core/upload-estimate.js";
import { createAddressIndex } from "../platform/address-index.js";
import { createCapabilityStore } from "../platform/capability-store.js";
import { createDeliveryLog } from "../platform/delivery-log.js";
import { createCredentialStore } from "../platform/credentials-store.js";
import { messengerResolver } from "../platform/dns-resolver.js";
import { createJabberIdLearner } from "../platform/jabber-id-learner.js";
import { createKeyValueStore } from "../platform/kv-store.js";
import { createFolderSink } from "../platform/mail-folder.js";
import { browserProbes, fetchText } from "../platform/probes.js";
import { createResolutionStore } from "../platform/resolution-store.js";
import { createSenderDirectory } from "../platform/sender-directory.js";
import { createSettingsStore } from "../platform/settings-store.js";
import { createSharedFolderSink } from "../platform/shared-folder.js";
import { createSmtpDuplicateGuard } from "../platform/smtp-duplicates.js";
import { onChange as onUploadPermissionChange } from "../platform/upload-permission.js";
import { findWebsocket } from "../xmpp/endpoint-probe.js";
import { realScheduler, webCryptoSha1 } from "../xmpp/runtime.js";
import { onAddressBooksChanged } from "./address-book-events.js";
import { listenForBlockSender } from "./block-sender.js";
import { createConsoleLog } from "./console-log.js";
import { createKeyring } from "./e2e.js";
import { createHandlers } from "./handlers.js";
import { createMailSink, ownFolderTest } from "./mail-sink.js";
import { createOnboarding } from "./onboarding.js";
import { createRouter } from "./router.js";
import { createSendFlow, listenForSend } from "./sending.js";
import { createLive, createSessionLifecycle, storedResource } from "./session-lifecycle.js";
import { createStatusChannel } from "./status-channel.js";
import { createStrangerGate } from "./unsolicited.js";
import { createWebsocketEndpoint } from "./websocket-endpoint.js";

// ---- logging, storage, status ----------------------------------------------------------------------------------
const { log, setLevel } = createConsoleLog();
const settingsStore = createSettingsStore(messenger.storage);
const credentials = createCredentialStore(messenger.storage.local);
const engineStore = createKeyValueStore();
/** The current login's parts and the effective settings; written by the session lifecycle only. */
const live = createLive();
const statusChannel = createStatusChannel(log, messenger.runtime.id);

// ---- receiving: folders, duplicates, unsolicited mail ----------------------------------------------------------
const isOwnFolder = ownFolderTest(() => live.settings);
const folderSink = createSharedFolderSink({
  inner: createFolderSink(log, () => live.settings),
  log,
  settings: () => live.settings,
  siblings: () => live.siblings,
  store: engineStore,
});
const smtpDuplicates = createSmtpDuplicateGuard(log, engineStore, isOwnFolder);
const resolutionStore = createResolutionStore();
const addressIndex = createAddressIndex(log);
const mailSink = createMailSink({ log, folders: folderSink, smtpDuplicates, resolutionStore });
const senderDirectory = createSenderDirectory();
const strangerGate = createStrangerGate(log, live, engineStore, senderDirectory);

// ---- end-to-end encryption: this device's keys (IndexedDB), pinned peers (storage), peers' devices (capabilities) ---
const capabilities = createCapabilityStore(engineStore, log);
const keyring = createKeyring({ log, live, capabilities, store: engineStore });

// ---- the session --------------------------------------------------------------------------------------------------
const endpoint = createWebsocketEndpoint(log, (domain) => findWebsocket(domain, { fetchText, scheduler: realScheduler }));
const lifecycle = createSessionLifecycle({
  log,
  setLogLevel: setLevel,
  live,
  publish: (status) => statusChannel.publish(status),
  settingsStore,
  credentials,
  endpoint,
  resource: () => storedResource(messenger.storage.local),
  store: engineStore,
  mailSink,
  folderSink,
  directory: senderDirectory,
  resolveHost: messengerResolver,
  admit: strangerGate.admit,
  uploadEstimator: new UploadEstimator(),
  keyring,
});

// ---- sending ------------------------------------------------------------------------------------------------------
const deliveryLog = createDeliveryLog();
/** Compose tabs whose message the user switched to "SMTP only" in the compose window's indicator. */
const xmppOff = new Set<number>();
/** Both are in memory after the first load (milliseconds after start); a Send or a preview right at start waits. */
const lookupsReady = async (): Promise<void> => {
  await Promise.all([resolutionStore.ready().catch(() => undefined), addressIndex.ready()]);
};
const sendFlow = createSendFlow({ log, live, capabilities, resolutionStore, addressIndex, strangerGate, keyring, record: (entry) => deliveryLog.record(entry) });
listenForSend({ log, flow: sendFlow, addressIndex, lookupsReady, xmppOff });

// ---- address books and learned mappings ---------------------------------------------------------------------------
onAddressBooksChanged(() => addressIndex.changed());
messenger.storage.onChanged.addListener((changes, area) => {
  if (area === "local") resolutionStore.onStorageChanged(changes);
});
void resolutionStore.ready().catch((error: unknown) => log.warn("mappings-load-failed", { error }));
void addressIndex.ready();

// ---- the pages: requests and the status port ----------------------------------------------------------------------
const handlers = createHandlers({
  log,
  settingsStore,
  credentials,
  endpoint,
  lifecycle,
  connectionTest: { probes: browserProbes, scheduler: realScheduler, random: Math.random, sha1: webCryptoSha1 },
  status: () => statusChannel.current(),
  settings: () => live.settings,
  flow: sendFlow,
  xmppOff,
  lookupsReady,
  addressIndex,
  resolutionStore,
  deliveryLog,
  e2e: keyring,
});
const ownPagePrefix = messenger.runtime.getURL("");
messenger.runtime.onMessage.addListener(
  createRouter<messenger.runtime.MessageSender>(
    handlers,
    (sender) => sender.id === messenger.runtime.id && typeof sender.url === "string" && sender.url.startsWith(ownPagePrefix),
    (error) => log.error("request-failed", { error }),
  ),
);
messenger.runtime.onConnect.addListener((port) => statusChannel.connect(port));
globalThis.addEventListener("online", () => live.session?.retryNow());

// ---- the displayed message: "Block sender", and learning X-Jabber-ID --------------------------------------------
listenForBlockSender(log, live);
const jabberIdLearner = createJabberIdLearner(log, resolutionStore, () => live.settings.enabled && live.settings.learnJids, isOwnFolder, smtpDuplicates);
messenger.folders.onFolderInfoChanged.addListener((folder, info) => {
  smtpDuplicates.onFolderInfo(folder, info).catch((error: unknown) => log.warn("smtp-duplicate-check-failed", { error }));
  void jabberIdLearner.onFolderInfo(folder);
});

// ---- settings changes, first install, start -----------------------------------------------------------------------
settingsStore.onChange(() => void lifecycle.reconfigure());
// A host permission granted on the options page (or removed in the add-on manager): check the upload host again.
onUploadPermissionChange(() => void live.uploadAccess?.recheck());
messenger.runtime.onInstalled.addListener(
  createOnboarding({
    log,
    settings: () => settingsStore.load(),
    mainWindowOpen: async () => (await messenger.windows.getAll({ windowTypes: ["normal"] })).some((w) => w.type === "normal"),
    openSettingsPage: () => messenger.runtime.openOptionsPage(),
  }),
);
log.info("started", { version: messenger.runtime.getManifest().version });
void lifecycle.reconfigure();
