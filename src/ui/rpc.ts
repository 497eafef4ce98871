// Typed requests from a UI page to the background router (contract: src/core/messages.ts).
import type { BackgroundRequests, RequestEnvelope, RequestName } from "../core/messages.js";

export type SendMessage = (message: RequestEnvelope) => Promise<unknown>;

const hostSend: SendMessage = (message) => messenger.runtime.sendMessage(message);

/** Thrown when the background does not answer (no handler registered, or not running). */
export class NoReplyError extends Error {
  constructor(
    readonly requestType: RequestName,
    options?: ErrorOptions,
  ) {
    // Names the request type only: a payload may hold a password.
    super(`no reply from the background to ${requestType}`, options);
    this.name = "NoReplyError";
  }
}

/**
 * Sends `{type, payload}` and resolves with the background's reply. The reply's shape is the contract's;
 * pages should still check the fields they display (see src/ui/options/present.ts).
 */
export async function request<K extends RequestName>(
  type: K,
  payload: BackgroundRequests[K][0],
  send: SendMessage = hostSend,
): Promise<BackgroundRequests[K][1]> {
  const envelope: RequestEnvelope<K> = { type, payload };
  let reply: unknown;
  try {
    reply = await send(envelope);
  } catch (error) {
    // "Could not establish connection. Receiving end does not exist." when nothing listens.
    throw new NoReplyError(type, { cause: error });
  }
  if (reply === undefined || reply === null) throw new NoReplyError(type);
  return reply as BackgroundRequests[K][1];
}
