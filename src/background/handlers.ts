// What the add-on's pages ask the background (core/messages.ts BackgroundRequests), one handler each; the router
// (router.ts) checks the sender and the payload first. Everything a handler needs is passed in.
import { diagnosticReport } from "../core/diagnostic.js";
import type { Logger } from "../core/log.js";
import type { AccountInput } from "../core/messages.js";
import { parseAddressList } from "../core/mime/address.js";
import { isValidBareJid } from "../core/resolve.js";
import type { DeliveryRecord, SendFlow } from "../core/send-flow.js";
import { validateSetting, type Settings } from "../core/settings.js";
import type { SessionStatus } from "../core/status.js";
import { addJidToAddressBook } from "../platform/address-book-writer.js";
import type { AddressIndex } from "../platform/address-index.js";
import { toSendRequest } from "../platform/send-request.js";
import type { CredentialStore } from "../platform/credentials-store.js";
import type { ResolutionStore } from "../platform/resolution-store.js";
import type { SettingsStore } from "../platform/settings-store.js";
import { testConnection, type ConnectionTestDeps } from "../xmpp/connection-test.js";
import type { Keyring } from "../xmpp/e2e-keyring.js";
import type { Handlers } from "./router.js";
import type { SessionLifecycle } from "./session-lifecycle.js";
import type { WebsocketEndpoint } from "./websocket-endpoint.js";

export interface HandlerDeps {
  readonly log: Logger;
  readonly settingsStore: Pick<SettingsStore, "load" | "save">;
  readonly credentials: Pick<CredentialStore, "setPassword" | "sourceFor">;
  readonly endpoint: Pick<WebsocketEndpoint, "find">;
  readonly lifecycle: SessionLifecycle;
  /** What "Test connection" logs in with (everything but the account). */
  readonly connectionTest: Omit<ConnectionTestDeps, "log">;
  status(): SessionStatus;
  settings(): Settings;
  readonly flow: Pick<SendFlow, "preview">;
  /** Compose tabs whose message the user switched to "SMTP only" in the compose window's indicator. */
  readonly xmppOff: Set<number>;
  /** Resolves once the in-memory resolution sources (mappings, address index) are loaded. */
  lookupsReady(): Promise<void>;
  readonly addressIndex: Pick<AddressIndex, "current" | "changed">;
  readonly resolutionStore: Pick<ResolutionStore, "rememberLearned">;
  readonly deliveryLog: { entries(): Promise<DeliveryRecord[]> };
  /** End-to-end encryption (issue 15): the keyring's views for the pages. Absent: the e2e requests answer an error. */
  readonly e2e?: Pick<Keyring, "ownView" | "peerView" | "changedPeers" | "accept">;
}

const E2E_UNAVAILABLE = { error: "e2e unavailable" } as const;
const NOT_A_JID = { error: "not a bare JID" } as const;

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

export function createHandlers(deps: HandlerDeps): Handlers {
  const { log, credentials, settingsStore } = deps;
  return {
    getStatus: async () => deps.status(),
    testConnection: async (input) => {
      const resolved = await settingsStore.load();
      const jid = input.jid.trim();
      let websocketUrl = input.websocketUrl.trim();
      if (!websocketUrl) {
        const found = await deps.endpoint.find(jid);
        if ("error" in found) {
          return found.noWebsocket
            ? { ok: false, kind: "no-websocket", detail: found.error }
            : { ok: false, kind: "not-websocket", detail: `no WebSocket URL entered, and discovery failed: ${found.error}` };
        }
        websocketUrl = found.url;
      }
      const stored = input.password ? {} : await credentials.sourceFor(jid, resolved.settings.password || undefined).load();
      return testConnection({ jid, websocketUrl, ...stored, ...(input.password ? { password: input.password } : {}) }, { ...deps.connectionTest, log });
    },
    saveAccount: async (input: AccountInput) => {
      const jid = input.jid.trim();
      const websocketUrl = input.websocketUrl.trim();
      for (const [key, value] of [["jid", jid], ["websocketUrl", websocketUrl]] as const) {
        const check = validateSetting(key, value);
        if (!check.ok) return { ok: false, error: `${key}: ${check.error}` };
      }
      if (input.password) {
        await credentials.setPassword(jid, input.password);
        deps.lifecycle.passwordChanged();
      }
      const saved = await settingsStore.save({ jid, websocketUrl });
      if (!saved.ok) return { ok: false, error: saved.errors.map((issue) => `${issue.key}: ${issue.error}`).join(", ") };
      await deps.lifecycle.reconfigure();
      return { ok: true };
    },
    discoverWebsocket: async ({ jid }) => {
      const found = await deps.endpoint.find(jid);
      log.info("websocket-discovered", "url" in found ? { url: found.url, via: found.via } : { noWebsocket: found.noWebsocket });
      return "url" in found ? { url: found.url } : { error: found.error, noWebsocket: found.noWebsocket };
    },
    previewRoute: async ({ tabId }) => {
      await deps.lookupsReady();
      const details = await messenger.compose.getComposeDetails(tabId);
      const request = await toSendRequest(tabId, details, deps.addressIndex.current, deps.xmppOff.has(tabId));
      const preview = deps.flow.preview(request);
      log.debug("route-previewed", { result: preview.result, recipients: preview.recipients.length, routes: preview.recipients.map((r) => r.route).join(",") });
      return preview;
    },
    setXmppOff: async ({ tabId, off }) => {
      if (off) deps.xmppOff.add(tabId);
      else deps.xmppOff.delete(tabId);
      log.info("xmpp-switched", { tabId, off });
      return { ok: true };
    },
    getDeliveryLog: async () => ({ entries: await deps.deliveryLog.entries() }),
    confirmMapping: async ({ address, jid }) => {
      const mailbox = singleMailbox(address);
      if (!mailbox || !isValidBareJid(jid)) return { error: "not an e-mail address and a bare JID" };
      await deps.resolutionStore.rememberLearned(mailbox.address, jid, true);
      log.info("mapping-confirmed", { jid });
      return { ok: true };
    },
    saveJidToAddressBook: async ({ address, jid }) => {
      const mailbox = singleMailbox(address);
      if (!mailbox || !isValidBareJid(jid)) return { error: "not an e-mail address and a bare JID" };
      const how = await addJidToAddressBook(mailbox.address, jid, mailbox.name);
      deps.addressIndex.changed();
      log.info("address-book-jid-saved", { how });
      return { ok: true, how };
    },
    e2eOwn: async () => {
      if (!deps.e2e) return E2E_UNAVAILABLE;
      try {
        const view = await deps.e2e.ownView();
        // Fingerprints are public (the options page shows them); tests read what the page was given from this line.
        log.info("e2e-own-shown", { devices: view.devices.length, fingerprint: view.devices.find((d) => d.thisDevice)?.fingerprint ?? null });
        return view;
      } catch (error) {
        // The device's keys cannot be read or made (the key store failed): said as such, the page shows no fingerprint.
        log.warn("e2e-own-view-failed", { error });
        return { error: "this device's keys are unavailable" };
      }
    },
    e2ePeer: async ({ jid }) => {
      if (!deps.e2e) return E2E_UNAVAILABLE;
      if (!isValidBareJid(jid)) return NOT_A_JID;
      const view = await deps.e2e.peerView(jid);
      // Debug, as route-previewed: the compose indicator asks every 700 ms while it is open.
      log.debug("e2e-peer-shown", { state: view.state, devices: view.devices.length });
      return view;
    },
    e2eChangedPeers: async () => {
      if (!deps.e2e) return E2E_UNAVAILABLE;
      return { peers: await deps.e2e.changedPeers() };
    },
    e2eAccept: async ({ jid }) => {
      if (!deps.e2e) return E2E_UNAVAILABLE;
      if (!isValidBareJid(jid)) return NOT_A_JID;
      await deps.e2e.accept(jid); // (the keyring logs it)
      return { ok: true };
    },
    getDiagnosticReport: async () => {
      const info = await messenger.runtime.getBrowserInfo().catch(() => ({ name: "unknown", version: "?" }));
      return {
        text: diagnosticReport({
          addonVersion: messenger.runtime.getManifest().version,
          host: `${info.name} ${info.version}`,
          status: deps.status(),
          settings: deps.settings(),
          entries: await deps.deliveryLog.entries(),
          now: new Date(),
        }),
      };
    },
  };
}
