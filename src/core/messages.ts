// The typed contract between UI pages and the background (one router, see src/background/router.ts).
import type { Limitation } from "./limitations.js";
import type { SessionStatus } from "./status.js";
import type { DeliveryRecord, RoutePreviewResult } from "./send-flow.js";

/** Why a connection test failed, precise enough to tell the user what to fix. */
export type ConnectFailureKind =
  | "invalid-input" // the JID or URL is malformed
  | "insecure" // ws:// to a non-loopback host
  | "dns" // the host name does not resolve
  | "refused" // nothing listens there (or a firewall rejects)
  | "tls" // TLS handshake / certificate problem
  | "not-websocket" // an HTTP server answered, but not an XMPP WebSocket endpoint
  | "no-websocket" // no URL entered, and the domain offers no XMPP WebSocket anywhere usual: the add-on cannot use it
  | "auth" // the server rejected the credentials
  | "timeout" // no answer within the deadline
  | "other";

export type ConnectTestResult =
  | {
      readonly ok: true;
      readonly jid: string;
      readonly mechanism: string;
      readonly millis: number;
      /** What the server lacks and what it costs (issue 11 point 8); absent or empty: nothing. */
      readonly limitations?: readonly Limitation[];
    }
  | { readonly ok: false; readonly kind: ConnectFailureKind; readonly detail: string };

export interface AccountInput {
  readonly jid: string;
  /** Empty means "keep the stored credentials". */
  readonly password: string;
  readonly websocketUrl: string;
}

/** How a peer's announced devices compare with the pinned ones (docs/protocol.md §10.6); "none": neither. */
export type E2ePeerState = "none" | "first-use" | "unchanged" | "changed" | "withdrawn";

/** A correspondent's devices for the pages: fingerprints (8 groups of 5 digits), pinned and/or announced now. */
export interface E2ePeerView {
  readonly jid: string;
  readonly state: E2ePeerState;
  readonly devices: ReadonlyArray<{ readonly id: string; readonly fingerprint: string; readonly pinned: boolean; readonly announced: boolean }>;
}

/** The account's devices (this one marked), for the options page. */
export interface E2eOwnView {
  readonly devices: ReadonlyArray<{ readonly id: string; readonly fingerprint: string; readonly thisDevice: boolean }>;
}

/** Request name → [request payload, response payload]. */
export interface BackgroundRequests {
  getStatus: [Record<string, never>, SessionStatus];
  testConnection: [AccountInput, ConnectTestResult];
  saveAccount: [AccountInput, { readonly ok: true } | { readonly ok: false; readonly error: string }];
  /** Host-meta, then the usual Prosody/ejabberd endpoints; `noWebsocket`: the domain offers none (issue 13 point 4). */
  discoverWebsocket: [{ readonly jid: string }, { readonly url: string } | { readonly error: string; readonly noWebsocket?: boolean }];
  /** What a Send from this compose tab would do now (the compose window's indicator). */
  previewRoute: [{ readonly tabId: number }, RoutePreviewResult | { readonly error: string }];
  /** Switches XMPP delivery off (or on again) for the message in this compose tab. */
  setXmppOff: [{ readonly tabId: number; readonly off: boolean }, { readonly ok: true }];
  /** The delivery log, newest last. */
  getDeliveryLog: [Record<string, never>, { readonly entries: readonly DeliveryRecord[] }];
  /** The user confirms a JID learned from an X-Jabber-ID header (not the address itself; one click in the indicator). */
  confirmMapping: [{ readonly address: string; readonly jid: string }, { readonly ok: true } | { readonly error: string }];
  /** Puts the JID into the address book (the contact's XMPP field), creating the contact if needed. */
  saveJidToAddressBook: [{ readonly address: string; readonly jid: string }, { readonly ok: true; readonly how: "updated" | "created" } | { readonly error: string }];
  /** The diagnostic report (no addresses, subjects, content or secrets). */
  getDiagnosticReport: [Record<string, never>, { readonly text: string }];
  /** This device's fingerprint and the account's other devices (end-to-end encryption, issue 15). */
  e2eOwn: [Record<string, never>, E2eOwnView | { readonly error: string }];
  /** A correspondent's devices and whether they changed (the compose window's indicator). */
  e2ePeer: [{ readonly jid: string }, E2ePeerView | { readonly error: string }];
  /** Correspondents whose announced devices differ from the pinned ones (the options page). */
  e2eChangedPeers: [Record<string, never>, { readonly peers: readonly E2ePeerView[] } | { readonly error: string }];
  /** The user accepts the devices a correspondent announces now. */
  e2eAccept: [{ readonly jid: string }, { readonly ok: true } | { readonly error: string }];
}

export type RequestName = keyof BackgroundRequests;

export interface RequestEnvelope<K extends RequestName = RequestName> {
  readonly type: K;
  readonly payload: BackgroundRequests[K][0];
}

/** Pushed by the background over a runtime port named STATUS_PORT whenever the status changes. */
export const STATUS_PORT = "status";
export interface StatusPush {
  readonly type: "status";
  readonly status: SessionStatus;
}
