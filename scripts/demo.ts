// The demo: a private Prosody, an SMTP sink and a real (headless) Thunderbird with the built add-on, configured the
// way an administrator would (managed storage). Shows the add-on coming online, another XMPP account seeing it
// advertise the mail protocol, Thunderbird's Send delivering a mail over XMPP to bob (whose engine runs here in Node)
// with proof of filing, a mail to a non-XMPP recipient leaving by SMTP, and a mail received over XMPP.
//   npm run demo           (builds first)
//   npm run demo -- --gui  (Thunderbird in a virtual X display instead of --headless)
import { client as stockClient, xml } from "@xmpp/client";
import type { Element } from "@xmpp/xml";
import { buildMessage, newMessageId } from "../src/core/mime/build.js";
import { MailSender } from "../src/xmpp/mail-sender.js";
import { fallbackBody } from "../src/xmpp/mail-stanza.js";
import { realScheduler } from "../src/xmpp/runtime.js";
import { e2eSkipReason, startE2E } from "../tests/support/e2e-env.js";
import { ourSession, quietLog, waitFor, whenOnline } from "../tests/support/mail-fixtures.js";
import { startMailPeer } from "../tests/support/mail-peer.js";
import "../tests/support/websocket-global.js";

const NS_DISCO_INFO = "http://jabber.org/protocol/disco#info";
const NS_MAIL = "https://mailoverxmpp.net/protocol/mail/0";
const t0 = performance.now();
const at = () => `${((performance.now() - t0) / 1000).toFixed(2).padStart(6)} s`;
const say = (text: string) => console.log(`[demo ${at()}] ${text}`);

const why = e2eSkipReason();
if (why) {
  console.error(`demo cannot run: ${why}`);
  process.exit(2);
}

say("starting a private Prosody (loopback, free port), an SMTP sink and Thunderbird with the add-on …");
const env = await startE2E({
  users: [
    { user: "alice", password: "demo-alice" },
    { user: "bob", password: "demo-bob" },
  ],
  as: "alice",
  thunderbird: { identities: [{ email: "alice@example.test", fullName: "Alice", fcc: true }], ...(process.argv.includes("--gui") ? { xvfb: true } : {}) },
});
let exitCode = 0;
try {
  say(`Prosody: ${env.server.wsUrl}; SMTP sink: 127.0.0.1:${env.sink.port}; Thunderbird pid ${env.tb.pid}`);
  const online = await env.tb.waitForEvent((e) => e.event === "status" && e.state === "online", 30_000);
  say(`the add-on is ONLINE as ${String(online.jid)} (${Math.round(env.tb.timeOf(online)! - env.tb.spawnedAt)} ms after Thunderbird started)`);
  const ready = env.tb.events().find((e) => e.event === "ready");
  if (ready) say(`  login: ${String(ready.mechanism)}, stream management ${ready.streamManagement ? "on" : "off"}, ${String(ready.millis)} ms`);

  const bob = stockClient({ service: env.server.wsUrl, domain: env.server.domain, username: "bob", password: "demo-bob", resource: "demo" });
  bob.on("error", () => {});
  await bob.start();
  const info: Element = await bob.iqCaller.request(
    xml("iq", { type: "get", to: String(online.jid) }, xml("query", { xmlns: NS_DISCO_INFO })),
    10_000,
  );
  const features = info.getChild("query", NS_DISCO_INFO)?.getChildren("feature").map((f: Element) => f.attrs.var) ?? [];
  say(`bob@${env.server.domain} asked alice's Thunderbird what it supports: ${features.includes(NS_MAIL) ? "it accepts MAIL OVER XMPP" : "no mail feature (unexpected)"}`);
  await bob.stop();

  say(`bob's mail engine starts (in Node) on bob@${env.server.domain} and says it accepts mail over XMPP`);
  const bobPeer = await startMailPeer(env.server, "bob", "demo-bob");
  say(`Thunderbird sends a mail to bob@${env.server.domain} (Send, as the user would) …`);
  const toBob = "Demo: over XMPP from Thunderbird";
  const t1 = performance.now();
  await env.tb.helper.send({ to: `Bob <bob@${env.server.domain}>`, subject: toBob, body: "Hi Bob, this left Thunderbird over XMPP." }).catch(() => undefined);
  await waitFor(() => bobPeer.filed.some((m) => m.subject === toBob), 15_000, "bob filed the mail");
  const held = await env.tb.waitForEvent((e) => e.event === "send-held" && e.cancel === true, 10_000);
  say(`bob's engine FILED it ${Math.round(performance.now() - t1)} ms after the compose window was opened (Send held ${String(held.ms)} ms for delivery + receipt); SMTP sink got ${env.sink.messages.length} mails`);
  const sentCopy = await env.tb.waitForEvent((e) => e.event === "sent-copy-filed", 10_000);
  await env.tb.waitForEvent((e) => e.event === "compose-closed", 10_000);
  say(`Thunderbird filed the sent copy in "${String(sentCopy.folder)}" and closed the compose window`);
  await bobPeer.stop();
  if (env.sink.messages.length !== 0) exitCode = 1;

  say("sending a test mail from Thunderbird to carol@nowhere.test (no XMPP account) …");
  const sent = await env.tb.helper.send({ to: "carol@nowhere.test", subject: "Demo: plain SMTP", body: "Carol has no XMPP, so this goes by SMTP." });
  const mail = await env.sink.waitFor((m) => m.envelope.to.includes("carol@nowhere.test"), 15_000);
  const subject = /^Subject: (.*)$/m.exec(mail.raw.toString("utf8"))?.[1] ?? "?";
  const heldSmtp = env.tb.events().filter((e) => e.event === "send-held").at(-1);
  say(`SMTP sink received it: from ${mail.envelope.from} to ${mail.envelope.to.join(", ")}, subject "${subject}" (send took ${sent.sendMs} ms; the add-on held it ${String(heldSmtp?.ms)} ms)`);

  say("bob's mail engine (running here in Node) sends alice a mail over XMPP …");
  const bobEngine = ourSession(env.server, "bob", "demo-bob", "engine");
  bobEngine.start();
  await whenOnline(bobEngine);
  const sender = new MailSender({ session: bobEngine, log: quietLog, scheduler: realScheduler });
  sender.start();
  const messageId = newMessageId(env.server.domain);
  const xmppSubject = "Hello over XMPP";
  const text = "Hi Alice,\r\nthis mail travelled over XMPP and your Thunderbird confirmed it was filed.\r\n";
  const rawMail = buildMessage(
    { from: `Bob <bob@${env.server.domain}>`, to: [`alice@${env.server.domain}`], cc: [], bcc: [], replyTo: [], subject: xmppSubject, text, isPlainText: true, attachments: [] },
    { date: new Date(), messageId },
  );
  const outcome = await sender.deliver(
    { to: env.jidOf("alice"), raw: rawMail, subject: xmppSubject, fallbackBody: fallbackBody({ from: "Bob", to: ["alice"], subject: xmppSubject, text, attachmentNames: [] }) },
    15_000,
  );
  say(`outcome: ${outcome.status}${"millis" in outcome ? ` after ${outcome.millis} ms (route ${outcome.route})` : ""}`);
  const found = await env.tb.helper.command<Array<{ folder: string; subject: string }>>("findMessages", { headerMessageId: messageId.slice(1, -1) }, 10_000);
  say(found.length === 1 ? `alice's Thunderbird has it in the folder "${found[0]!.folder}": "${found[0]!.subject}"` : "the mail was not found in Thunderbird (unexpected)");
  await bobEngine.stop();
  if (outcome.status !== "filed" || found.length !== 1) exitCode = 1;
} catch (error) {
  exitCode = 1;
  console.error(`[demo] failed: ${error instanceof Error ? error.message : String(error)}`);
  console.error(env.tb.outputTail(30));
} finally {
  const quit = await env.stop();
  if (quit) say(`Thunderbird quit (${quit.how}) in ${quit.ms} ms; Prosody and the sink stopped`);
}
process.exit(exitCode);
