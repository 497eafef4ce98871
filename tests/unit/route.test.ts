// The send decision (issue 4 "Deciding"): message-wide rules, encryption variants, per-recipient reasons under both
// policies, duplicates, Bcc, lookups and the log line — each a table.
import { describe, expect, it } from "vitest";
import { resolveRecipient, type Resolution, type ResolutionData } from "../../src/core/resolve.js";
import {
  decideRoute,
  type Decision,
  type RecipientReason,
  type RouteKnowledge,
  type RouteMessage,
  type RoutePolicy,
} from "../../src/core/route.js";

/**
 * The world of these tests:
 *   alice, bob  JID, capable            carol  no JID           dave  JID, not capable
 *   erin        JID, capability unknown  frank  no resolution   gina  JID absent from the capability map
 *   list        unexpanded mailing list  news   a newsgroup     bad   a resolution with an invalid JID
 *   erin2       another address of erin's JID (in other case)
 */
const RESOLUTIONS = new Map<string, Resolution>([
  ["alice@a.test", { jid: "alice@x.test", via: "address-book" }],
  ["bob@b.test", { jid: "bob@x.test", via: "explicit" }],
  ["carol@c.test", { jid: null, why: "no-mapping" }],
  ["dave@d.test", { jid: "dave@x.test", via: "same-address" }],
  ["erin@e.test", { jid: "erin@x.test", via: "learned" }],
  ["erin2@e.test", { jid: "Erin@X.test", via: "explicit" }],
  ["gina@g.test", { jid: "gina@x.test", via: "verified-sender" }],
  ["List <List>", { jid: null, why: "mailing-list-unexpanded" }],
  ["comp.lang.misc", { jid: null, why: "newsgroup" }],
  ["bad@b.test", { jid: "bad@x.test/res", via: "explicit" }],
]);
const CAPABLE = new Map<string, boolean | "unknown">([
  ["alice@x.test", true],
  ["bob@x.test", true],
  ["dave@x.test", false],
  ["erin@x.test", "unknown"],
]);

const KNOW: RouteKnowledge = { online: true, resolutions: RESOLUTIONS, capable: CAPABLE };
const WHOLE: RoutePolicy = { mode: "whole-message", sendLater: "smtp" };
const SPLIT: RoutePolicy = { mode: "split", sendLater: "smtp" };

const to = (address: string) => ({ address, field: "to" as const });
const cc = (address: string) => ({ address, field: "cc" as const });
const bcc = (address: string) => ({ address, field: "bcc" as const });

function message(recipients: RouteMessage["recipients"], over: Partial<RouteMessage> = {}): RouteMessage {
  return { recipients, encryption: null, xmppSwitchedOff: false, mode: "sendNow", hasNewsgroups: false, sizePath: "inline", ...over };
}

const ALICE_BOB = [to("alice@a.test"), cc("bob@b.test")];

const reasonsOf = (d: Decision) => Object.fromEntries(d.reasons);
const xmppOf = (d: Decision) => d.xmpp.map((r) => `${r.field}:${r.address}→${r.jid}`);
const smtpOf = (d: Decision) => d.smtp.map((r) => `${r.field}:${r.address}`);

describe("decideRoute: message-wide rules send every recipient by SMTP with that reason, without lookups", () => {
  // alice and bob would qualify, erin would need a lookup: the rule must win over all of that.
  const recipients = [to("alice@a.test"), cc("bob@b.test"), bcc("erin@e.test")];
  it.each<[string, Partial<RouteMessage>, Partial<RouteKnowledge>, RoutePolicy, RecipientReason]>([
    ["offline", {}, { online: false }, WHOLE, "offline"],
    ["offline (split)", {}, { online: false }, SPLIT, "offline"],
    ["switched off by the user", { xmppSwitchedOff: true }, {}, WHOLE, "switched-off"],
    ["switched off (split)", { xmppSwitchedOff: true }, {}, SPLIT, "switched-off"],
    ["OpenPGP encrypt", { encryption: { name: "OpenPGP", encryptBody: true, signMessage: false } }, {}, SPLIT, "encrypted"],
    ["OpenPGP sign", { encryption: { name: "OpenPGP", encryptBody: false, signMessage: true } }, {}, SPLIT, "signed"],
    ["newsgroups in the message", { hasNewsgroups: true }, {}, WHOLE, "newsgroup"],
    ["newsgroups (split)", { hasNewsgroups: true }, {}, SPLIT, "newsgroup"],
    ["no size path", { sizePath: "none" }, {}, WHOLE, "too-large"],
    ["no size path (split)", { sizePath: "none" }, {}, SPLIT, "too-large"],
    ["Send Later, policy smtp", { mode: "sendLater" }, {}, WHOLE, "send-later"],
    ["Send Later, policy smtp (split)", { mode: "sendLater" }, {}, SPLIT, "send-later"],
  ])("%s", (_name, over, know, policy, reason) => {
    const d = decideRoute(message(recipients, over), { ...KNOW, ...know }, policy);
    expect(d.xmpp).toEqual([]);
    expect(smtpOf(d)).toEqual(["to:alice@a.test", "cc:bob@b.test", "bcc:erin@e.test"]);
    expect(reasonsOf(d)).toEqual({ "alice@a.test": reason, "bob@b.test": reason, "erin@e.test": reason });
    expect(d.needsLookup).toEqual([]);
  });

  it("a newsgroup among the recipients counts as newsgroups, even under split", () => {
    const d = decideRoute(message([to("alice@a.test"), to("comp.lang.misc")]), KNOW, SPLIT);
    expect(d.xmpp).toEqual([]);
    expect(reasonsOf(d)).toEqual({ "alice@a.test": "newsgroup", "comp.lang.misc": "newsgroup" });
  });
});

describe("decideRoute: when several message-wide rules apply, the strongest is the reason and the rest are logged", () => {
  const OFFLINE = { online: false };
  it.each<[string, Partial<RouteMessage>, Partial<RouteKnowledge>, RecipientReason, string]>([
    ["switched off > encrypted > offline", { xmppSwitchedOff: true, encryption: { name: "OpenPGP", encryptBody: true, signMessage: false } }, OFFLINE, "switched-off", "(also: encrypted, offline)"],
    ["encrypted > signed", { encryption: { name: "OpenPGP", encryptBody: true, signMessage: true } }, {}, "encrypted", "(also: signed)"],
    ["signed > newsgroup", { encryption: { name: "S/MIME", encryptBody: false, signMessage: true }, hasNewsgroups: true }, {}, "signed", "(also: newsgroup)"],
    ["newsgroup > send-later", { hasNewsgroups: true, mode: "sendLater" }, {}, "newsgroup", "(also: send-later)"],
    ["send-later > too-large", { mode: "sendLater", sizePath: "none" }, {}, "send-later", "(also: too-large)"],
    ["too-large > offline", { sizePath: "none" }, OFFLINE, "too-large", "(also: offline)"],
  ])("%s", (_name, over, know, reason, also) => {
    const d = decideRoute(message(ALICE_BOB, over), { ...KNOW, ...know }, WHOLE);
    expect(reasonsOf(d)).toEqual({ "alice@a.test": reason, "bob@b.test": reason });
    expect(d.summary).toContain(also);
  });
});

describe("decideRoute: encryption and signing (an XMPP delivery would bypass Thunderbird's OpenPGP/S-MIME step)", () => {
  it.each<[string, RouteMessage["encryption"], RecipientReason]>([
    ["none selected", null, "xmpp"],
    ["OpenPGP, encrypt only", { name: "OpenPGP", encryptBody: true, encryptSubject: true, signMessage: false }, "encrypted"],
    ["OpenPGP, sign only", { name: "OpenPGP", encryptBody: false, encryptSubject: false, signMessage: true }, "signed"],
    ["OpenPGP, encrypt and sign", { name: "OpenPGP", encryptBody: true, encryptSubject: true, signMessage: true }, "encrypted"],
    ["OpenPGP, encrypt without subject", { name: "OpenPGP", encryptBody: true, encryptSubject: false, signMessage: false }, "encrypted"],
    ["OpenPGP selected, both false: no protection", { name: "OpenPGP", encryptBody: false, encryptSubject: false, signMessage: false }, "xmpp"],
    ["OpenPGP, only the subject flag (meaningless without body encryption)", { name: "OpenPGP", encryptBody: false, encryptSubject: true, signMessage: false }, "xmpp"],
    ["S/MIME, sign only", { name: "S/MIME", encryptBody: false, signMessage: true }, "signed"],
    ["S/MIME, encrypt only", { name: "S/MIME", encryptBody: true, signMessage: false }, "encrypted"],
    ["S/MIME, encrypt and sign", { name: "S/MIME", encryptBody: true, signMessage: true }, "encrypted"],
    ["S/MIME selected, both false: no protection", { name: "S/MIME", encryptBody: false, signMessage: false }, "xmpp"],
  ])("%s → %s", (_name, encryption, reason) => {
    const d = decideRoute(message(ALICE_BOB, { encryption }), KNOW, WHOLE);
    expect(reasonsOf(d)).toEqual({ "alice@a.test": reason, "bob@b.test": reason });
    expect(d.xmpp).toHaveLength(reason === "xmpp" ? 2 : 0);
    expect(d.smtp).toHaveLength(reason === "xmpp" ? 0 : 2);
  });
});

describe("decideRoute: rules that do not block", () => {
  it.each<[string, Partial<RouteMessage>, RoutePolicy]>([
    ["Send Later, policy route-now", { mode: "sendLater" }, { mode: "whole-message", sendLater: "route-now" }],
    ["Send Later, policy route-now (split)", { mode: "sendLater" }, { mode: "split", sendLater: "route-now" }],
    ["Send Now ignores the Send Later policy", { mode: "sendNow" }, WHOLE],
    ["inline size path", { sizePath: "inline" }, WHOLE],
    ["external size path (upload)", { sizePath: "external" }, WHOLE],
  ])("%s → xmpp", (_name, over, policy) => {
    const d = decideRoute(message(ALICE_BOB, over), KNOW, policy);
    expect(xmppOf(d)).toEqual(["to:alice@a.test→alice@x.test", "cc:bob@b.test→bob@x.test"]);
    expect(d.smtp).toEqual([]);
  });
});

describe("decideRoute: per-recipient reasons under both policies", () => {
  type Row = [string, RouteMessage["recipients"], RoutePolicy, string[], string[], Record<string, RecipientReason>, string[]];
  it.each<Row>([
    ["all capable", ALICE_BOB, WHOLE, ["to:alice@a.test→alice@x.test", "cc:bob@b.test→bob@x.test"], [], { "alice@a.test": "xmpp", "bob@b.test": "xmpp" }, []],
    ["all capable", ALICE_BOB, SPLIT, ["to:alice@a.test→alice@x.test", "cc:bob@b.test→bob@x.test"], [], { "alice@a.test": "xmpp", "bob@b.test": "xmpp" }, []],
    ["one without JID", [to("alice@a.test"), to("carol@c.test")], WHOLE, [], ["to:alice@a.test", "to:carol@c.test"], { "alice@a.test": "policy-whole-message", "carol@c.test": "no-jid" }, []],
    ["one without JID", [to("alice@a.test"), to("carol@c.test")], SPLIT, ["to:alice@a.test→alice@x.test"], ["to:carol@c.test"], { "alice@a.test": "xmpp", "carol@c.test": "no-jid" }, []],
    ["one not capable", [to("alice@a.test"), cc("dave@d.test")], WHOLE, [], ["to:alice@a.test", "cc:dave@d.test"], { "alice@a.test": "policy-whole-message", "dave@d.test": "not-capable" }, []],
    ["one not capable", [to("alice@a.test"), cc("dave@d.test")], SPLIT, ["to:alice@a.test→alice@x.test"], ["cc:dave@d.test"], { "alice@a.test": "xmpp", "dave@d.test": "not-capable" }, []],
    ["one unknown: look it up", [to("alice@a.test"), to("erin@e.test")], WHOLE, [], ["to:alice@a.test", "to:erin@e.test"], { "alice@a.test": "policy-whole-message", "erin@e.test": "capability-unknown" }, ["erin@x.test"]],
    ["one unknown: look it up", [to("alice@a.test"), to("erin@e.test")], SPLIT, ["to:alice@a.test→alice@x.test"], ["to:erin@e.test"], { "alice@a.test": "xmpp", "erin@e.test": "capability-unknown" }, ["erin@x.test"]],
    ["JID missing from the capability map counts as unknown", [to("gina@g.test")], WHOLE, [], ["to:gina@g.test"], { "gina@g.test": "capability-unknown" }, ["gina@x.test"]],
    [
      "unknown plus no-JID: a lookup cannot change the outcome",
      [to("alice@a.test"), to("erin@e.test"), to("carol@c.test")],
      WHOLE,
      [],
      ["to:alice@a.test", "to:erin@e.test", "to:carol@c.test"],
      { "alice@a.test": "policy-whole-message", "erin@e.test": "capability-unknown", "carol@c.test": "no-jid" },
      [],
    ],
    [
      "unknown plus no-JID: the lookup still matters for erin",
      [to("alice@a.test"), to("erin@e.test"), to("carol@c.test")],
      SPLIT,
      ["to:alice@a.test→alice@x.test"],
      ["to:erin@e.test", "to:carol@c.test"],
      { "alice@a.test": "xmpp", "erin@e.test": "capability-unknown", "carol@c.test": "no-jid" },
      ["erin@x.test"],
    ],
    [
      "unknown plus not capable",
      [to("erin@e.test"), to("dave@d.test")],
      WHOLE,
      [],
      ["to:erin@e.test", "to:dave@d.test"],
      { "erin@e.test": "capability-unknown", "dave@d.test": "not-capable" },
      [],
    ],
    ["two unknown addresses of one JID: one lookup", [to("erin@e.test"), cc("erin2@e.test")], SPLIT, [], ["to:erin@e.test", "cc:erin2@e.test"], { "erin@e.test": "capability-unknown", "erin2@e.test": "capability-unknown" }, ["erin@x.test"]],
    ["no resolution at all", [to("frank@f.test")], WHOLE, [], ["to:frank@f.test"], { "frank@f.test": "no-jid" }, []],
    ["unexpanded mailing list", [to("alice@a.test"), to("List <List>")], SPLIT, ["to:alice@a.test→alice@x.test"], ["to:List <List>"], { "alice@a.test": "xmpp", "List <List>": "no-jid" }, []],
    ["resolution with an invalid JID", [to("bad@b.test")], SPLIT, [], ["to:bad@b.test"], { "bad@b.test": "no-jid" }, []],
    ["Bcc recipient over XMPP keeps its field", [to("alice@a.test"), bcc("bob@b.test")], SPLIT, ["to:alice@a.test→alice@x.test", "bcc:bob@b.test→bob@x.test"], [], { "alice@a.test": "xmpp", "bob@b.test": "xmpp" }, []],
    ["Bcc recipient without JID, whole message", [to("alice@a.test"), bcc("carol@c.test")], WHOLE, [], ["to:alice@a.test", "bcc:carol@c.test"], { "alice@a.test": "policy-whole-message", "carol@c.test": "no-jid" }, []],
    ["Bcc recipient without JID, split", [to("alice@a.test"), bcc("carol@c.test")], SPLIT, ["to:alice@a.test→alice@x.test"], ["bcc:carol@c.test"], { "alice@a.test": "xmpp", "carol@c.test": "no-jid" }, []],
    [
      "mixed: every kind at once",
      [to("alice@a.test"), cc("bob@b.test"), to("carol@c.test"), bcc("dave@d.test"), cc("erin@e.test")],
      SPLIT,
      ["to:alice@a.test→alice@x.test", "cc:bob@b.test→bob@x.test"],
      ["to:carol@c.test", "bcc:dave@d.test", "cc:erin@e.test"],
      { "alice@a.test": "xmpp", "bob@b.test": "xmpp", "carol@c.test": "no-jid", "dave@d.test": "not-capable", "erin@e.test": "capability-unknown" },
      ["erin@x.test"],
    ],
    [
      "mixed: every kind at once",
      [to("alice@a.test"), cc("bob@b.test"), to("carol@c.test"), bcc("dave@d.test"), cc("erin@e.test")],
      WHOLE,
      [],
      ["to:alice@a.test", "cc:bob@b.test", "to:carol@c.test", "bcc:dave@d.test", "cc:erin@e.test"],
      { "alice@a.test": "policy-whole-message", "bob@b.test": "policy-whole-message", "carol@c.test": "no-jid", "dave@d.test": "not-capable", "erin@e.test": "capability-unknown" },
      [],
    ],
    ["no recipients", [], WHOLE, [], [], {}, []],
    ["no recipients", [], SPLIT, [], [], {}, []],
  ])("%s (%s)", (_name, recipients, policy, xmpp, smtp, reasons, lookups) => {
    const d = decideRoute(message(recipients), KNOW, policy);
    expect(xmppOf(d)).toEqual(xmpp);
    expect(smtpOf(d)).toEqual(smtp);
    expect(reasonsOf(d)).toEqual(reasons);
    expect(d.needsLookup).toEqual(lookups);
  });

  it("the second decision, after the lookup, sends erin over XMPP", () => {
    const recipients = [to("alice@a.test"), to("erin@e.test")];
    const first = decideRoute(message(recipients), KNOW, WHOLE);
    expect(first.needsLookup).toEqual(["erin@x.test"]);
    const capable = new Map(CAPABLE).set("erin@x.test", true);
    const second = decideRoute(message(recipients), { ...KNOW, capable }, WHOLE);
    expect(xmppOf(second)).toEqual(["to:alice@a.test→alice@x.test", "to:erin@e.test→erin@x.test"]);
    expect(second.needsLookup).toEqual([]);
  });

  it("capabilities are found under the lower-cased JID", () => {
    const d = decideRoute(message([to("erin2@e.test")]), { ...KNOW, capable: new Map([["erin@x.test", true]]) }, WHOLE);
    expect(xmppOf(d)).toEqual(["to:erin2@e.test→Erin@X.test"]);
  });
});

describe("decideRoute: a recipient listed more than once is decided once, in its most visible field", () => {
  type Row = [string, RouteMessage["recipients"], RoutePolicy, string[], string[], Record<string, RecipientReason>];
  it.each<Row>([
    ["to and cc", [to("alice@a.test"), cc("alice@a.test")], WHOLE, ["to:alice@a.test→alice@x.test"], [], { "alice@a.test": "xmpp" }],
    ["cc then to: to wins", [cc("alice@a.test"), to("alice@a.test")], WHOLE, ["to:alice@a.test→alice@x.test"], [], { "alice@a.test": "xmpp" }],
    ["bcc then cc: cc wins (no longer hidden)", [bcc("alice@a.test"), cc("alice@a.test")], WHOLE, ["cc:alice@a.test→alice@x.test"], [], { "alice@a.test": "xmpp" }],
    ["bcc twice stays bcc", [bcc("alice@a.test"), bcc("alice@a.test")], WHOLE, ["bcc:alice@a.test→alice@x.test"], [], { "alice@a.test": "xmpp" }],
    [
      "other spelling and case: one recipient, both spellings get the reason",
      [to("Alice <alice@a.test>"), bcc("ALICE@A.TEST")],
      WHOLE,
      [],
      ["to:Alice <alice@a.test>"],
      { "Alice <alice@a.test>": "no-jid", "ALICE@A.TEST": "no-jid" },
    ],
    [
      "other spelling: the resolution of any spelling is used",
      [to("Alice <alice@a.test>"), cc("alice@a.test")],
      SPLIT,
      ["to:Alice <alice@a.test>→alice@x.test"],
      [],
      { "Alice <alice@a.test>": "xmpp", "alice@a.test": "xmpp" },
    ],
    ["duplicate without JID", [to("carol@c.test"), cc("carol@c.test"), bcc("carol@c.test")], SPLIT, [], ["to:carol@c.test"], { "carol@c.test": "no-jid" }],
    [
      "duplicate under whole-message with a blocker",
      [to("alice@a.test"), cc("carol@c.test"), bcc("alice@a.test")],
      WHOLE,
      [],
      ["to:alice@a.test", "cc:carol@c.test"],
      { "alice@a.test": "policy-whole-message", "carol@c.test": "no-jid" },
    ],
  ])("%s (%s)", (_name, recipients, policy, xmpp, smtp, reasons) => {
    const d = decideRoute(message(recipients), KNOW, policy);
    expect(xmppOf(d)).toEqual(xmpp);
    expect(smtpOf(d)).toEqual(smtp);
    expect(reasonsOf(d)).toEqual(reasons);
  });

  it("a duplicate of an unknown JID is looked up once", () => {
    const d = decideRoute(message([to("erin@e.test"), cc("erin@e.test")]), KNOW, WHOLE);
    expect(d.needsLookup).toEqual(["erin@x.test"]);
    expect(d.smtp).toHaveLength(1);
  });
});

describe("decideRoute: the common case — nobody has a JID — needs no lookup", () => {
  const data: ResolutionData = { explicit: new Map(), addressBook: new Map(), xmppDomains: ["own.test"], learned: new Map(), verifiedSenders: new Map() };
  const recipients = [to("Ann <ann@one.test>"), to('"Doe, Jon" <jon@two.test>'), cc("kim@three.test"), bcc("lee@four.test")];
  it.each<[RoutePolicy]>([[WHOLE], [SPLIT]])("policy %o", (policy) => {
    const resolutions = new Map(recipients.map((r) => [r.address, resolveRecipient(r.address, data)] as const));
    const d = decideRoute(message(recipients), { online: true, resolutions, capable: new Map() }, policy);
    expect(d.needsLookup).toEqual([]);
    expect(d.xmpp).toEqual([]);
    expect(d.smtp).toHaveLength(4);
    expect([...d.reasons.values()]).toEqual(["no-jid", "no-jid", "no-jid", "no-jid"]);
  });
});

describe("decideRoute: summary line", () => {
  it.each<[string, RouteMessage, Partial<RouteKnowledge>, RoutePolicy, string]>([
    ["all over XMPP", message(ALICE_BOB), {}, WHOLE, "whole-message: 2 xmpp, 0 smtp [xmpp 2]"],
    ["split with a lookup", message([to("alice@a.test"), to("erin@e.test"), to("carol@c.test")]), {}, SPLIT, "split: 1 xmpp, 2 smtp [xmpp 1, capability-unknown 1, no-jid 1]; 1 lookup"],
    ["whole message falls back", message([to("alice@a.test"), to("carol@c.test")]), {}, WHOLE, "whole-message: 0 xmpp, 2 smtp [policy-whole-message 1, no-jid 1]"],
    ["blocked twice", message(ALICE_BOB, { xmppSwitchedOff: true }), { online: false }, WHOLE, "whole-message: 0 xmpp, 2 smtp [switched-off 2] (also: offline)"],
    ["two lookups", message([to("erin@e.test"), to("gina@g.test")]), {}, SPLIT, "split: 0 xmpp, 2 smtp [capability-unknown 2]; 2 lookups"],
    ["nobody", message([]), {}, SPLIT, "split: 0 xmpp, 0 smtp"],
  ])("%s", (_name, msg, know, policy, summary) => {
    const d = decideRoute(msg, { ...KNOW, ...know }, policy);
    expect(d.summary).toBe(summary);
    expect(d.summary).not.toMatch(/@/);
  });
});
