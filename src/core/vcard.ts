// The vCard fields the add-on reads: e-mail addresses and XMPP addresses (Thunderbird stores its "XMPP" field as IMPP:xmpp:…).

/** Pulls EMAIL and IMPP:xmpp: values out of a vCard. Tolerant of parameters, folding and case. */
export function vcardEmailsAndJids(vcard: string): { emails: string[]; jids: string[] } {
  const unfolded = vcard.replace(/\r?\n[ \t]/g, "");
  const emails: string[] = [];
  const jids: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^(?:[\w-]+\.)?(EMAIL|IMPP)(?:;[^:]*)?:(.*)$/i.exec(line);
    if (!m) continue;
    const value = m[2]!.trim();
    if (m[1]!.toUpperCase() === "EMAIL") emails.push(value.toLowerCase());
    else if (/^xmpp:/i.test(value)) jids.push(decodeURIComponent(value.slice(5).split("?")[0]!).toLowerCase());
  }
  return { emails, jids };
}
