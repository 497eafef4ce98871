// The host-name lookup the receiver checks a download's host with (src/xmpp/upload.ts checkDownloadTarget), over
// Thunderbird's DNS: the same resolver and cache its fetch uses, so the addresses checked are, in the usual case, the
// ones the fetch connects to a moment later (docs/protocol.md §4 on DNS rebinding).
import type { HostResolver } from "../xmpp/upload.js";

export const messengerResolver: HostResolver = async (host) => {
  // No bypass_cache: the fetch that follows takes its address from this same cache.
  const record = await messenger.dns.resolve(host);
  return Array.isArray(record.addresses) ? record.addresses.filter((a): a is string => typeof a === "string") : [];
};
