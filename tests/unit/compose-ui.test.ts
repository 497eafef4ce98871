// The compose window's indicator: every route and reason has its own sentence, and the verdict counts right; the
// router accepts only well-typed requests for it.
import { describe, expect, it } from "vitest";
import type { RecipientReason } from "../../src/core/route.js";
import type { RoutePreviewResult } from "../../src/core/send-flow.js";
import { recipientLine, verdictLine } from "../../src/ui/compose/present.js";
import { validateRequest } from "../../src/background/router.js";
import en from "../../_locales/en/messages.json";

const REASONS: RecipientReason[] = ["offline", "no-jid", "not-capable", "capability-unknown", "encrypted", "signed", "switched-off", "too-large", "send-later", "newsgroup", "policy-whole-message"];
const row = (route: "xmpp" | "smtp" | "checking", reason: RecipientReason, jid?: string) => ({ address: "a@b.test", route, reason, ...(jid ? { jid } : {}) });
const preview = (recipients: RoutePreviewResult["recipients"], result: RoutePreviewResult["result"]): RoutePreviewResult => ({ online: true, policy: "split", switchedOff: false, result, recipients });

describe("compose indicator texts", () => {
  it("gives every SMTP reason a distinct, existing message", () => {
    const keys = REASONS.map((r) => recipientLine(row("smtp", r, "x@y.test")).key);
    expect(new Set(keys).size).toBe(REASONS.length);
    for (const k of keys) expect(Object.hasOwn(en, k)).toBe(true);
  });

  it("names the JID for XMPP, checking and not-capable recipients", () => {
    expect(recipientLine(row("xmpp", "xmpp", "bob@x.test"))).toEqual({ key: "composeRoute_xmpp", subs: ["bob@x.test"] });
    expect(recipientLine(row("checking", "capability-unknown", "erin@x.test"))).toEqual({ key: "composeRoute_checking", subs: ["erin@x.test"] });
    expect(recipientLine(row("smtp", "not-capable", "dave@x.test"))).toEqual({ key: "composeReason_notCapable", subs: ["dave@x.test"] });
  });

  it("offers the JIDs a mail announced for the address as a suggestion (by mail until confirmed)", () => {
    const suggested = { ...row("smtp", "no-jid"), candidates: ["mallory@x.test", "carol@jabber.test"] };
    expect(recipientLine(suggested)).toEqual({ key: "composeReason_learnedUnconfirmed", subs: ["mallory@x.test, carol@jabber.test"] });
    expect(recipientLine({ ...row("smtp", "no-jid"), candidates: [] })).toEqual({ key: "composeReason_noJid", subs: [""] });
  });

  it.each<[string, RoutePreviewResult, string, string[] | undefined]>([
    ["no recipients", preview([], "empty"), "composeVerdict_empty", undefined],
    ["all XMPP", preview([row("xmpp", "xmpp", "b@x.test")], "xmpp"), "composeVerdict_xmpp", undefined],
    ["mixed", preview([row("xmpp", "xmpp", "b@x.test"), row("smtp", "no-jid"), row("smtp", "no-jid")], "mixed"), "composeVerdict_mixed", ["1", "2"]],
    ["all SMTP", preview([row("smtp", "no-jid")], "smtp"), "composeVerdict_smtp", undefined],
    ["still checking", preview([row("checking", "capability-unknown", "e@x.test"), row("xmpp", "xmpp", "b@x.test")], "xmpp"), "composeVerdict_checking", undefined],
  ])("verdict: %s", (_, p, key, subs) => {
    expect(verdictLine(p)).toEqual(subs ? { key, subs } : { key });
  });
});

describe("router request validation for the indicator", () => {
  it("accepts well-typed requests only", () => {
    expect(validateRequest({ type: "previewRoute", payload: { tabId: 3 } })).toEqual({ type: "previewRoute", payload: { tabId: 3 } });
    expect(validateRequest({ type: "setXmppOff", payload: { tabId: 3, off: true, extra: "dropped" } })).toEqual({ type: "setXmppOff", payload: { tabId: 3, off: true } });
    for (const bad of [{ tabId: "3" }, { tabId: -1 }, { tabId: 1.5 }, { tabId: Number.NaN }, {}]) {
      expect(() => validateRequest({ type: "previewRoute", payload: bad })).toThrow(/tab id/);
    }
    expect(() => validateRequest({ type: "setXmppOff", payload: { tabId: 1, off: "yes" } })).toThrow(/true or false/);
    expect(validateRequest({ type: "getDeliveryLog" })).toEqual({ type: "getDeliveryLog", payload: {} });
  });
});

describe("delivery log page", async () => {
  const { matches, routeLine } = await import("../../src/ui/log/present.js");
  const entry = {
    at: 0,
    holdMs: 3,
    policy: "split" as const,
    subject: "Quarterly Report",
    summary: "",
    result: "mixed" as const,
    recipients: [
      { address: "Bob <bob@x.test>", field: "to" as const, jid: "bob@x.test", reason: "xmpp" as const, outcome: "filed" as const, smtp: false },
      { address: "carol@y.test", field: "cc" as const, reason: "no-jid" as const, smtp: true },
      { address: "dave@x.test", field: "cc" as const, jid: "dave@x.test", reason: "xmpp" as const, outcome: "accepted" as const, smtp: true },
    ],
  };
  it("finds entries by every word, case-insensitively, across subject, addresses and reasons", () => {
    expect(matches(entry, "")).toBe(true);
    expect(matches(entry, "quarterly BOB")).toBe(true);
    expect(matches(entry, "no-jid carol")).toBe(true);
    expect(matches(entry, "accepted")).toBe(true);
    expect(matches(entry, "quarterly zed")).toBe(false);
  });
  it("says for each recipient which route it got and whether it was confirmed", () => {
    expect(entry.recipients.map((r) => [routeLine(r).line.key, routeLine(r).kind])).toEqual([
      ["logRoute_filed", "xmpp"],
      ["composeReason_noJid", "smtp"],
      ["logOutcome_accepted", "both"],
    ]);
  });
});
