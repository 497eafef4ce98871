// The send path's wiring: the SendFlow (core/send-flow.ts) with its configuration from the settings, the capability
// answers (cached, asked over the current session), delivery through the current MailSender, and the Send log; and
// the compose window's events that drive it.
import type { Logger } from "../core/log.js";
import { bareJid } from "../core/jid.js";
import { boundAddresses } from "../core/settings.js";
import { SendFlow, type CopyOutcome, type DeliveryRecord } from "../core/send-flow.js";
import type { AddressIndex } from "../platform/address-index.js";
import type { CapabilityStore } from "../platform/capability-store.js";
import { createComposeSend } from "../platform/compose-send.js";
import type { ResolutionStore } from "../platform/resolution-store.js";
import { queryCapabilityInfo } from "../xmpp/capability.js";
import type { Keyring } from "../xmpp/e2e-keyring.js";
import { fallbackBody } from "../xmpp/mail-stanza.js";
import { realScheduler } from "../xmpp/runtime.js";
import type { StrangerGate } from "../xmpp/stranger-gate.js";
import { notifyDelivered } from "./notifications.js";
import type { Live } from "./session-lifecycle.js";

export interface SendFlowWiring {
  readonly log: Logger;
  readonly live: Live;
  readonly capabilities: CapabilityStore;
  readonly resolutionStore: Pick<ResolutionStore, "data">;
  readonly addressIndex: Pick<AddressIndex, "current">;
  readonly strangerGate: Pick<StrangerGate, "rememberSentTo">;
  record(entry: DeliveryRecord): void;
  /** End-to-end encryption: which devices of a recipient to seal for (absent: version 0 for everyone). */
  readonly keyring?: Pick<Keyring, "sealingFor" | "blocked">;
}

/**
 * A cached answer older than this is read again after a Send that used it (in the background: the Send does not wait),
 * so that a peer's new or replaced device (docs/protocol.md §10.6) is seen within hours, not only when the day-long
 * cache entry expires.
 */
const DEVICES_REFRESH_AFTER_MS = 3_600_000;

export function createSendFlow({ log, live, capabilities, resolutionStore, addressIndex, strangerGate, record, keyring }: SendFlowWiring): SendFlow {
  /** Reads a JID's capability item again, in the background (one at a time per JID). */
  const refreshing = new Set<string>();
  const refresh = (jid: string, why: string): void => {
    const current = live.session;
    if (refreshing.has(jid) || !current || current.status.state !== "online") return;
    refreshing.add(jid);
    queryCapabilityInfo(current, jid, new Date(), 10_000)
      .then((answer) => {
        capabilities.set(jid, answer.capable, answer.devices);
        log.debug("capability-refreshed", { jid, why, capable: answer.capable, devices: answer.devices.length });
      })
      .catch((error: unknown) => log.debug("capability-refresh-failed", { jid, error }))
      .finally(() => refreshing.delete(jid));
  };
  return new SendFlow({
    scheduler: realScheduler,
    log,
    online: () => live.session?.status.state === "online" && live.mailSender !== null,
    config: () => {
      const s = live.settings;
      const own = bareJid(s.jid);
      return {
        policy: s.routePolicy,
        holdMs: s.sendHoldSeconds * 1000,
        announceJid: s.enabled && s.announceJid && own ? own : null,
        // Only mail from the identities bound to the account goes over XMPP (docs/policies.md xmppIdentities).
        fromAddresses: boundAddresses(s),
      };
    },
    resolutionData: () => resolutionStore.data(addressIndex.current.jidsByEmail, live.settings),
    capability: {
      // A pinned peer whose keys changed or vanished counts as not taking mail over XMPP until the user accepts
      // (docs/protocol.md §10.7): the compose window then says "by mail", as the Send will do.
      cached: (jid) => {
        const capable = capabilities.get(jid);
        return capable === true && keyring?.blocked(jid) ? false : capable;
      },
      lookup: async (jid, timeoutMs) => {
        const current = live.session;
        if (!current || current.status.state !== "online") throw new Error("offline");
        const answer = await queryCapabilityInfo(current, jid, new Date(), timeoutMs);
        capabilities.set(jid, answer.capable, answer.devices);
        return answer.capable;
      },
    },
    deliver: async ({ jid, raw, mail }, deadlineMs): Promise<CopyOutcome> => {
      const sender = live.mailSender;
      if (!sender) return { status: "failed", reason: "offline" };
      const body = fallbackBody({ from: mail.from, to: [...mail.to, ...mail.cc], subject: mail.subject, text: mail.text, attachmentNames: mail.attachments.map((a) => a.name) });
      // Version 1 when the recipient announces devices this side trusts (docs/protocol.md §10.7); a pinned peer whose
      // keys changed or vanished does not get version 0 instead: SMTP, with the reason in the delivery log.
      const sealing = keyring ? await keyring.sealingFor(jid).catch((error: unknown) => ({ failed: error })) : null;
      if (sealing && "failed" in sealing) {
        log.warn("e2e-unavailable", { jid, error: sealing.failed });
        return { status: "failed", reason: "end-to-end encryption unavailable on this computer (key store)" };
      }
      if (sealing && "refuse" in sealing) return { status: "failed", reason: sealing.refuse };
      const e2e = sealing?.v1 ? { me: sealing.me, devices: sealing.devices, ...(live.settings.e2ePreview ? { preview: true } : {}) } : undefined;
      const delivered = await sender.deliver({ to: jid, raw, subject: mail.subject, fallbackBody: body, ...(e2e ? { e2e } : {}) }, deadlineMs);
      // Version 0: the delivery log says why (docs/protocol.md §10.7).
      const outcome: CopyOutcome =
        sealing && "v1" in sealing && !sealing.v1 && (delivered.status === "filed" || delivered.status === "accepted") ? { ...delivered, e2eWhyNot: sealing.reason } : delivered;
      // Written to over XMPP: mail from that JID is no longer limited as unsolicited.
      if (outcome.status === "filed" || outcome.status === "accepted") {
        strangerGate.rememberSentTo(jid).catch((error: unknown) => log.warn("sent-to-save-failed", { error }));
      }
      // A bounce means the account does not take mail (any more): ask again next time.
      if (outcome.status === "failed" && /^bounced/.test(outcome.reason)) capabilities.set(jid, false);
      // A sealed copy that was not filed may have been sealed for devices the peer no longer has (a reinstalled
      // add-on answers nothing to a copy it holds no key for): read its devices again for the next mail. So too
      // after any Send on an answer more than an hour old.
      else if (e2e && outcome.status !== "filed") refresh(jid, "not-filed");
      else if ((capabilities.ageMs(jid) ?? 0) > DEVICES_REFRESH_AFTER_MS) refresh(jid, "aged");
      return outcome;
    },
    // Before the message is read: a mail whose upload cannot end within the hold goes by SMTP at once.
    precheck: (minBytes, leftMs) => live.mailSender?.precheck(minBytes, leftMs) ?? null,
    record,
  });
}

export interface ComposeWiring {
  readonly log: Logger;
  readonly flow: SendFlow;
  readonly addressIndex: Pick<AddressIndex, "current">;
  /** Resolves once the in-memory resolution sources are loaded (at once after start); a Send right at start waits. */
  lookupsReady(): Promise<void>;
  /** Compose tabs whose message the user switched to "SMTP only" in the compose window's indicator. */
  readonly xmppOff: Set<number>;
}

/** Every Send (compose.onBeforeSend) goes through the flow; saved drafts and the "SMTP only" switch follow the tab. */
export function listenForSend({ log, flow, addressIndex, lookupsReady, xmppOff }: ComposeWiring): void {
  const composeSend = createComposeSend({
    flow,
    log,
    index: () => addressIndex.current,
    ready: lookupsReady,
    isSwitchedOff: (tabId) => xmppOff.has(tabId),
    notify: notifyDelivered(log),
  });
  messenger.compose.onBeforeSend.addListener((tab, details) => composeSend.onBeforeSend(tab, details));
  messenger.compose.onAfterSave.addListener((tab, info) => {
    composeSend.onAfterSave(tab, info);
  });
  messenger.tabs.onRemoved.addListener((tabId) => {
    composeSend.onTabRemoved(tabId);
    xmppOff.delete(tabId);
  });
}
