// Issue 13 item 1: only identities bound to the XMPP account send over XMPP. The setting (xmppIdentities, policy
// included), the bound addresses (the JID's own always, others only when listed), the route rule (an unbound From
// sends everything by SMTP with its own reason, before any lookup), the send flow (no delivery, no reading of the
// mail), the compose indicator's sentence and the options page's identity list.
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import type { Resolution, ResolutionData } from "../../src/core/resolve.js";
import { decideRoute, type RouteMessage } from "../../src/core/route.js";
import { fromUnbound, SendFlow, type DeliveryRecord, type RoutePreviewResult, type SendConfig, type SendRequest } from "../../src/core/send-flow.js";
import { boundAddresses, DEFAULT_SETTINGS, parseXmppIdentities, resolveSettings, validateSetting } from "../../src/core/settings.js";
import { recipientLine, verdictLine } from "../../src/ui/compose/present.js";
import { identityRows, toggleIdentity } from "../../src/ui/options/identities.js";
import { realScheduler } from "../../src/xmpp/runtime.js";
import en from "../../_locales/en/messages.json";

describe("xmppIdentities setting", () => {
  it.each<[unknown, string]>([
    ["", "ok"],
    ["alice@mail.example", "ok"],
    ["Alice@Mail.Example, work.alice@corp.example;  a.b+c@xn--bcher-kva.example", "ok"],
    ["alice", "xmpp-identities-invalid"],
    ["@mail.example", "xmpp-identities-invalid"],
    ["alice@", "xmpp-identities-invalid"],
    ["Alice <alice@mail.example>", "xmpp-identities-invalid"],
    ["alice@mail..example", "xmpp-identities-invalid"],
    ["a..b@mail.example", "xmpp-identities-invalid"],
    [`${"a".repeat(250)}@m.example`, "xmpp-identities-invalid"],
    [`a@m.example, `.repeat(200), "xmpp-identities-invalid"],
    [["alice@mail.example"], "wrong-type"],
    [null, "wrong-type"],
  ])("%j → %s", (value, expected) => {
    const result = validateSetting("xmppIdentities", value);
    expect(result.ok ? "ok" : result.error).toBe(expected);
  });

  it("reads the list lower case, in order, without duplicates", () => {
    expect(parseXmppIdentities(" B@x.example, a@x.example b@X.example ")).toEqual(["b@x.example", "a@x.example"]);
  });

  it("defaults to none, and a policy value locks it; an invalid policy value is ignored and reported", () => {
    expect(DEFAULT_SETTINGS.xmppIdentities).toBe("");
    const locked = resolveSettings({ xmppIdentities: "mine@mail.example" }, { xmppIdentities: "corp@corp.example" });
    expect(locked.settings.xmppIdentities).toBe("corp@corp.example");
    expect(locked.locked.has("xmppIdentities")).toBe(true);
    const bad = resolveSettings({ xmppIdentities: "mine@mail.example" }, { xmppIdentities: "not an address" });
    expect(bad.settings.xmppIdentities).toBe("mine@mail.example");
    expect(bad.policyErrors).toEqual([{ key: "xmppIdentities", error: "xmpp-identities-invalid" }]);
  });

  it("binds the JID's own address always, others only when listed; nothing without a JID", () => {
    expect(boundAddresses({ jid: "Alice@XMPP.example/tb", xmppIdentities: "" })).toEqual(["alice@xmpp.example"]);
    // The common case: the only identity is at another provider than the JID. Not bound until the user says so.
    expect(boundAddresses({ jid: "alice@xmpp.example", xmppIdentities: "" })).not.toContain("alice@mail.example");
    expect(boundAddresses({ jid: "alice@xmpp.example", xmppIdentities: "alice@mail.example, ALICE@xmpp.example" })).toEqual(["alice@xmpp.example", "alice@mail.example"]);
    expect(boundAddresses({ jid: "", xmppIdentities: "alice@mail.example" })).toEqual([]);
  });
});

describe("decideRoute: a From not bound to the XMPP account", () => {
  const resolutions = new Map<string, Resolution>([
    ["bob@b.test", { jid: "bob@x.test", via: "explicit" }],
    ["erin@e.test", { jid: "erin@x.test", via: "learned" }],
  ]);
  const capable = new Map<string, boolean | "unknown">([
    ["bob@x.test", true],
    ["erin@x.test", "unknown"],
  ]);
  const message = (over: Partial<RouteMessage> = {}): RouteMessage => ({
    recipients: [
      { address: "bob@b.test", field: "to" },
      { address: "erin@e.test", field: "cc" },
    ],
    encryption: null,
    xmppSwitchedOff: false,
    mode: "sendNow",
    hasNewsgroups: false,
    sizePath: "inline",
    ...over,
  });

  it.each(["whole-message", "split"] as const)("sends everything by SMTP with reason unbound-identity, without lookups (%s)", (mode) => {
    const d = decideRoute(message({ fromUnbound: true }), { online: true, resolutions, capable }, { mode, sendLater: "smtp" });
    expect(d.xmpp).toEqual([]);
    expect(Object.fromEntries(d.reasons)).toEqual({ "bob@b.test": "unbound-identity", "erin@e.test": "unbound-identity" });
    expect(d.needsLookup).toEqual([]);
    expect(d.summary).toBe(`${mode}: 0 xmpp, 2 smtp [unbound-identity 2]`);
  });

  it("a bound From (or one not checked) routes as before", () => {
    for (const over of [{ fromUnbound: false }, {}]) {
      const d = decideRoute(message(over), { online: true, resolutions, capable }, { mode: "split", sendLater: "smtp" });
      expect(d.xmpp.map((x) => x.jid)).toEqual(["bob@x.test"]);
      expect(d.needsLookup).toEqual(["erin@x.test"]);
    }
  });

  it("ranks after the user's own switch and before everything else", () => {
    const both = decideRoute(message({ fromUnbound: true, xmppSwitchedOff: true }), { online: false, resolutions, capable }, { mode: "split", sendLater: "smtp" });
    expect(both.reasons.get("bob@b.test")).toBe("switched-off");
    expect(both.summary).toContain("(also: unbound-identity, offline)");
    const enc = decideRoute(message({ fromUnbound: true, encryption: { name: "OpenPGP", encryptBody: true, signMessage: false } }), { online: true, resolutions, capable }, { mode: "split", sendLater: "smtp" });
    expect(enc.reasons.get("bob@b.test")).toBe("unbound-identity");
  });
});

describe("SendFlow with identities", () => {
  const quiet = createLogger(() => {}, () => "error");
  const DATA: ResolutionData = {
    explicit: new Map([["bob@mail.test", "bob@x.test"]]),
    addressBook: new Map(),
    xmppDomains: [],
    learned: new Map(),
    verifiedSenders: new Map(),
  };
  const CONFIG: SendConfig = { policy: "whole-message", holdMs: 2_000, announceJid: "alice@x.test", fromAddresses: boundAddresses({ jid: "alice@x.test", xmppIdentities: "alice.work@corp.test" }) };

  function setup(config: SendConfig = CONFIG) {
    const delivered: string[] = [];
    const records: DeliveryRecord[] = [];
    const calls: string[] = [];
    const flow = new SendFlow({
      scheduler: realScheduler,
      log: quiet,
      online: () => true,
      config: () => config,
      resolutionData: () => DATA,
      capability: { cached: () => true, lookup: async () => true },
      deliver: async (copy) => {
        delivered.push(copy.jid);
        return { status: "filed", millis: 2, route: "inline" };
      },
      record: (entry) => records.push(entry),
    });
    const request = (from: string | undefined): SendRequest => ({
      to: ["bob@mail.test"],
      cc: [],
      bcc: [],
      hasNewsgroups: false,
      encryption: null,
      xmppSwitchedOff: false,
      ...(from !== undefined ? { from } : {}),
      customHeaders: [],
      mode: async () => {
        calls.push("mode");
        return "sendNow";
      },
      readMail: async () => {
        calls.push("readMail");
        return { from: `Alice <${from}>`, to: ["bob@mail.test"], cc: [], bcc: [], replyTo: [], subject: "Hi", text: "Hi", isPlainText: true, attachments: [] };
      },
    });
    const handle = async (req: SendRequest) => {
      const result = await flow.handle(req);
      await new Promise((r) => setTimeout(r, 1));
      return result;
    };
    return { flow, handle, request, delivered, records, calls };
  }

  it.each(["alice@x.test", "Alice@X.test", "alice.work@corp.test"])("a bound identity (%s) sends over XMPP", async (from) => {
    const { handle, request, delivered } = setup();
    const result = await handle(request(from));
    expect(result.kind).toBe("cancel");
    expect(delivered).toEqual(["bob@x.test"]);
  });

  it.each([["another identity", "alice@mail.test"], ["an unknown From", undefined]])("%s goes entirely by SMTP, unread, with the reason in the delivery log", async (_name, from) => {
    const { handle, request, delivered, records, calls } = setup();
    const result = await handle(request(from));
    // Exactly as Thunderbird sends it, plus the usual X-Jabber-ID announcement.
    expect(result).toEqual({ kind: "smtp", customHeaders: [{ name: "X-Jabber-ID", value: "alice@x.test" }] });
    expect(delivered).toEqual([]);
    expect(calls).toEqual([]);
    expect(records[0]!.result).toBe("smtp");
    expect(records[0]!.recipients.map((r) => [r.address, r.reason, r.smtp])).toEqual([["bob@mail.test", "unbound-identity", true]]);
  });

  it("the compose preview says so", () => {
    const { flow } = setup();
    const req = { to: ["bob@mail.test"], cc: [], bcc: [], hasNewsgroups: false, encryption: null, xmppSwitchedOff: false };
    const unbound = flow.preview({ ...req, from: "alice@mail.test" });
    expect(unbound.fromUnbound).toBe(true);
    expect(unbound.result).toBe("smtp");
    expect(unbound.recipients[0]).toMatchObject({ route: "smtp", reason: "unbound-identity", jid: "bob@x.test" });
    const bound = flow.preview({ ...req, from: "alice@x.test" });
    expect(bound.fromUnbound).toBeUndefined();
    expect(bound.result).toBe("xmpp");
  });

  it("checks nothing when the config names no addresses (callers without identities)", () => {
    expect(fromUnbound(undefined, { policy: "split", holdMs: 1, announceJid: null })).toBe(false);
    expect(fromUnbound("x@y.test", { policy: "split", holdMs: 1, announceJid: null, fromAddresses: [] })).toBe(true);
  });
});

describe("compose indicator and options page", () => {
  it("has its own sentences for the reason and the verdict", () => {
    const row = { address: "bob@mail.test", route: "smtp" as const, reason: "unbound-identity" as const, jid: "bob@x.test" };
    expect(recipientLine(row).key).toBe("composeReason_unboundIdentity");
    const p: RoutePreviewResult = { online: true, policy: "split", switchedOff: false, fromUnbound: true, result: "smtp", recipients: [row] };
    expect(verdictLine(p)).toEqual({ key: "composeVerdict_unboundIdentity" });
    expect(verdictLine({ ...p, result: "empty", recipients: [] })).toEqual({ key: "composeVerdict_empty" });
    for (const key of ["composeReason_unboundIdentity", "composeVerdict_unboundIdentity", "xmppIdentityJid", "xmppIdentityElsewhere"]) expect(Object.hasOwn(en, key)).toBe(true);
  });

  const accounts = [
    { identities: [{ email: "Alice@Mail.example", name: "Alice" }, { email: "alice@xmpp.example", name: "" }] },
    { identities: [{ email: "alice@mail.example", name: "dup" }, { email: "work@corp.example", name: "Alice Work" }] },
  ];

  it("lists each identity address once; the JID's own is ticked and fixed, listed ones ticked, others not", () => {
    expect(identityRows(accounts, { jid: "alice@xmpp.example/tb", xmppIdentities: "work@corp.example, gone@old.example" })).toEqual([
      { address: "alice@mail.example", label: "Alice <alice@mail.example>", checked: false, isJid: false, elsewhere: false },
      { address: "alice@xmpp.example", label: "alice@xmpp.example", checked: true, isJid: true, elsewhere: false },
      { address: "work@corp.example", label: "Alice Work <work@corp.example>", checked: true, isJid: false, elsewhere: false },
      { address: "gone@old.example", label: "gone@old.example", checked: true, isJid: false, elsewhere: true },
    ]);
  });

  it("ticking and unticking edit the list; the JID's own address is never written", () => {
    expect(toggleIdentity("", "Alice@Mail.example", true, "alice@xmpp.example")).toBe("alice@mail.example");
    expect(toggleIdentity("alice@mail.example, work@corp.example", "alice@mail.example", false, "alice@xmpp.example")).toBe("work@corp.example");
    expect(toggleIdentity("work@corp.example", "alice@xmpp.example", true, "alice@xmpp.example/tb")).toBe("work@corp.example");
    expect(toggleIdentity("not valid", "a@b.example", true, "")).toBe("a@b.example");
  });
});
