// The limitation list (issue 11 points 2 and 8): derived from the server's features, merged with the publisher's
// outcome, carried by the online status, shown in words with their cost, checked when it crosses to the UI, and in
// the diagnostic report without addresses.
import { describe, expect, it } from "vitest";
import { diagnosticReport } from "../../src/core/diagnostic.js";
import { describeLimitation, limitationSeverity, limitationsFromFeatures, mergeLimitations, type Limitation } from "../../src/core/limitations.js";
import { DEFAULT_SETTINGS } from "../../src/core/settings.js";
import { describeStatus, limitationsOf, withLimitations, type SessionStatus } from "../../src/core/status.js";
import type { MessageKey } from "../../src/platform/i18n.js";
import { toolbarBadge } from "../../src/platform/toolbar.js";
import { parseTestResult, testResultText } from "../../src/ui/options/present.js";
import { limitationLine, parseSessionStatus, parseStatusPush, statusSummary, statusText } from "../../src/ui/shared/status.js";
import { DEFAULT_SIZE_POLICY } from "../../src/xmpp/mail-sender.js";
import { inlineLimitWithoutUpload } from "../../src/xmpp/server-features.js";
import en from "../../_locales/en/messages.json";

const online: SessionStatus = { state: "online", jid: "alice@example.org/tb", since: 1 };
const capability: Limitation = { feature: "capability", code: "refused", detail: "resource-constraint - quota of bob@example.org", retryAt: 0 };

/** i18n.t over the real English messages ($NAME$ placeholders → $n contents). */
function tr(key: MessageKey, subs: readonly string[] = []): string {
  const m = (en as Record<string, { message: string; placeholders?: Record<string, { content: string }> }>)[key];
  if (!m) return key;
  return m.message.replace(/\$([A-Za-z0-9_]+)\$/g, (_all, name: string) => {
    const content = m.placeholders?.[name.toLowerCase()]?.content ?? "";
    return subs[Number(content.slice(1)) - 1] ?? "";
  });
}
const time = () => "14:05";

describe("limitationsFromFeatures", () => {
  it("reports only what is known to be missing, most costly first", () => {
    expect(limitationsFromFeatures({}, 1000)).toEqual([]);
    expect(limitationsFromFeatures({ pep: true, carbons: true, mam: true, upload: true, streamManagement: true }, 1000)).toEqual([]);
    expect(limitationsFromFeatures({ pep: false, carbons: false, mam: false, upload: false, streamManagement: false }, 48_000).map((l) => l.feature)).toEqual([
      "capability",
      "carbons",
      "mam",
      "upload",
      "sm",
    ]);
    expect(limitationsFromFeatures({ upload: false }, 48_000)).toEqual([{ feature: "upload", inlineLimitBytes: 48_000 }]);
  });

  it("uses the sender's real inline limit without upload (stanza limit minus envelope, base64)", () => {
    expect(inlineLimitWithoutUpload({ ...DEFAULT_SIZE_POLICY, inlineFallbackMaxBytes: 64 * 1024 })).toBe(47_616);
  });
});

describe("mergeLimitations", () => {
  it("keeps one entry per feature, the later source winning, in a fixed order", () => {
    const fromDisco = limitationsFromFeatures({ pep: false, sm: undefined, mam: false } as never, 1);
    const merged = mergeLimitations(fromDisco, [capability]);
    expect(merged).toEqual([capability, { feature: "mam" }]);
  });
  it("rates severity: capability = severe (nobody can reach you), others partial", () => {
    expect(limitationSeverity([])).toBe("none");
    expect(limitationSeverity([{ feature: "mam" }])).toBe("partial");
    expect(limitationSeverity([{ feature: "sm" }, capability])).toBe("severe");
  });
});

describe("the status with limitations", () => {
  it("is carried by an online status only and removed by an empty list", () => {
    const limited = withLimitations(online, [capability]);
    expect(limitationsOf(limited)).toEqual([capability]);
    expect(withLimitations(limited, [])).toEqual(online);
    expect(withLimitations({ state: "connecting", attempt: 1 }, [capability])).toEqual({ state: "connecting", attempt: 1 });
    expect(describeStatus(limited)).toMatch(/^online as alice@example.org\/tb, but others cannot see that you accept mail over XMPP: your server refused/);
  });

  it("reads 'connected, but others cannot see that you accept mail over XMPP: <reason>' for the user", () => {
    const limited = withLimitations(online, [{ feature: "capability", code: "no-pep", detail: "" }]);
    expect(statusText(limited, time)).toEqual({ key: "statusOnlineLimited", subs: ["alice@example.org/tb"] });
    expect(statusSummary(limited, time, tr)).toBe(
      "connected as alice@example.org/tb, but:\n• others cannot see that you accept mail over XMPP: your server has no PEP (XEP-0163)",
    );
    expect(statusSummary(online, time, tr)).toBe("connected as alice@example.org/tb");
  });

  it("says what each missing feature costs", () => {
    expect(limitationLine({ ...capability, retryAt: 5 }, time, tr)).toBe(
      "others cannot see that you accept mail over XMPP: your server refused it (resource-constraint - quota of bob@example.org) (next try at 14:05)",
    );
    expect(limitationLine({ feature: "upload", inlineLimitBytes: 47_616 }, time, tr)).toBe("your server has no HTTP upload (XEP-0363): mail over about 46 KiB goes by ordinary mail");
    expect(limitationLine({ feature: "carbons" }, time, tr)).toMatch(/higher priority, mail to you goes by ordinary mail$/);
    expect(limitationLine({ feature: "mam" }, time, tr)).toMatch(/only another client of yours is online is not filed afterwards/);
    expect(limitationLine({ feature: "sm" }, time, tr)).toMatch(/slower recovery after connection drops/);
  });

  it("names the blocked upload host and keeps the block (with only grantable origins) through the status port", () => {
    const blocked: Limitation = { feature: "upload", inlineLimitBytes: 47_616, blocked: { reason: "no-permission", host: "upload.example.org", origins: ["https://upload.example.org/*"] } };
    expect(limitationLine(blocked, time, tr)).toBe(
      "your server's upload host upload.example.org sends no CORS headers and Mail over XMPP has no permission to use it: mail over about 46 KiB goes by ordinary mail until you allow it",
    );
    expect(limitationLine({ ...blocked, blocked: { ...blocked.blocked!, reason: "unreachable" } }, time, tr)).toMatch(/^your server's upload host upload\.example\.org did not answer/);
    const parsed = parseSessionStatus(withLimitations(online, [blocked]));
    expect(parsed && limitationsOf(parsed)).toEqual([blocked]);
    // An origin the add-on could never be granted (all hosts, a path, plain http elsewhere) makes the entry invalid.
    for (const origins of [["https://*/*"], ["<all_urls>"], ["http://example.org/*"], ["https://a.example/x/*"]]) {
      const bad = parseSessionStatus(withLimitations(online, [{ ...blocked, blocked: { ...blocked.blocked!, origins } }]));
      expect(parsed === null || (bad !== null && limitationsOf(bad).some((l) => l.feature === "upload" && l.blocked))).toBe(false);
    }
  });

  it("shows a badge: '!' when nobody can reach the user, 'i' for partial limitations, none when all is well", () => {
    expect(toolbarBadge(online).text).toBe("");
    expect(toolbarBadge(withLimitations(online, [{ feature: "mam" }])).text).toBe("i");
    expect(toolbarBadge(withLimitations(online, [capability, { feature: "mam" }])).text).toBe("!");
  });
});

describe("limitations crossing to the UI are checked", () => {
  it("round-trips a status push and a test result", () => {
    const limited = withLimitations(online, [capability, { feature: "upload", inlineLimitBytes: 47_616 }, { feature: "sm" }]);
    expect(parseStatusPush(JSON.parse(JSON.stringify({ type: "status", status: limited })))).toEqual(limited);
    const result = { ok: true, jid: "a@b/c", mechanism: "SCRAM-SHA-1", millis: 5, limitations: [{ feature: "mam" }] };
    expect(parseTestResult(result)).toEqual(result);
    expect(testResultText(parseTestResult(result)!).text.key).toBe("testOkLimited");
    expect(testResultText(parseTestResult({ ...result, limitations: [] })!).text.key).toBe("testOk");
  });

  it.each([
    ["an unknown feature", [{ feature: "telepathy" }]],
    ["an unknown capability code", [{ feature: "capability", code: "x", detail: "" }]],
    ["a capability without detail", [{ feature: "capability", code: "no-pep" }]],
    ["an upload limit that is not a number", [{ feature: "upload", inlineLimitBytes: "48k" }]],
    ["not a list", { feature: "mam" }],
    ["too many entries", Array.from({ length: 11 }, () => ({ feature: "mam" }))],
  ])("rejects %s", (_label, limitations) => {
    expect(parseSessionStatus({ ...online, limitations })).toBeNull();
    expect(parseTestResult({ ok: true, jid: "a@b/c", mechanism: "PLAIN", millis: 1, limitations })).toBeNull();
  });
});

describe("the diagnostic report", () => {
  const report = (status: SessionStatus) =>
    diagnosticReport({ addonVersion: "0.1", host: "TB", status, settings: { ...DEFAULT_SETTINGS, jid: "alice@example.org" }, entries: [], now: new Date(0) });

  it("lists each limitation with its cost and the next try, without addresses", () => {
    const text = report(withLimitations(online, [{ ...capability, retryAt: 90_000 }, { feature: "carbons" }]));
    expect(text).toContain("limitation: capability — others cannot see that you accept mail over XMPP: your server refused to publish it (resource-constraint - quota of <address>) [next try in 90 s]");
    expect(text).toContain("limitation: carbons — no message carbons (XEP-0280)");
    expect(text).not.toContain("bob@");
    expect(describeLimitation(capability)).not.toContain("bob@");
  });

  it("says none are known when there are none", () => {
    expect(report(online)).toContain("limitations: none known");
  });
});
