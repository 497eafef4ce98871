// Thunderbird's side of a Send, as listeners: compose.onBeforeSend hands the Send to core/send-flow (the request is
// built by send-request.ts) and, after an XMPP-only delivery, does what Thunderbird would have done after sending:
// a copy in the Sent folder (sent-copy.ts), the autosaved draft removed, the window closed.
import type { Logger } from "../core/log.js";
import type { SendFlow, SendResult } from "../core/send-flow.js";
import type { AddressIndexSnapshot } from "./address-index.js";
import { toBeforeSendReturn, toSendRequest } from "./send-request.js";
import { fileSentCopy } from "./sent-copy.js";

type Details = messenger.compose.ComposeDetails;

export interface ComposeSendDeps {
  readonly flow: SendFlow;
  readonly log: Logger;
  /** Resolves once the in-memory resolution sources are loaded (at once after start). */
  ready(): Promise<void>;
  index(): AddressIndexSnapshot;
  isSwitchedOff(tabId: number): boolean;
  /** Localized "Delivered over XMPP to …" notification. */
  notify(delivered: readonly string[]): void;
}

export function createComposeSend(deps: ComposeSendDeps) {
  const { log } = deps;
  /** Drafts Thunderbird saved for a compose tab (autosave or explicit): removed when that mail went over XMPP. */
  const drafts = new Map<number, Set<number>>();

  async function complete(tabId: number, details: Details, result: Extract<SendResult, { kind: "cancel" }>): Promise<void> {
    // Listen for Thunderbird's report on the cancelled send from now on (this runs before onBeforeSend answers): it
    // may come before the Sent copy is filed. Only while such a report is due: a registered compose.onAfterSend
    // listener makes every send of Thunderbird 153 ~65 ms slower (measured), also the ones this add-on leaves alone.
    const aborted = new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), 3_000);
      const listener = (tab: messenger.tabs.Tab) => {
        if (tab.id === tabId) done();
      };
      const done = () => {
        clearTimeout(timer);
        messenger.compose.onAfterSend.removeListener(listener);
        resolve();
      };
      messenger.compose.onAfterSend.addListener(listener);
    });
    try {
      await finish(tabId, details, result, aborted);
    } catch (error) {
      log.error("after-xmpp-send-failed", { error });
    }
  }

  async function finish(tabId: number, details: Details, result: Extract<SendResult, { kind: "cancel" }>, aborted: Promise<void>): Promise<void> {
    try {
      const where = await fileSentCopy(result.sentCopy(), details, log);
      log.info("sent-copy-filed", { folder: where ?? "(none: no Fcc)", messageId: result.messageId });
    } catch (error) {
      log.error("sent-copy-failed", { error, messageId: result.messageId });
    }
    const draftIds = [...(drafts.get(tabId) ?? [])];
    if (details.type === "draft" && details.relatedMessageId !== undefined) draftIds.push(details.relatedMessageId);
    if (draftIds.length > 0) {
      await messenger.messages.delete(draftIds, true).then(
        () => log.info("draft-deleted", { count: draftIds.length }),
        (error: unknown) => log.warn("draft-delete-failed", { error }),
      );
    }
    drafts.delete(tabId);
    // Close the window only once Thunderbird has finished with the cancelled send (onAfterSend), or after 3 s.
    await aborted;
    await messenger.tabs.remove(tabId).catch((error: unknown) => log.warn("compose-close-failed", { error }));
    log.info("compose-closed", { tabId });
    deps.notify(result.delivered);
  }

  return {
    /** compose.onBeforeSend listener. Never rejects: on any error Thunderbird sends as it would have. */
    async onBeforeSend(tab: messenger.tabs.Tab, details: Details): Promise<{ cancel?: boolean; details?: Details }> {
      const started = performance.now();
      const tabId = tab.id;
      if (tabId === undefined) return {};
      let answer: { cancel?: boolean; details?: Details } = {};
      try {
        await deps.ready();
        const request = await toSendRequest(tabId, details, deps.index(), deps.isSwitchedOff(tabId));
        const result = await deps.flow.handle(request);
        if (result.kind === "cancel") void complete(tabId, details, result);
        answer = toBeforeSendReturn(result);
      } catch (error) {
        log.error("before-send-failed", { error });
      }
      // The whole time Thunderbird's Send was held by this listener; logged after the answer is on its way.
      const ms = Math.round((performance.now() - started) * 1000) / 1000;
      setTimeout(() => log.info("send-held", { ms, cancel: answer.cancel === true, rewrite: answer.details !== undefined }), 0);
      return answer;
    },
    /** compose.onAfterSave listener: remembers the drafts of each compose tab. */
    onAfterSave(tab: messenger.tabs.Tab, info: { mode: string; messages: messenger.messages.MessageHeader[] }): void {
      if (tab.id === undefined || (info.mode !== "autoSave" && info.mode !== "draft")) return;
      const set = drafts.get(tab.id) ?? new Set<number>();
      for (const m of info.messages) set.add(m.id);
      drafts.set(tab.id, set);
    },
    /** tabs.onRemoved listener. */
    onTabRemoved(tabId: number): void {
      drafts.delete(tabId);
    },
  };
}
