// Plain data that the platform adapter extracts from messenger.compose.getComposeDetails
// plus compose.listAttachments / compose.getAttachmentFile. Nothing here knows Thunderbird:
// the MIME builder (build.ts) turns it into RFC 5322 bytes.

export interface OutgoingAttachment {
  /** File name as the user sees it; may contain any Unicode. */
  readonly name: string;
  /** MIME type, e.g. File.type; empty or malformed becomes application/octet-stream. */
  readonly contentType: string;
  readonly data: Uint8Array;
}

export interface OutgoingMail {
  /** "Alice Example <alice@example.org>" as Thunderbird gives it. */
  readonly from: string;
  readonly to: readonly string[];
  readonly cc: readonly string[];
  readonly bcc: readonly string[];
  readonly replyTo: readonly string[];
  readonly subject: string;
  /** Body when !isPlainText. */
  readonly html?: string;
  /** plainTextBody (always present; for HTML mails the text alternative). */
  readonly text: string;
  readonly isPlainText: boolean;
  readonly deliveryFormat?: "auto" | "plaintext" | "html" | "both";
  readonly priority?: "lowest" | "low" | "normal" | "high" | "highest";
  /** → Disposition-Notification-To: the From mailbox. */
  readonly returnReceipt?: boolean;
  /** Message-ID of relatedMessageId's message, "<id@host>" (angle brackets optional). */
  readonly inReplyTo?: string;
  readonly references?: readonly string[];
  /** Only X-* and List-* names; values without CR/LF. */
  readonly customHeaders?: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  readonly attachments: readonly OutgoingAttachment[];
}
