// The Sent copy of a mail delivered over XMPP in a real Thunderbird 153 whose profile has no Sent folder yet (issue 13
// item 3): the add-on must file it where Thunderbird itself would create the identity's Sent folder — the POP
// account's own top-level "Sent" — so that Thunderbird flags that folder (specialUse ["sent"]) and keeps using it,
// instead of a "Sent" in Local Folders that it never flags and a second Sent folder of its own later. The extension
// API cannot set the flag; Thunderbird sets it at its next own send or its next start (both measured below).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIST_DIR, E2E_STRANGER_LIMITS, e2eSkipReason, startE2E, type E2E } from "../support/e2e-env.js";
import { launchThunderbird, type TB } from "../support/thunderbird.js";
import { startMailPeer, type MailPeer } from "../support/mail-peer.js";
import { waitFor } from "../support/mail-fixtures.js";

const skipReason = e2eSkipReason();
if (skipReason) console.warn(`skipping sent-folder e2e test: ${skipReason}`);

const USERS = ["alice", "bob"].map((user) => ({ user, password: `secret-${user}` }));

interface FolderInfo {
  accountId: string;
  name: string;
  path: string;
  specialUse: string[];
}

describe.skipIf(skipReason !== null)("the Sent folder of a profile that has none yet", () => {
  let env: E2E;
  let bob: MailPeer;

  beforeAll(async () => {
    env = await startE2E({ users: USERS, as: "alice", thunderbird: { identities: [{ email: "alice@example.test", fullName: "Alice", fcc: true }] } });
    bob = await startMailPeer(env.server, "bob", "secret-bob");
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  });

  afterAll(async () => {
    await bob?.stop().catch(() => {});
    if (env) await env.stop();
  });

  /** Polls an async condition (waitFor takes a synchronous one). */
  const until = async (what: string, ms: number, check: () => Promise<boolean>) => {
    const end = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const folders = () => env.tb.helper.command<FolderInfo[]>("folders");
  const identityAccount = async () => (await env.tb.helper.command<Array<{ accountId: string; accountType: string }>>("identities"))[0]!;

  it("files the first XMPP send's copy in the identity's POP account's top-level Sent, which Thunderbird then flags and keeps using", async () => {
    const own = await identityAccount();
    expect(own.accountType).toBe("pop3");
    const before = await folders();
    console.log(`[e2e] folders before: ${before.map((f) => `${f.accountId}${f.path}[${f.specialUse.join(",")}]`).join(" ")}`);
    expect(before.filter((f) => f.name === "Sent" || f.specialUse.includes("sent"))).toEqual([]);

    const subject = `First send, over XMPP ${Date.now()}`;
    await expect(env.tb.helper.send({ to: ["Bob <bob@localhost>"], subject, body: "Hi Bob" })).rejects.toThrow(/aborted/i);
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed at bob");
    await env.tb.waitForEvent((e) => e.event === "compose-closed", 10_000);
    const messageId = bob.filed.find((m) => m.subject === subject)!.messageId!.replace(/^<|>$/g, "");
    await until("the Sent copy", 10_000, async () => (await env.tb.helper.command<unknown[]>("findMessages", { headerMessageId: messageId })).length > 0);
    const copies = await env.tb.helper.command<Array<{ folder: string; folderPath: string; folderAccount: string }>>("findMessages", { headerMessageId: messageId });
    expect(copies.map((c) => `${c.folderAccount}${c.folderPath}`)).toEqual([`${own.accountId}/Sent`]);
    const all = await folders();
    console.log(`[e2e] after the XMPP send: ${all.map((f) => `${f.accountId}${f.path}[${f.specialUse.join(",")}]`).join(" ")}`);
    const afterXmpp = all.filter((f) => f.name === "Sent");
    expect(afterXmpp.map((f) => `${f.accountId}${f.path}`)).toEqual([`${own.accountId}/Sent`]);

    // Thunderbird's own next send (by SMTP) looks its Fcc folder up: it takes this "Sent" and flags it — no second one.
    const smtpSubject = `Then by SMTP ${Date.now()}`;
    const sent = await env.tb.helper.send({ to: "carol@nowhere.test", subject: smtpSubject, body: "Hello Carol" });
    await env.sink.waitFor((m) => m.raw.toString("latin1").includes(smtpSubject), 20_000);
    await until("Thunderbird's own Sent copy", 10_000, async () => (await env.tb.helper.command<unknown[]>("findMessages", { headerMessageId: sent.result!.headerMessageId })).length > 0);
    const thunderbirds = await env.tb.helper.command<Array<{ folderPath: string; folderAccount: string }>>("findMessages", { headerMessageId: sent.result!.headerMessageId });
    expect(thunderbirds.map((c) => `${c.folderAccount}${c.folderPath}`)).toEqual([`${own.accountId}/Sent`]);
    const sentFolders = (await folders()).filter((f) => f.name === "Sent" || f.specialUse.includes("sent"));
    console.log(`[e2e] after Thunderbird's own send: ${sentFolders.map((f) => `${f.accountId}${f.path}[${f.specialUse.join(",")}]`).join(" ")}`);
    expect(sentFolders).toEqual([{ accountId: own.accountId, name: "Sent", path: "/Sent", specialUse: ["sent"] }]);
  });
});

describe.skipIf(skipReason !== null)("the add-on's Sent folder after a restart, without an SMTP send in between", () => {
  let env: E2E;
  let bob: MailPeer;
  let restarted: TB | null = null;
  const identities = [{ email: "alice@example.test", fullName: "Alice", fcc: true }];

  beforeAll(async () => {
    env = await startE2E({ users: USERS, as: "alice", thunderbird: { identities } });
    bob = await startMailPeer(env.server, "bob", "secret-bob");
    await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  });

  afterAll(async () => {
    await bob?.stop().catch(() => {});
    await restarted?.quit().catch(() => {});
    if (env) await env.stop();
  });

  it("is Thunderbird's flagged Sent folder (specialUse [\"sent\"]) from its next start on", async () => {
    const subject = `Over XMPP then restart ${Date.now()}`;
    await expect(env.tb.helper.send({ to: ["Bob <bob@localhost>"], subject, body: "Hi Bob" })).rejects.toThrow(/aborted/i);
    await waitFor(() => bob.filed.some((m) => m.subject === subject), 10_000, "filed at bob");
    await env.tb.waitForEvent((e) => e.event === "compose-closed", 10_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const show = (fs: FolderInfo[]) => fs.filter((f) => f.name === "Sent" || f.specialUse.includes("sent")).map((f) => `${f.accountId}${f.path}[${f.specialUse.join(",")}]`).join(" ");
    console.log(`[e2e] before the restart: ${show(await env.tb.helper.command<FolderInfo[]>("folders"))}`);
    const runDir = env.tb.runDir;
    await env.tb.quit({ keepRunDir: true });
    restarted = await launchThunderbird({
      addonDir: DIST_DIR,
      smtpPort: env.sink.port,
      identities,
      runDir,
      managed: { jid: env.jidOf("alice"), password: "secret-alice", websocketUrl: env.server.wsUrl, ...E2E_STRANGER_LIMITS },
    });
    await new Promise((r) => setTimeout(r, 3_000));
    const after = await restarted.helper.command<FolderInfo[]>("folders");
    console.log(`[e2e] after the restart: ${show(after)}`);
    expect(after.filter((f) => f.name === "Sent" || f.specialUse.includes("sent"))).toEqual([{ accountId: "account1", name: "Sent", path: "/Sent", specialUse: ["sent"] }]);
  });
});

