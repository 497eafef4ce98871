// What @types/thunderbird-webext-browser 127 lacks and this project uses, merged into the global `messenger`
// namespace. Written from the schemas of the installed Thunderbird 153.7.0esr (omni.ja), Manifest V2 variants:
//   chrome/messenger/content/messenger/schemas/compose.json   compose.ComposeDetails, compose.EncryptionProperties*
//   chrome/messenger/content/messenger/schemas/folders.json   folders.MailFolder, folders.query(queryInfo), folders.MailFolderInfo
//   chrome/messenger/content/messenger/schemas/messages.json  messages.getFull options (decodeHeaders, decodeContent)
//   chrome/toolkit/content/extensions/schemas/storage.json    storage.StorageArea (managed, local, …)
// Compared and already identical in 127, so not repeated here:
//   messages.import(file: File, destination: folders.MailFolderId | folders.MailFolder, properties?: messages.MessageProperties)
//     → Promise<MessageHeader>  (permissions accountsRead + messagesImport; MailFolder destination deprecated since 121)
//   messages.MessageProperties {flagged, junk, new, read, tags}
//   messages.query({folderId, headerMessageId, subject, messagesPerPage, …}) → MessageList; messages.continueList(id)
//   folders.create(destination: MailFolderId | MailFolder | accounts.MailAccount, childName) (permission accountsFolders)
//   folders.MailFolder.id: string (MailFolderId), specialUse: MailFolderSpecialUse[]
//   storage.managed: StorageArea (read-only in Gecko; get() rejects when no policy exists)
//   compose.json onBeforeSend: "For asynchronous listeners some restrictions apply" — listeners may return a Promise,
//     which 127's WebExtEvent rejects for events whose callback returns a value (see the overloads below).
// To compare again: node scripts/extract-tb-schemas.mjs [--omni PATH] [--mv 2] compose messages folders storage

/**
 * Listeners of events whose callback returns a value (compose.onBeforeSend) may be async: Thunderbird awaits them.
 * 127 types such a callback as returning the value itself, so an async listener does not type-check.
 * The type parameter must be declared exactly as in @types/thunderbird-webext-browser for the merge, `any` included.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
interface WebExtEvent<TCallback extends (...args: any[]) => any> {
  addListener(cb: (...args: Parameters<TCallback>) => Promise<Awaited<ReturnType<TCallback>>>): void;
  removeListener(cb: (...args: Parameters<TCallback>) => Promise<Awaited<ReturnType<TCallback>>>): void;
  hasListener(cb: (...args: Parameters<TCallback>) => Promise<Awaited<ReturnType<TCallback>>>): boolean;
}

declare namespace messenger {
  export namespace compose {
    /** compose.json EncryptionPropertiesOpenPGP: every property is required by the schema. */
    export interface EncryptionPropertiesOpenPGP {
      name: "OpenPGP";
      /** Whether the body is encrypted with OpenPGP. */
      encryptBody: boolean;
      /** Whether the subject is encrypted too (only honoured when encryptBody is true). */
      encryptSubject: boolean;
      signMessage: boolean;
    }

    /** compose.json EncryptionPropertiesSMIME: S/MIME has no encryptSubject. */
    export interface EncryptionPropertiesSMIME {
      name: "S/MIME";
      encryptBody: boolean;
      signMessage: boolean;
    }

    export interface ComposeDetails {
      /**
       * The selected encryption technology and its switches. `undefined` when the sending identity supports
       * no encryption at all. Setting it fails unless the identity has a key/certificate configured.
       */
      selectedEncryptionTechnology?: EncryptionPropertiesOpenPGP | EncryptionPropertiesSMIME | undefined;
      /** Whether the sending identity's public OpenPGP key is attached. */
      attachPublicPGPKey?: boolean | undefined;
    }
  }

  export namespace folders {
    export interface MailFolder {
      /** Whether this is a virtual tag folder. */
      isTag?: boolean | undefined;
    }

    export interface MailFolderInfo {
      lastUsedAsDestination?: extensionTypes.Date | undefined;
    }

    /** folders.json QueryDateRange. */
    export type QueryDateRange =
      | { recent: boolean }
      | { after?: extensionTypes.Date | undefined; before?: extensionTypes.Date | undefined };

    /** Extra folders.query() filters in 153 (the 127 ones stay as they are; `recent` is deprecated there). */
    export interface _QueryQueryInfo {
      isTag?: boolean | undefined;
      lastUsed?: QueryDateRange | undefined;
      lastUsedAsDestination?: QueryDateRange | undefined;
      /** Defaults to "path". */
      sort?: "lastUsed" | "lastUsedAsDestination" | "name" | "path" | undefined;
    }
  }

  export namespace messages {
    /** messages.json getFull options (153): 127 knows only `decrypt`. */
    export interface _GetFullOptions {
      /** Whether RFC 2047 encoded header values are decoded (default true). */
      decodeHeaders?: boolean | undefined;
      /** Whether the content of the parts is decoded; false skips that work when only headers are needed. */
      decodeContent?: boolean | undefined;
    }
  }

  export namespace storage {
    export interface StorageArea {
      /** All keys stored in this area. */
      getKeys(): Promise<string[]>;
    }
  }
}
