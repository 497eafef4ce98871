// The login's upload check (src/xmpp/upload-access.ts) against real servers: it finds the service, learns the upload
// host from a 1-byte slot without uploading anything, and probes the slot's URLs. Node has no CORS, so the probe's
// verdict here is always "reachable"; what a browser decides is proven in tests/e2e/upload-cors.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { UploadAccess } from "../../src/xmpp/upload-access.js";
import { uploadOriginPattern } from "../../src/xmpp/upload.js";
import { ourSession, quietLog, whenOnline } from "../support/mail-fixtures.js";
import { startServer, testServers, type XmppServer } from "../support/servers.js";

const USERS = [{ user: "alice", password: "secret-a" }];

describe.each(testServers())("upload access check on %s", (kind) => {
  let withUpload: XmppServer;
  let withoutUpload: XmppServer;

  beforeAll(async () => {
    [withUpload, withoutUpload] = await Promise.all([startServer(kind, { users: USERS, upload: true, uploadCors: false }), startServer(kind, { users: USERS })]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([withUpload?.cleanup(), withoutUpload?.cleanup()]);
  });

  it("learns the upload host from a 1-byte slot at login and probes it with OPTIONS only (nothing uploaded)", async () => {
    const session = ourSession(withUpload, "alice", "secret-a", "probe", quietLog);
    const methods: string[] = [];
    const access = new UploadAccess({
      session,
      log: quietLog,
      fetchFn: (input, init) => {
        methods.push(init?.method ?? "GET");
        return fetch(input, init);
      },
    });
    access.start();
    session.start();
    await whenOnline(session);
    await new Promise((r) => setTimeout(r, 50));
    const state = await access.settled(10_000);
    expect(state).toMatchObject({ state: "ok", host: new URL(withUpload.httpUrl).host });
    const host = (state as { host: string }).host;
    expect(uploadOriginPattern(`http://${host}/x`)).toBe("http://127.0.0.1/*");
    expect(methods.every((m) => m === "OPTIONS")).toBe(true);
    // Nothing was stored by the check (ejabberd keeps uploads under <dir>/upload).
    if (kind === "ejabberd") expect(readdirSync(join((withUpload as unknown as { dir: string }).dir, "upload"))).toEqual([]);
    access.stop();
    await session.stop();
  });

  it("says 'none' on a server without an upload service", async () => {
    const session = ourSession(withoutUpload, "alice", "secret-a", "probe", quietLog);
    const access = new UploadAccess({ session, log: quietLog });
    access.start();
    session.start();
    await whenOnline(session);
    await new Promise((r) => setTimeout(r, 50));
    expect(await access.settled(10_000)).toEqual({ state: "none" });
    access.stop();
    await session.stop();
  });
});
