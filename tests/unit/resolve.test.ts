// Recipient → JID resolution (issue 4 "Resolving recipients to JIDs"): one table per concern — the order of the five
// sources, the learned-mapping rule (only the address itself, or confirmed), untrusted JIDs, the recipient forms Thunderbird hands over, and the
// bare-JID sanity check.
import { describe, expect, it } from "vitest";
import { isValidBareJid, parseJabberId, resolveRecipient, type Resolution, type ResolutionData } from "../../src/core/resolve.js";

const NONE: ResolutionData = {
  explicit: new Map(),
  addressBook: new Map(),
  xmppDomains: [],
  learned: new Map(),
  verifiedSenders: new Map(),
};

/** Every source knows alice@example.org, each under its own JID, so the winner is visible in the answer. */
const ALL: ResolutionData = {
  explicit: new Map([["alice@example.org", "explicit@xmpp.test"]]),
  addressBook: new Map([["alice@example.org", ["book@xmpp.test"]]]),
  xmppDomains: ["example.org"],
  learned: new Map([["alice@example.org", { jid: "learned@example.org", confirmed: false }]]),
  verifiedSenders: new Map([["alice@example.org", "verified@xmpp.test"]]),
};

const without = (...keys: Array<keyof ResolutionData>): ResolutionData => {
  const data: { -readonly [K in keyof ResolutionData]: ResolutionData[K] } = { ...ALL };
  for (const k of keys) (data as Record<string, unknown>)[k] = NONE[k];
  return data;
};

describe("resolveRecipient: first hit wins, in the order of issue 4", () => {
  it.each<[string, ResolutionData, Resolution]>([
    ["1 explicit beats all later sources", ALL, { jid: "explicit@xmpp.test", via: "explicit" }],
    ["2 address book beats same-address, learned, verified", without("explicit"), { jid: "book@xmpp.test", via: "address-book" }],
    ["3 same-address beats learned, verified", without("explicit", "addressBook"), { jid: "alice@example.org", via: "same-address" }],
    ["4 learned (the address itself) beats verified sender", { ...without("explicit", "addressBook", "xmppDomains"), learned: new Map([["alice@example.org", { jid: "alice@example.org", confirmed: false }]]) }, { jid: "alice@example.org", via: "learned" }],
    ["4 learned (confirmed) beats verified sender", { ...without("explicit", "addressBook", "xmppDomains"), learned: new Map([["alice@example.org", { jid: "learned@example.org", confirmed: true }]]) }, { jid: "learned@example.org", via: "learned" }],
    ["4 learned, unconfirmed and not the address: the verified sender wins", without("explicit", "addressBook", "xmppDomains"), { jid: "verified@xmpp.test", via: "verified-sender" }],
    ["5 verified sender when nothing else", without("explicit", "addressBook", "xmppDomains", "learned"), { jid: "verified@xmpp.test", via: "verified-sender" }],
    ["nothing known", NONE, { jid: null, why: "no-mapping" }],
  ])("%s", (_name, data, expected) => {
    expect(resolveRecipient("Alice <alice@example.org>", data)).toEqual(expected);
  });
});

describe("resolveRecipient: learned mappings (X-Jabber-ID)", () => {
  const learned = (jid: string, confirmed: boolean, extra: Partial<ResolutionData> = {}): ResolutionData => ({
    ...NONE,
    learned: new Map([["bob@example.org", { jid, confirmed }]]),
    ...extra,
  });
  it.each<[string, ResolutionData, Resolution]>([
    ["the address itself, unconfirmed: automatic", learned("bob@example.org", false), { jid: "bob@example.org", via: "learned" }],
    ["the address itself in other case, unconfirmed: automatic", learned("BOB@EXAMPLE.org", false), { jid: "BOB@example.org", via: "learned" }],
    // Issue 12 finding 4: one forged SMTP mail (From bob, X-Jabber-ID mallory on bob's domain) must not divert mail.
    ["same domain, another localpart, unconfirmed: only a suggestion", learned("mallory@example.org", false), { jid: null, why: "learned-unconfirmed", candidates: ["mallory@example.org"] }],
    ["same domain, another localpart, confirmed: used", learned("mallory@example.org", true), { jid: "mallory@example.org", via: "learned" }],
    ["other domain, unconfirmed: not used", learned("bob@jabber.test", false), { jid: null, why: "learned-unconfirmed", candidates: ["bob@jabber.test"] }],
    ["other domain, confirmed: used", learned("bob@jabber.test", true), { jid: "bob@jabber.test", via: "learned" }],
    ["subdomain is another domain: not used unconfirmed", learned("bob@xmpp.example.org", false), { jid: null, why: "learned-unconfirmed", candidates: ["bob@xmpp.example.org"] }],
    ["subdomain, confirmed: used", learned("bob@xmpp.example.org", true), { jid: "bob@xmpp.example.org", via: "learned" }],
    [
      "other domain, unconfirmed, verified sender known: the verified sender wins",
      learned("bob@jabber.test", false, { verifiedSenders: new Map([["bob@example.org", "bob@verified.test"]]) }),
      { jid: "bob@verified.test", via: "verified-sender" },
    ],
    ["invalid learned JID is ignored, not offered for confirmation", learned("bob@jabber.test/laptop", false), { jid: null, why: "no-mapping" }],
    ["invalid learned JID, even confirmed", learned("bob jabber.test", true), { jid: null, why: "no-mapping" }],
  ])("%s", (_name, data, expected) => {
    expect(resolveRecipient("bob@example.org", data)).toEqual(expected);
  });

  const several = (jid: string, also: readonly string[], confirmed = false): ResolutionData => ({ ...NONE, learned: new Map([["bob@example.org", { jid, confirmed, also }]]) });
  it.each<[string, ResolutionData, Resolution]>([
    ["a forged first JID does not hide the address itself announced later", several("mallory@example.org", ["bob@example.org"]), { jid: "bob@example.org", via: "learned" }],
    ["several announced JIDs: all offered, in the order seen", several("mallory@example.org", ["bob@jabber.test"]), { jid: null, why: "learned-unconfirmed", candidates: ["mallory@example.org", "bob@jabber.test"] }],
    ["invalid and repeated ones are not offered", several("bob@jabber.test", ["x y@z.test", "BOB@JABBER.test"]), { jid: null, why: "learned-unconfirmed", candidates: ["bob@jabber.test"] }],
    ["at most three are looked at", several("a@x.test", ["b@x.test", "c@x.test", "bob@example.org"]), { jid: null, why: "learned-unconfirmed", candidates: ["a@x.test", "b@x.test", "c@x.test"] }],
    ["a confirmed JID is used, the address itself is not looked for", several("bob@jabber.test", ["bob@example.org"], true), { jid: "bob@jabber.test", via: "learned" }],
  ])("%s", (_name, data, expected) => {
    expect(resolveRecipient("Bob <bob@example.org>", data)).toEqual(expected);
  });

  it("the address itself is matched with an internationalized domain in either form", () => {
    const data: ResolutionData = { ...NONE, learned: new Map([["bob@bücher.example", { jid: "bob@xn--bcher-kva.example", confirmed: false }]]) };
    expect(resolveRecipient("bob@bücher.example", data)).toEqual({ jid: "bob@xn--bcher-kva.example", via: "learned" });
  });
});

describe("resolveRecipient: every JID is untrusted input", () => {
  const book = (jids: readonly string[], extra: Partial<ResolutionData> = {}): ResolutionData => ({
    ...NONE,
    addressBook: new Map([["carol@example.org", jids]]),
    ...extra,
  });
  it.each<[string, ResolutionData, Resolution]>([
    ["address book: JID with a resource skipped, next one used", book(["carol@xmpp.test/phone", "carol@xmpp.test"]), { jid: "carol@xmpp.test", via: "address-book" }],
    ["address book: whitespace skipped", book(["carol @xmpp.test", "c2@xmpp.test"]), { jid: "c2@xmpp.test", via: "address-book" }],
    ["address book: first valid of several wins", book(["one@xmpp.test", "two@xmpp.test"]), { jid: "one@xmpp.test", via: "address-book" }],
    ["address book: all invalid falls through to no-mapping", book(["", "xmpp:carol@xmpp.test", "carol@", "x".repeat(3072)]), { jid: null, why: "no-mapping" }],
    [
      "address book: all invalid falls through to the next source",
      book(["<script>@xmpp.test"], { verifiedSenders: new Map([["carol@example.org", "carol@verified.test"]]) }),
      { jid: "carol@verified.test", via: "verified-sender" },
    ],
    ["address book: empty list is no entry", book([]), { jid: null, why: "no-mapping" }],
    [
      "explicit: invalid JID ignored, next source used",
      book(["carol@xmpp.test"], { explicit: new Map([["carol@example.org", "carol@xmpp.test/home"]]) }),
      { jid: "carol@xmpp.test", via: "address-book" },
    ],
    ["explicit: domain lower-cased, localpart kept", { ...NONE, explicit: new Map([["carol@example.org", "Carol@XMPP.Test"]]) }, { jid: "Carol@xmpp.test", via: "explicit" }],
    ["verified sender: invalid JID ignored", { ...NONE, verifiedSenders: new Map([["carol@example.org", "carol@@xmpp.test"]]) }, { jid: null, why: "no-mapping" }],
  ])("%s", (_name, data, expected) => {
    expect(resolveRecipient("carol@example.org", data)).toEqual(expected);
  });
});

describe("resolveRecipient: the same address as a JID (XMPP-enabled domains)", () => {
  const domains = (...xmppDomains: string[]): ResolutionData => ({ ...NONE, xmppDomains });
  it.each<[string, string, ResolutionData, Resolution]>([
    ["listed domain", "dan@example.org", domains("example.org"), { jid: "dan@example.org", via: "same-address" }],
    ["listed in other case; local part kept, domain lower-cased", "Dan@EXAMPLE.org", domains("Example.ORG"), { jid: "Dan@example.org", via: "same-address" }],
    ["one of several listed domains", "dan@b.test", domains("a.test", "b.test"), { jid: "dan@b.test", via: "same-address" }],
    ["domain not listed", "dan@example.net", domains("example.org"), { jid: null, why: "no-mapping" }],
    ["subdomain of a listed domain is not listed", "dan@mail.example.org", domains("example.org"), { jid: null, why: "no-mapping" }],
    ["no domains listed", "dan@example.org", domains(), { jid: null, why: "no-mapping" }],
    ["internationalized domain matches its punycode form", "dan@bücher.example", domains("xn--bcher-kva.example"), { jid: "dan@bücher.example", via: "same-address" }],
    ["e-mail local part that is no JID localpart (apostrophe)", "o'brien@example.org", domains("example.org"), { jid: null, why: "no-mapping" }],
    ["e-mail local part that is no JID localpart (quoted)", '"dan smith"@example.org', domains("example.org"), { jid: null, why: "no-mapping" }],
  ])("%s: %s", (_name, recipient, data, expected) => {
    expect(resolveRecipient(recipient, data)).toEqual(expected);
  });
});

describe("resolveRecipient: recipients as Thunderbird gives them", () => {
  const data: ResolutionData = { ...NONE, explicit: new Map([["erin@example.org", "erin@xmpp.test"]]) };
  const hit: Resolution = { jid: "erin@xmpp.test", via: "explicit" };
  it.each<[string, string, Resolution]>([
    ["bare address", "erin@example.org", hit],
    ["upper-case address, lower-case key", "ERIN@Example.ORG", hit],
    ["display name", "Erin Example <erin@example.org>", hit],
    ["quoted display name with a comma", '"Example, Erin" <erin@example.org>', hit],
    ["unquoted display name with a comma", "Example, Erin <erin@example.org>", hit],
    ["escaped quotes in the display name", '"Erin \\"E\\" Example" <erin@example.org>', hit],
    ["display name that looks like another address", '"mallory@evil.test" <erin@example.org>', hit],
    ["angle brackets only", "<erin@example.org>", hit],
    ["comment as name", "erin@example.org (Erin)", hit],
    ["surrounding whitespace", "  erin@example.org  ", hit],
    ["mailing list Name <ListName>", "Team <Team>", { jid: null, why: "mailing-list-unexpanded" }],
    ["mailing list with a description in brackets", "Family <Family, extended>", { jid: null, why: "mailing-list-unexpanded" }],
    ["mailing list name alone", "Team", { jid: null, why: "mailing-list-unexpanded" }],
    ["mailing list with a dotted name in brackets", "dev.team <dev.team>", { jid: null, why: "mailing-list-unexpanded" }],
    ["news: URL", "news:comp.lang.misc", { jid: null, why: "newsgroup" }],
    ["snews: URL", "snews://news.example.org/comp.lang.misc", { jid: null, why: "newsgroup" }],
    ["bare newsgroup name", "comp.lang.misc", { jid: null, why: "newsgroup" }],
    ["empty", "", { jid: null, why: "invalid-address" }],
    ["blank", "   ", { jid: null, why: "invalid-address" }],
    ["empty brackets", "Erin <>", { jid: null, why: "invalid-address" }],
    ["no domain", "erin@", { jid: null, why: "invalid-address" }],
    ["whitespace inside", "erin@exa mple.org", { jid: null, why: "invalid-address" }],
    ["two addresses in one recipient", "erin@example.org, frank@example.org", { jid: null, why: "invalid-address" }],
    ["header injection", "erin@example.org\r\nBcc: x@evil.test", { jid: null, why: "invalid-address" }],
  ])("%s: %j", (_name, recipient, expected) => {
    expect(resolveRecipient(recipient, data)).toEqual(expected);
  });
});

describe("isValidBareJid", () => {
  it.each<[string, boolean]>([
    ["alice@example.org", true],
    ["Alice@Example.ORG", true],
    ["jürgen@bücher.example", true],
    ["alice@192.0.2.1", true],
    ["alice@[2001:db8::1]", true],
    ["a".repeat(1023) + "@example.org", true],
    ["alice@example.org/laptop", false],
    ["alice@example.org/", false],
    ["example.org", false],
    ["@example.org", false],
    ["alice@", false],
    ["", false],
    ["ali ce@example.org", false],
    ["alice@example.org ", false],
    ["alice@example.org\n", false],
    ["alice\u00a0@example.org", false],
    ["xmpp:alice@example.org", false],
    ['"alice"@example.org', false],
    ["a&b@example.org", false],
    ["alice@@example.org", false],
    ["alice@exa_mple.org", false],
    ["alice@example.org.", false],
    ["a".repeat(1024) + "@example.org", false],
    ["a@" + "b".repeat(3070), false],
  ])("%j → %s", (jid, expected) => {
    expect(isValidBareJid(jid)).toBe(expected);
  });
});

describe("parseJabberId (X-Jabber-ID header values)", () => {
  it.each<[string, string | null]>([
    ["bob@example.org", "bob@example.org"],
    ["  Bob@Example.ORG ", "Bob@example.org"],
    ["<bob@example.org>", "bob@example.org"],
    ["xmpp:bob@example.org", "bob@example.org"],
    ["xmpp:bob%40work@example.org?message", null],
    ["xmpp:b%C3%B6b@example.org", "böb@example.org"],
    ["xmpp:%E0%A4%A", null],
    ["bob@example.org/phone", null],
    ["bob@example.org, eve@example.org", null],
    ["bob@example.org\r\nBcc: x@y.z", null],
    ["example.org", null],
    ["", null],
    ["xmpp://bob@example.org", null],
    ["a".repeat(4000) + "@example.org", null],
  ])("%j → %j", (value, expected) => {
    expect(parseJabberId(value)).toBe(expected);
  });
});
