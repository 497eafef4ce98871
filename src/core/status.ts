// The session status model, observable by the UI. Pure data: no host calls.
import { describeLimitation, type Limitation } from "./limitations.js";

export type SessionStatus =
  | { readonly state: "disconnected"; readonly reason?: string }
  | { readonly state: "connecting"; readonly attempt: number }
  | {
      readonly state: "online";
      readonly jid: string;
      readonly since: number;
      /** What the account's server lacks and what it costs (empty or absent: nothing). */
      readonly limitations?: readonly Limitation[];
    }
  | { readonly state: "auth-failed"; readonly reason: string }
  | {
      readonly state: "error";
      readonly reason: string;
      readonly retryAt?: number;
      /** Why, when the UI has its own words for it: no WebSocket found for the account (none offered, or none found). */
      readonly code?: EndpointProblem;
    };

/** The account's server offers no XMPP WebSocket at all, or none was found and no URL is set. */
export type EndpointProblem = "no-websocket" | "no-url";

export type SessionState = SessionStatus["state"];

export function describeStatus(status: SessionStatus): string {
  switch (status.state) {
    case "disconnected":
      return status.reason ? `disconnected (${status.reason})` : "disconnected";
    case "connecting":
      return status.attempt > 1 ? `connecting (attempt ${status.attempt})` : "connecting";
    case "online":
      return status.limitations?.length
        ? `online as ${status.jid}, but ${status.limitations.map(describeLimitation).join("; ")}`
        : `online as ${status.jid}`;
    case "auth-failed":
      return `authentication failed: ${status.reason}`;
    case "error":
      return `error: ${status.reason}`;
  }
}

/** The status with the given limitations (only an online status carries them; an empty list removes them). */
export function withLimitations(status: SessionStatus, limitations: readonly Limitation[]): SessionStatus {
  if (status.state !== "online") return status;
  const { limitations: _old, ...rest } = status;
  return limitations.length ? { ...rest, limitations: [...limitations] } : rest;
}

export function limitationsOf(status: SessionStatus): readonly Limitation[] {
  return status.state === "online" ? (status.limitations ?? []) : [];
}
