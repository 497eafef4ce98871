// The send flow with fakes for every platform and network port: each exit of a Send (all delivered, partly, none,
// timeouts, errors, lookups, encryption, offline, Send Later) leaves every recipient confirmed over XMPP or in the
// SMTP list, and the fast path awaits nothing.
import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/core/log.js";
import type { OutgoingMail } from "../../src/core/mime/compose-input.js";
import type { ResolutionData } from "../../src/core/resolve.js";
import { SendFlow, type CopyOutcome, type DeliveryRecord, type SendConfig, type SendRequest, type SendResult } from "../../src/core/send-flow.js";
import { realScheduler } from "../../src/xmpp/runtime.js";

const quiet = createLogger(() => {}, () => "error");

/** alice (us) → bob, carol: capable JIDs; dave: JID, not capable; erin: JID, unknown; zoe: no JID. */
const DATA: ResolutionData = {
  explicit: new Map([
    ["bob@mail.test", "bob@x.test"],
    ["carol@mail.test", "carol@x.test"],
    ["dave@mail.test", "dave@x.test"],
    ["erin@mail.test", "erin@x.test"],
  ]),
  addressBook: new Map(),
  xmppDomains: [],
  learned: new Map(),
  verifiedSenders: new Map(),
};
const CACHED = new Map([
  ["bob@x.test", true],
  ["carol@x.test", true],
  ["dave@x.test", false],
]);

interface World {
  online?: boolean;
  config?: Partial<SendConfig>;
  outcome?: (jid: string) => CopyOutcome | Promise<CopyOutcome>;
  lookup?: (jid: string) => Promise<boolean>;
  precheck?: (minBytes: number, leftMs: number) => string | null;
}

function setup(world: World = {}) {
  const delivered: Array<{ jid: string; raw: string }> = [];
  const records: DeliveryRecord[] = [];
  const lookups: string[] = [];
  const flow = new SendFlow({
    scheduler: realScheduler,
    log: quiet,
    online: () => world.online ?? true,
    config: () => ({ policy: "whole-message", holdMs: 2_000, announceJid: "alice@x.test", ...world.config }),
    resolutionData: () => DATA,
    capability: {
      cached: (jid) => CACHED.get(jid),
      lookup: (jid) => {
        lookups.push(jid);
        return world.lookup ? world.lookup(jid) : Promise.resolve(false);
      },
    },
    deliver: async (copy) => {
      delivered.push({ jid: copy.jid, raw: new TextDecoder().decode(copy.raw) });
      return world.outcome ? world.outcome(copy.jid) : { status: "filed", millis: 3, route: "inline" };
    },
    record: (entry) => records.push(entry),
    ...(world.precheck ? { precheck: world.precheck } : {}),
  });
  // The record is written after the answer (off the send path): wait one timer turn for it.
  const handle = async (req: SendRequest) => {
    const result = await flow.handle(req);
    await new Promise((r) => setTimeout(r, 1));
    return result;
  };
  return { flow: { handle }, delivered, records, lookups };
}

function mailOf(req: Pick<SendRequest, "to" | "cc" | "bcc">): OutgoingMail {
  return { from: "Alice <alice@mail.test>", to: req.to, cc: req.cc, bcc: req.bcc, replyTo: [], subject: "Hello", text: "Hi there", isPlainText: true, attachments: [] };
}

function request(to: string[], extra: Partial<SendRequest> & { calls?: string[] } = {}): SendRequest {
  const calls = extra.calls ?? [];
  const base = { to, cc: extra.cc ?? [], bcc: extra.bcc ?? [] };
  return {
    ...base,
    hasNewsgroups: false,
    encryption: null,
    xmppSwitchedOff: false,
    customHeaders: [],
    mode: async () => {
      calls.push("mode");
      return "sendNow";
    },
    readMail: async () => {
      calls.push("readMail");
      return mailOf(base);
    },
    ...extra,
  };
}

const smtpList = (r: SendResult) => (r.kind === "smtp" ? r.recipients : undefined);

describe("SendFlow", () => {
  it("returns at once for a mail without XMPP recipients: no mode, no reading, no lookup, no delivery", async () => {
    const { flow, delivered, lookups, records } = setup();
    const calls: string[] = [];
    const pending = flow.handle(request(["zoe@mail.test", "Dave <dave@mail.test>"], { calls }));
    const result = await pending;
    expect(result).toEqual({ kind: "smtp", customHeaders: [{ name: "X-Jabber-ID", value: "alice@x.test" }] });
    expect(calls).toEqual([]);
    expect(lookups).toEqual([]);
    expect(delivered).toEqual([]);
    expect(records[0]!.result).toBe("smtp");
    expect(records[0]!.recipients.map((r) => [r.address, r.reason, r.smtp])).toEqual([
      ["zoe@mail.test", "no-jid", true],
      ["Dave <dave@mail.test>", "not-capable", true],
    ]);
  });

  it("leaves the mail exactly as it is when announcing is off or the header is already there", async () => {
    const off = setup({ config: { announceJid: null } });
    expect(await off.flow.handle(request(["zoe@mail.test"]))).toEqual({ kind: "smtp" });
    const has = setup();
    expect(await has.flow.handle(request(["zoe@mail.test"], { customHeaders: [{ name: "x-jabber-id", value: "me@elsewhere.test" }] }))).toEqual({ kind: "smtp" });
  });

  it("delivers to every capable recipient and cancels SMTP when all filed; the Sent copy keeps Bcc and the Message-ID", async () => {
    const { flow, delivered, records } = setup();
    const result = await flow.handle(request(["Bob <bob@mail.test>"], { cc: ["carol@mail.test"], bcc: ["carol@mail.test", "bob@mail.test"] }));
    expect(result.kind).toBe("cancel");
    if (result.kind !== "cancel") return;
    expect(result.delivered).toEqual(["bob@x.test", "carol@x.test"]);
    expect(delivered.map((d) => d.jid)).toEqual(["bob@x.test", "carol@x.test"]);
    const sent = await PostalMime.parse(result.sentCopy());
    expect(sent.messageId).toBe(result.messageId);
    expect(sent.bcc?.map((a) => a.address)).toEqual(["carol@mail.test", "bob@mail.test"]);
    for (const d of delivered) {
      expect(d.raw).toContain(`Message-ID: ${result.messageId}`);
      expect(d.raw).not.toMatch(/^Bcc:/im);
    }
    expect(records[0]).toMatchObject({ result: "xmpp", messageId: result.messageId });
    expect(records[0]!.recipients.every((r) => r.outcome === "filed" && !r.smtp)).toBe(true);
  });

  it("whole-message: one recipient without XMPP sends everything by SMTP, unchanged, without delivering", async () => {
    const { flow, delivered } = setup();
    const result = await flow.handle(request(["bob@mail.test", "zoe@mail.test"]));
    expect(smtpList(result)).toBeUndefined();
    expect(result.kind).toBe("smtp");
    expect(delivered).toEqual([]);
  });

  it("split: capable recipients over XMPP, the rest by SMTP with a shortened list", async () => {
    const { flow, delivered, records } = setup({ config: { policy: "split" } });
    const result = await flow.handle(request(["bob@mail.test", "zoe@mail.test"], { cc: ["Dave <dave@mail.test>"], bcc: ["carol@mail.test"] }));
    expect(delivered.map((d) => d.jid)).toEqual(["bob@x.test", "carol@x.test"]);
    expect(smtpList(result)).toEqual({ to: ["zoe@mail.test"], cc: ["Dave <dave@mail.test>"], bcc: [] });
    expect(records[0]!.result).toBe("mixed");
  });

  it.each<[string, CopyOutcome]>([
    ["failed", { status: "failed", reason: "bounced: service-unavailable" }],
    ["accepted (server took it, no proof)", { status: "accepted", millis: 40, route: "inline" }],
    ["timed out after sending", { status: "timeout", sent: true }],
    ["timed out before sending", { status: "timeout", sent: false }],
  ])("a copy that %s goes by SMTP too; confirmed ones do not", async (_, bad) => {
    const { flow, records } = setup({ outcome: (jid) => (jid === "carol@x.test" ? bad : { status: "filed", millis: 2, route: "inline" }) });
    const result = await flow.handle(request(["bob@mail.test", "carol@mail.test"], { bcc: [] }));
    expect(smtpList(result)).toEqual({ to: ["carol@mail.test"], cc: [], bcc: [] });
    const carol = records[0]!.recipients.find((r) => r.address === "carol@mail.test")!;
    expect(carol).toMatchObject({ outcome: bad.status, smtp: true });
    // Where the XMPP copy may have arrived anyway, the SMTP copy names it, so the recipient's add-on shows it once.
    const mayHaveArrived = bad.status === "accepted" || (bad.status === "timeout" && bad.sent);
    const names = (result.kind === "smtp" ? (result.customHeaders ?? []) : []).map((h) => h.name);
    expect(names.includes("X-Mail-Over-XMPP-ID")).toBe(mayHaveArrived);
    if (mayHaveArrived && result.kind === "smtp") expect(result.customHeaders?.at(-1)?.value).toBe(records[0]!.messageId);
  });

  it("records per copy whether it went end-to-end encrypted, and why not", async () => {
    const { flow, records } = setup({
      outcome: (jid) =>
        jid === "bob@x.test"
          ? { status: "filed", millis: 2, route: "inline", e2e: true }
          : { status: "filed", millis: 2, route: "inline", e2e: false, e2eWhyNot: "own-keys-unpublished" },
    });
    await flow.handle(request(["bob@mail.test", "carol@mail.test"]));
    const byAddress = (a: string) => records[0]!.recipients.find((r) => r.address === a)!;
    expect(byAddress("bob@mail.test")).toMatchObject({ outcome: "filed", e2e: true });
    expect(byAddress("bob@mail.test").e2eWhyNot).toBeUndefined();
    expect(byAddress("carol@mail.test")).toMatchObject({ outcome: "filed", e2e: false, e2eWhyNot: "own-keys-unpublished" });
  });

  it("nothing confirmed: Thunderbird sends to everyone as it would have", async () => {
    const { flow } = setup({ outcome: () => ({ status: "failed", reason: "rejected: too-large" }) });
    const result = await flow.handle(request(["bob@mail.test", "carol@mail.test"]));
    expect(result).toEqual({ kind: "smtp", customHeaders: [{ name: "X-Jabber-ID", value: "alice@x.test" }] });
  });

  it("bounds the hold when a delivery never settles", async () => {
    const { flow, records } = setup({ config: { holdMs: 300 }, outcome: () => new Promise<CopyOutcome>(() => {}) });
    const t0 = performance.now();
    const result = await flow.handle(request(["bob@mail.test"]));
    const took = performance.now() - t0;
    expect(result.kind).toBe("smtp");
    expect(smtpList(result)).toBeUndefined();
    expect(took).toBeGreaterThanOrEqual(200);
    expect(took).toBeLessThan(1_000);
    expect(records[0]!.recipients[0]).toMatchObject({ outcome: "timeout", smtp: true });
  });

  it("bounds the hold when reading the message never settles, and falls back whole", async () => {
    const { flow, delivered, records } = setup({ config: { holdMs: 300 } });
    const result = await flow.handle(request(["bob@mail.test"], { readMail: () => new Promise<OutgoingMail>(() => {}) }));
    expect(result.kind).toBe("smtp");
    expect(delivered).toEqual([]);
    expect(records[0]!.error).toMatch(/deadline/);
  });

  it("an exception on the XMPP path (bad message) falls back to SMTP for everyone", async () => {
    const { flow, records } = setup();
    const result = await flow.handle(request(["bob@mail.test"], { readMail: async () => ({ ...mailOf({ to: ["bob@mail.test"], cc: [], bcc: [] }), subject: "a\r\nBcc: x@y" }) }));
    expect(result.kind).toBe("smtp");
    expect(records[0]!.error).toMatch(/Subject/);
  });

  it("looks up an unknown capability and routes by the answer", async () => {
    const yes = setup({ lookup: async () => true });
    expect((await yes.flow.handle(request(["erin@mail.test"]))).kind).toBe("cancel");
    expect(yes.lookups).toEqual(["erin@x.test"]);
    const no = setup({ lookup: async () => false });
    expect((await no.flow.handle(request(["erin@mail.test"]))).kind).toBe("smtp");
    const fails = setup({ lookup: async () => Promise.reject(new Error("timeout")) });
    expect((await fails.flow.handle(request(["erin@mail.test"]))).kind).toBe("smtp");
  });

  it("a lookup that hangs is cut off and counts as not capable", async () => {
    const { flow, delivered } = setup({ config: { holdMs: 400 }, lookup: () => new Promise<boolean>(() => {}) });
    const t0 = performance.now();
    expect((await flow.handle(request(["erin@mail.test"]))).kind).toBe("smtp");
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(delivered).toEqual([]);
  });

  it("does not look up when another recipient already forces SMTP (whole-message)", async () => {
    const { flow, lookups } = setup();
    await flow.handle(request(["erin@mail.test", "zoe@mail.test"]));
    expect(lookups).toEqual([]);
  });

  it.each<[string, Partial<SendRequest>, World]>([
    ["encrypted", { encryption: { name: "OpenPGP", encryptBody: true, encryptSubject: false, signMessage: false } }, {}],
    ["signed", { encryption: { name: "S/MIME", encryptBody: false, signMessage: true } }, {}],
    ["switched off for this message", { xmppSwitchedOff: true }, {}],
    ["with newsgroups", { hasNewsgroups: true }, {}],
    ["while offline", {}, { online: false }],
  ])("sends by SMTP, untouched and at once, when %s", async (_, extra, world) => {
    const { flow, delivered, lookups } = setup(world);
    const calls: string[] = [];
    const result = await flow.handle(request(["bob@mail.test", "erin@mail.test"], { ...extra, calls }));
    expect(result.kind).toBe("smtp");
    expect(smtpList(result)).toBeUndefined();
    expect([calls, lookups, delivered]).toEqual([[], [], []]);
  });

  it("leaves Send Later (Thunderbird offline, mail goes to the Outbox) to SMTP", async () => {
    const { flow, delivered, records } = setup();
    const result = await flow.handle(request(["bob@mail.test"], { mode: async () => "sendLater" }));
    expect(result.kind).toBe("smtp");
    expect(delivered).toEqual([]);
    expect(records[0]!.recipients[0]!.reason).toBe("send-later");
  });
});

describe("SendFlow.preview (the compose window's indicator)", () => {
  it("shows per recipient what a Send would do now, without waiting, and looks unknown capabilities up once", async () => {
    let release: (v: boolean) => void = () => {};
    const lookups: string[] = [];
    const f = new SendFlow({
      scheduler: realScheduler,
      log: quiet,
      online: () => true,
      config: () => ({ policy: "split", holdMs: 2_000, announceJid: null }),
      resolutionData: () => DATA,
      capability: { cached: (jid) => CACHED.get(jid), lookup: (jid) => (lookups.push(jid), new Promise<boolean>((r) => (release = r))) },
      deliver: async () => ({ status: "filed", millis: 1, route: "inline" }),
      record: () => {},
    });
    const req = { to: ["Bob <bob@mail.test>", "zoe@mail.test"], cc: ["erin@mail.test", "BOB@mail.test"], bcc: [], hasNewsgroups: false, encryption: null, xmppSwitchedOff: false };
    const first = f.preview(req);
    expect(first.result).toBe("mixed");
    expect(first.recipients.map((r) => [r.address, r.route, r.reason])).toEqual([
      ["Bob <bob@mail.test>", "xmpp", "xmpp"],
      ["zoe@mail.test", "smtp", "no-jid"],
      ["erin@mail.test", "checking", "capability-unknown"],
    ]);
    f.preview(req);
    expect(lookups).toEqual(["erin@x.test"]);
    release(true);
    await new Promise((r) => setTimeout(r, 5));
    f.preview(req);
    expect(lookups).toEqual(["erin@x.test", "erin@x.test"]);
    expect(f.preview({ ...req, xmppSwitchedOff: true }).recipients.every((r) => r.route === "smtp" && r.reason === "switched-off")).toBe(true);
    expect(f.preview({ ...req, to: [], cc: [] }).result).toBe("empty");
  });
});

describe("SendFlow precheck: a mail that cannot go over XMPP in time is not read (issue 13 item 2)", () => {
  const tooBig = (minBytes: number) => (minBytes > 1_000_000 ? `upload of ${minBytes} bytes would not end in time` : null);

  it("sends by SMTP at once without reading the message when its attachments alone rule the upload out", async () => {
    const seen: Array<[number, number]> = [];
    const { flow, delivered, records } = setup({ precheck: (min, left) => (seen.push([min, left]), tooBig(min)) });
    const calls: string[] = [];
    const result = await flow.handle(request(["bob@mail.test"], { calls, minSize: async () => 13_400_000 }));
    expect(result.kind).toBe("smtp");
    expect(smtpList(result)).toBeUndefined(); // everyone by SMTP, exactly as Thunderbird would
    expect(calls).not.toContain("readMail");
    expect(delivered).toEqual([]);
    expect(seen[0]![0]).toBe(13_400_000);
    expect(seen[0]![1]).toBeGreaterThan(1_500); // the hold (2 s here) less what was used
    expect(records[0]!.recipients[0]).toMatchObject({ address: "bob@mail.test", outcome: "failed", detail: expect.stringContaining("would not end in time"), smtp: true });
  });

  it("reads and delivers as before when the size allows it", async () => {
    const { flow, delivered } = setup({ precheck: (min) => tooBig(min) });
    const calls: string[] = [];
    const result = await flow.handle(request(["bob@mail.test"], { calls, minSize: async () => 40_000 }));
    expect(result.kind).toBe("cancel");
    expect(calls).toContain("readMail");
    expect(delivered.map((d) => d.jid)).toEqual(["bob@x.test"]);
  });

  it("reads the message when its size cannot be told in time or the size fails (the precheck never makes a mail SMTP by error)", async () => {
    const { flow, delivered } = setup({ precheck: () => "never used" });
    const slow = await flow.handle(request(["bob@mail.test"], { minSize: () => new Promise<number>(() => {}) }));
    expect(slow.kind).toBe("cancel");
    const failing = await flow.handle(request(["carol@mail.test"], { minSize: async () => Promise.reject(new Error("no compose tab")) }));
    expect(failing.kind).toBe("cancel");
    expect(delivered.map((d) => d.jid)).toEqual(["bob@x.test", "carol@x.test"]);
  });
});
