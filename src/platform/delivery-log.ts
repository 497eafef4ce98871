// The Send log's storage (docs/architecture.md "One Send"): one DeliveryRecord per Send, read by the log page.
import type { DeliveryRecord } from "../core/send-flow.js";

/**
 * The delivery log in storage.local: newest last, bounded. Entries are written in batches a moment after the send,
 * so that the storage write does not compete with Thunderbird's own SMTP send (measured: ~20 ms when it did).
 */
export function createDeliveryLog(max = 500, delayMs = 2_000) {
  const KEY = "deliveryLog";
  const pending: DeliveryRecord[] = [];
  let timer: ReturnType<typeof setTimeout> | null = null;
  let queue: Promise<void> = Promise.resolve();
  const flush = () => {
    timer = null;
    const batch = pending.splice(0);
    queue = queue
      .then(async () => {
        const got = await messenger.storage.local.get(KEY);
        const list = Array.isArray(got[KEY]) ? (got[KEY] as unknown[]) : [];
        list.push(...batch);
        await messenger.storage.local.set({ [KEY]: list.slice(Math.max(0, list.length - max)) });
      })
      .catch(() => undefined);
    return queue;
  };
  return {
    record(entry: DeliveryRecord): void {
      pending.push(entry);
      timer ??= setTimeout(flush, delayMs);
    },
    async entries(): Promise<DeliveryRecord[]> {
      if (timer !== null) {
        clearTimeout(timer);
        await flush();
      }
      await queue;
      const got = await messenger.storage.local.get(KEY);
      return Array.isArray(got[KEY]) ? (got[KEY] as DeliveryRecord[]) : [];
    },
  };
}
