// One typed message router for the background (pages → background). Checks the sender and the message shape before
// any handler runs; a handler's failure becomes an error reply, never an unhandled rejection.
import type { BackgroundRequests, RequestName } from "../core/messages.js";

export type Handlers = {
  [K in RequestName]: (payload: BackgroundRequests[K][0]) => Promise<BackgroundRequests[K][1]>;
};

type FieldType = "string" | "tabId" | "boolean";

/** What a handler's payload must look like: each named field of its type (strings of bounded length). */
const FIELDS: { [K in RequestName]: Readonly<Record<keyof BackgroundRequests[K][0] & string, FieldType>> } = {
  getStatus: {},
  testConnection: { jid: "string", password: "string", websocketUrl: "string" },
  saveAccount: { jid: "string", password: "string", websocketUrl: "string" },
  discoverWebsocket: { jid: "string" },
  previewRoute: { tabId: "tabId" },
  setXmppOff: { tabId: "tabId", off: "boolean" },
  getDeliveryLog: {},
  getDiagnosticReport: {},
  confirmMapping: { address: "string", jid: "string" },
  saveJidToAddressBook: { address: "string", jid: "string" },
  e2eOwn: {},
  e2ePeer: { jid: "string" },
  e2eChangedPeers: {},
  e2eAccept: { jid: "string" },
};
const MAX_FIELD_LENGTH = 4096;

export class RequestError extends Error {
  override readonly name = "RequestError";
}

export function validateRequest(message: unknown): { type: RequestName; payload: Record<string, string | number | boolean> } {
  if (typeof message !== "object" || message === null) throw new RequestError("request is not an object");
  const { type, payload } = message as { type?: unknown; payload?: unknown };
  if (typeof type !== "string" || !Object.hasOwn(FIELDS, type)) throw new RequestError(`unknown request ${String(type)}`);
  const name = type as RequestName;
  const body = payload ?? {};
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new RequestError("payload is not an object");
  const clean: Record<string, string | number | boolean> = {};
  for (const [field, kind] of Object.entries(FIELDS[name]) as Array<[string, FieldType]>) {
    const value = (body as Record<string, unknown>)[field];
    if (kind === "string") {
      if (typeof value !== "string") throw new RequestError(`${field} must be a string`);
      if (value.length > MAX_FIELD_LENGTH) throw new RequestError(`${field} is too long`);
    } else if (kind === "tabId") {
      if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) throw new RequestError(`${field} must be a tab id`);
    } else if (typeof value !== "boolean") throw new RequestError(`${field} must be true or false`);
    clean[field] = value as string | number | boolean;
  }
  return { type: name, payload: clean };
}

/**
 * Returns the listener for runtime.onMessage. `trusted(sender)` decides whether the sender may use privileged
 * requests (only our own extension pages). The returned promise always resolves to a structured-clonable value.
 */
export function createRouter<S>(handlers: Handlers, trusted: (sender: S) => boolean, onError: (error: unknown) => void) {
  return (message: unknown, sender: S): Promise<unknown> | undefined => {
    if (!trusted(sender)) return undefined;
    let request: { type: RequestName; payload: Record<string, string | number | boolean> };
    try {
      request = validateRequest(message);
    } catch (error) {
      return Promise.resolve({ error: (error as Error).message });
    }
    const handler = handlers[request.type] as (payload: unknown) => Promise<unknown>;
    return handler(request.payload).then(
      (result) => structuredClone(result),
      (error: unknown) => {
        onError(error);
        return { error: error instanceof Error ? error.message : "request failed" };
      },
    );
  };
}
