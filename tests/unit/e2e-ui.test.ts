// What the pages say about end-to-end encryption (src/ui/shared/e2e.ts, src/ui/compose/present.ts): per peer state the
// sentence, the tone, the disclosure with fingerprints and the "Accept" button; this computer's fingerprint first;
// and the checks of the background's e2e replies (nothing shown unchecked).
import { describe, expect, it } from "vitest";
import type { E2ePeerState, E2ePeerView } from "../../src/core/messages.js";
import type { RoutePreviewResult } from "../../src/core/send-flow.js";
import { e2eJids, MAX_E2E_LOOKUPS, showsE2e } from "../../src/ui/compose/present.js";
import { ownFingerprintLines, parseChangedPeers, parseE2eOwnView, parseE2ePeerView, peerFingerprintLines, peerSummary } from "../../src/ui/shared/e2e.js";
import en from "../../_locales/en/messages.json";

const FP1 = "30735 29267 07022 18049 38668 48115 17675 68034";
const FP2 = "00001 00002 00003 00004 00005 00006 00007 00008";
const FP3 = "99999 88888 77777 66666 55555 44444 33333 22222";
const id = (c: string) => c.repeat(32);
const view = (state: E2ePeerState, devices: E2ePeerView["devices"] = []): E2ePeerView => ({ jid: "bob@example.org", state, devices });
const changed = view("changed", [
  { id: id("a"), fingerprint: FP1, pinned: true, announced: true },
  { id: id("b"), fingerprint: FP2, pinned: false, announced: true },
  { id: id("c"), fingerprint: FP3, pinned: true, announced: false },
]);

describe("peerSummary: what the indicator says per state", () => {
  it("a changed key: a warning naming the JID, 'Compare keys' and 'Accept new key'", () => {
    expect(peerSummary(changed)).toEqual({
      text: { key: "e2ePeer_changed", subs: ["bob@example.org"] },
      tone: "warning",
      accept: { key: "e2eAcceptNewKey" },
      disclosure: { key: "e2eCompareKeys" },
    });
  });

  it("withdrawn keys: a warning naming the JID, the old fingerprints, and accepting means sending without encryption", () => {
    const s = peerSummary(view("withdrawn", [{ id: id("a"), fingerprint: FP1, pinned: true, announced: false }]));
    expect(s).toEqual({ text: { key: "e2ePeer_withdrawn", subs: ["bob@example.org"] }, tone: "warning", accept: { key: "e2eAcceptWithdrawn" }, disclosure: { key: "e2eCompareKeys" } });
  });

  it.each<E2ePeerState>(["first-use", "unchanged"])("%s: the encrypted marker and the fingerprint on a disclosure, nothing to accept", (state) => {
    const s = peerSummary(view(state, [{ id: id("a"), fingerprint: FP1, pinned: state === "unchanged", announced: true }]));
    expect(s).toEqual({ text: { key: "e2ePeer_encrypted" }, tone: "ok", disclosure: { key: "e2eShowFingerprint" } });
  });

  it("none: 'not encrypted', no warning, nothing to show or accept", () => {
    expect(peerSummary(view("none"))).toEqual({ text: { key: "e2ePeer_none" }, tone: "plain" });
  });

  it("uses only messages that exist, the JID ones with one placeholder", () => {
    for (const state of ["none", "first-use", "unchanged", "changed", "withdrawn"] as const) {
      const s = peerSummary(view(state, [{ id: id("a"), fingerprint: FP1, pinned: true, announced: true }]));
      for (const text of [s.text, s.accept, s.disclosure]) if (text) expect(Object.hasOwn(en, text.key), text.key).toBe(true);
    }
    expect(en.e2ePeer_changed.placeholders.jid.content).toBe("$1");
  });
});

describe("fingerprint lines", () => {
  it("for comparing: new devices first, then accepted ones, then accepted ones no longer announced", () => {
    expect(peerFingerprintLines(changed)).toEqual([
      { fingerprint: FP2, label: { key: "e2eDevice_new" } },
      { fingerprint: FP1, label: { key: "e2eDevice_accepted" } },
      { fingerprint: FP3, label: { key: "e2eDevice_gone" } },
    ]);
  });

  it("on first use the announced devices are the ones remembered with the first mail", () => {
    expect(peerFingerprintLines(view("first-use", [{ id: id("a"), fingerprint: FP1, pinned: false, announced: true }]))).toEqual([
      { fingerprint: FP1, label: { key: "e2eDevice_firstUse" } },
    ]);
  });

  it("this account: one line per device, this computer first and marked", () => {
    const own = { devices: [{ id: id("a"), fingerprint: FP1, thisDevice: false }, { id: id("b"), fingerprint: FP2, thisDevice: true }] };
    expect(ownFingerprintLines(own)).toEqual([
      { fingerprint: FP2, label: { key: "e2eThisComputer" } },
      { fingerprint: FP1, label: { key: "e2eOtherDevice" } },
    ]);
  });
});

describe("checks of the e2e replies", () => {
  it("passes a well-formed peer view through (extra fields dropped)", () => {
    expect(parseE2ePeerView({ ...changed, extra: 1 })).toEqual(changed);
    expect(parseE2ePeerView(view("none"))).toEqual(view("none"));
    expect(parseE2ePeerView(view("unchanged", [{ id: id("d"), fingerprint: "?", pinned: true, announced: true }]))).not.toBeNull();
  });

  it.each<[string, unknown]>([
    ["an error", { error: "e2e unavailable" }],
    ["an unknown state", { ...changed, state: "trusted" }],
    ["a fingerprint that is not 8 groups of 5 digits", view("unchanged", [{ id: id("a"), fingerprint: "12345 67890", pinned: true, announced: true }])],
    ["a bad device id", view("unchanged", [{ id: "A".repeat(32), fingerprint: FP1, pinned: true, announced: true }])],
    ["a missing flag", view("unchanged", [{ id: id("a"), fingerprint: FP1, pinned: true } as never])],
    ["too many devices", view("changed", Array.from({ length: 65 }, () => ({ id: id("a"), fingerprint: FP1, pinned: false, announced: true })))],
    ["a JID that is not text", { ...changed, jid: 5 }],
    ["nothing", undefined],
  ])("refuses %s", (_, reply) => {
    expect(parseE2ePeerView(reply)).toBeNull();
  });

  it("checks the own view and the changed peers", () => {
    const own = { devices: [{ id: id("a"), fingerprint: FP1, thisDevice: true }] };
    expect(parseE2eOwnView(own)).toEqual(own);
    expect(parseE2eOwnView({ error: "this device's keys are unavailable" })).toBeNull();
    expect(parseE2eOwnView({ devices: [{ id: id("a"), fingerprint: FP1, thisDevice: "yes" }] })).toBeNull();
    expect(parseChangedPeers({ peers: [changed] })).toEqual([changed]);
    expect(parseChangedPeers({ peers: [] })).toEqual([]);
    expect(parseChangedPeers({ peers: [changed, { ...changed, state: "?" }] })).toBeNull();
    expect(parseChangedPeers({ error: "e2e unavailable" })).toBeNull();
  });
});

describe("compose: whose keys the indicator asks for", () => {
  const row = (route: "xmpp" | "smtp" | "checking", jid?: string) => ({ address: "a@b.test", route, reason: route === "xmpp" ? ("xmpp" as const) : ("no-jid" as const), ...(jid ? { jid } : {}) });
  const preview = (recipients: RoutePreviewResult["recipients"]): RoutePreviewResult => ({ online: true, policy: "split", switchedOff: false, result: "mixed", recipients });

  it("every recipient with a JID (one going by mail may be held there by a changed key), each JID once", () => {
    expect(e2eJids(preview([row("xmpp", "bob@x.test"), row("smtp", "carol@x.test"), row("checking", "dave@x.test"), row("xmpp", "bob@x.test"), row("xmpp", "erin@x.test"), row("smtp")]))).toEqual([
      "bob@x.test",
      "carol@x.test",
      "dave@x.test",
      "erin@x.test",
    ]);
  });

  it("shows the line for XMPP recipients, and for mail recipients only when their key changed or vanished", () => {
    expect(showsE2e("xmpp", "none")).toBe(true);
    expect(showsE2e("xmpp", "unchanged")).toBe(true);
    expect(showsE2e("smtp", "changed")).toBe(true);
    expect(showsE2e("smtp", "withdrawn")).toBe(true);
    expect(showsE2e("smtp", "none")).toBe(false);
    expect(showsE2e("smtp", "unchanged")).toBe(false);
    expect(showsE2e("checking", "first-use")).toBe(false);
  });

  it("at most MAX_E2E_LOOKUPS of them", () => {
    const many = Array.from({ length: MAX_E2E_LOOKUPS + 10 }, (_, i) => row("xmpp", `u${i}@x.test`));
    expect(e2eJids(preview(many))).toHaveLength(MAX_E2E_LOOKUPS);
  });
});
