// A recipient running the add-on's receiving engine in Node: logs in to the test Prosody, publishes the "accepts mail"
// capability, files what arrives into memory (then answers "filed"), and can be told to stall before filing.
import type { Logger } from "../../src/core/log.js";
import type { ProsodyServer } from "./prosody.js";
import { ourSession, quietLog, whenOnline } from "./mail-fixtures.js";
import { publishCapability } from "../../src/xmpp/capability.js";
import { MailReceiver, type FiledMail } from "../../src/xmpp/receiver.js";
import type { XmppSession } from "../../src/xmpp/session.js";

export interface MailPeer {
  readonly jid: string;
  readonly session: XmppSession;
  readonly filed: FiledMail[];
  /** When set, called before each mail is filed; filing waits for it. */
  beforeFile: ((mail: FiledMail) => Promise<void>) | null;
  /** The engine's persistent storage (hand it to the next engine to model a restart). */
  readonly memory: Map<string, unknown>;
  stop(): Promise<void>;
}

export interface MailPeerOptions {
  readonly capable?: boolean;
  /** Connect here instead of the server's own URL (e.g. through tests/support/ws-proxy.ts). */
  readonly websocketUrl?: string;
  /** The engine's persistent storage; pass the previous one to model a restarted Thunderbird. */
  readonly memory?: Map<string, unknown>;
  /** The receiving engine's log (default: quiet). */
  readonly log?: Logger;
}

export async function startMailPeer(server: ProsodyServer, user: string, password: string, options: MailPeerOptions = {}): Promise<MailPeer> {
  const session = ourSession(server, user, password, "engine", quietLog, options.websocketUrl ? { websocketUrl: options.websocketUrl } : {});
  const memory = options.memory ?? new Map<string, unknown>();
  const peer: MailPeer = {
    jid: `${user}@${server.domain}`,
    session,
    filed: [],
    beforeFile: null,
    memory,
    stop: () => session.stop(),
  };
  new MailReceiver({
    session,
    sink: {
      file: async (mail) => {
        if (peer.beforeFile) await peer.beforeFile(mail);
        peer.filed.push(mail);
      },
    },
    directory: { confirmedJids: async () => [], addressBookJids: async () => [], isKnown: async () => true },
    store: { get: async (k) => memory.get(k), set: async (k, v) => void memory.set(k, v) },
    log: options.log ?? quietLog,
  }).start();
  session.start();
  await whenOnline(session);
  if (options.capable !== false) await publishCapability(session, new Date());
  return peer;
}
