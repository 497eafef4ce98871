// The private Dovecot of tests/support/dovecot.ts: starts on loopback, takes a plain-text login, stores an APPEND
// where countMessages sees it.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isDovecotAvailable, startDovecot, type Dovecot } from "../support/dovecot.js";

function imapSession(port: number) {
  const socket = connect({ host: "127.0.0.1", port });
  let buffer = "";
  socket.on("data", (d: Buffer) => (buffer += d.toString("latin1")));
  const until = async (re: RegExp) => {
    const deadline = Date.now() + 5_000;
    while (!re.test(buffer)) {
      if (Date.now() > deadline) throw new Error(`IMAP: no ${re} in ${buffer}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return buffer;
  };
  return { socket, until, write: (s: string) => socket.write(s) };
}

describe.skipIf(!isDovecotAvailable())("private Dovecot", () => {
  let imap: Dovecot;
  beforeAll(async () => {
    imap = await startDovecot({ users: { bob: "secret" } });
  });
  afterAll(async () => imap?.stop());

  it("logs in with a plain-text password on loopback and stores an APPEND", async () => {
    const s = imapSession(imap.port);
    await s.until(/^\* OK/m);
    // (A failed login first would delay the next one by Dovecot's auth penalty, ~4 s: checked last.)
    s.write("b LOGIN bob secret\r\n");
    await s.until(/^b OK/m);
    const mail = "From: a@example.test\r\nSubject: x\r\nMessage-ID: <1@example.test>\r\n\r\nhi\r\n";
    s.write(`c APPEND INBOX {${mail.length}+}\r\n${mail}\r\n`);
    await s.until(/^c OK/m);
    s.socket.destroy();
    expect(imap.countMessages("bob")).toBe(1);
    expect(imap.messages("bob")[0]!.text).toContain("Message-ID: <1@example.test>");
    const wrong = imapSession(imap.port);
    await wrong.until(/^\* OK/m);
    wrong.write("a LOGIN bob wrong\r\n");
    await wrong.until(/^a NO/m);
    wrong.socket.destroy();
  });
});
