// The session status model, observable by the UI. Pure data: no host calls.

export type SessionStatus =
  | { readonly state: "disconnected"; readonly reason?: string }
  | { readonly state: "connecting"; readonly attempt: number }
  | { readonly state: "online"; readonly jid: string; readonly since: number }
  | { readonly state: "auth-failed"; readonly reason: string }
  | { readonly state: "error"; readonly reason: string; readonly retryAt?: number };

export type SessionState = SessionStatus["state"];

export function describeStatus(status: SessionStatus): string {
  switch (status.state) {
    case "disconnected":
      return status.reason ? `disconnected (${status.reason})` : "disconnected";
    case "connecting":
      return status.attempt > 1 ? `connecting (attempt ${status.attempt})` : "connecting";
    case "online":
      return `online as ${status.jid}`;
    case "auth-failed":
      return `authentication failed: ${status.reason}`;
    case "error":
      return `error: ${status.reason}`;
  }
}
