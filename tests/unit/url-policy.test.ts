// Where an external payload may be fetched from (issue 12 finding 3): the URL rules and the address classification,
// as tables. Every input the issue names is here, in the notations a sender could use for it.
import { describe, expect, it } from "vitest";
import { checkAddresses, checkDownloadUrl, classifyAddress, type AddressClass } from "../../src/core/url-policy.js";
import { checkDownloadTarget } from "../../src/xmpp/upload.js";

const deployed = { allowLoopback: false };
const localTest = { allowLoopback: true };

describe("checkDownloadUrl (a deployed account: WebSocket URL off loopback)", () => {
  it.each([
    // [url, host name to resolve]
    ["https://upload.example.org/file_share/abc/mail.bin", "upload.example.org"],
    ["https://share.example.org/x", "share.example.org"],
    ["https://bucket.s3.eu-central-1.amazonaws.com/a/b?X-Amz-Signature=1", "bucket.s3.eu-central-1.amazonaws.com"],
    ["https://UPLOAD.Example.ORG/x", "upload.example.org"],
    ["https://upload.example.org:443/x", "upload.example.org"], // the default port, spelt out
    ["https://upload.example.org./x", "upload.example.org"], // absolute name
    ["https://bücher.example.net/x", "xn--bcher-kva.example.net"], // IDN, checked in its ASCII form
    ["https://a_b.example.org/x", "a_b.example.org"],
    ["https://127.0.0.1.nip.io/x", "127.0.0.1.nip.io"], // a name: its addresses decide (checkAddresses)
  ])("accepts %s, to be resolved as %s", (url, host) => {
    expect(checkDownloadUrl(url, deployed)).toMatchObject({ ok: true, resolve: host });
  });

  it.each([
    // The inputs.
    "https://192.168.1.10/mail.bin",
    "https://10.0.0.1/mail.bin",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00::1]/mail.bin",
    "https://intranet/mail.bin",
    "http://127.1/mail.bin",
    "http://0x7f.1/mail.bin",
    "http://localhost:9200/_cat/indices",
    "http://[::1]:2375/containers/json",
    // The same and more in other notations: WHATWG parsing turns them into dotted IPv4, still a literal.
    "https://127.1/",
    "https://0x7f.1/",
    "https://2130706433/",
    "https://0177.0.0.1/",
    "https://0x7f000001/",
    "https://%31%32%37.0.0.1/",
    "https://1.2.3/",
    "https://0/",
    "https://8.8.8.8/public-but-a-literal",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[2001:db8::1]/",
    "https://[2a00:1450:4001:80b::200e]/", // public, but a literal
    "https://[fe80::1%25eth0]/",
    "https://localhost/",
    "https://LOCALHOST/",
    "https://localhost./",
    "https://foo.localhost/",
    "https://printer.local/",
    "https://router.lan/",
    "https://nas.home.arpa/",
    "https://metadata.google.internal/",
    "https://files.corp/",
    "https://1.0.0.127.in-addr.arpa/",
    "https://upload.example.org.test/",
    "https://xyz.onion/",
    // Other schemes, ports, credentials.
    "http://upload.example.org/mail.bin",
    "https://upload.example.org:8443/mail.bin",
    "https://upload.example.org:80/mail.bin",
    "https://user:pw@upload.example.org/mail.bin",
    "https://user@upload.example.org/mail.bin",
    "ftp://upload.example.org/mail.bin",
    "file:///etc/passwd",
    "data:application/octet-stream;base64,AAAA",
    "blob:https://upload.example.org/1",
    "javascript:alert(1)",
    "ws://upload.example.org/",
    "not a url",
    "",
    `https://upload.example.org/${"a".repeat(2100)}`,
  ])("refuses %s", (url) => {
    const verdict = checkDownloadUrl(url, deployed);
    expect(verdict.ok).toBe(false);
  });

  it("says why, for the local log", () => {
    expect(checkDownloadUrl("https://10.0.0.1/", deployed)).toEqual({ ok: false, why: "an IP address (10.0.0.1) instead of a host name" });
    expect(checkDownloadUrl("http://localhost:9200/", deployed)).toEqual({ ok: false, why: "only https:// is allowed" });
  });
});

describe("checkDownloadUrl (a local test server: WebSocket URL on loopback)", () => {
  it.each([
    "http://127.0.0.1:5280/file_share/x/mail.bin",
    "http://127.0.0.2:8080/x",
    "http://localhost:9200/x",
    "http://[::1]:2375/x",
    "https://127.0.0.1:5281/upload/x",
    "http://127.1:5280/x",
  ])("accepts loopback %s without a DNS check", (url) => {
    expect(checkDownloadUrl(url, localTest)).toMatchObject({ ok: true, resolve: null });
  });

  it.each(["http://192.168.1.10/x", "https://10.0.0.1/x", "https://169.254.169.254/", "https://[fd00::1]/", "http://upload.example.org/x", "https://upload.example.org:8443/x", "http://user:pw@127.0.0.1/x"])(
    "still refuses %s",
    (url) => expect(checkDownloadUrl(url, localTest).ok).toBe(false),
  );

  it("still checks the addresses of a public name", () => {
    expect(checkDownloadUrl("https://upload.example.org/x", localTest)).toMatchObject({ ok: true, resolve: "upload.example.org" });
  });
});

describe("classifyAddress", () => {
  it.each<[string, AddressClass | null]>([
    ["93.184.216.34", "public"],
    ["8.8.8.8", "public"],
    ["1.1.1.1", "public"],
    ["172.15.255.255", "public"],
    ["172.32.0.0", "public"],
    ["100.63.255.255", "public"],
    ["100.128.0.0", "public"],
    ["169.253.255.255", "public"],
    ["223.255.255.255", "public"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.0.1", "private"],
    ["100.64.0.1", "shared"],
    ["100.127.255.255", "shared"],
    ["169.254.169.254", "link-local"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["240.0.0.1", "reserved"],
    ["192.0.0.170", "reserved"],
    ["192.0.2.1", "reserved"],
    ["198.51.100.7", "reserved"],
    ["203.0.113.9", "reserved"],
    ["198.18.0.1", "reserved"],
    ["192.88.99.1", "reserved"],
    // IPv6
    ["2a00:1450:4001:80b::200e", "public"],
    ["2606:4700:4700::1111", "public"],
    ["2001:4860:4860::8888", "public"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::FFFF:10.1.2.3", "private"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:8.8.8.8", "public"],
    ["::127.0.0.1", "reserved"],
    ["64:ff9b::10.0.0.1", "private"],
    ["64:ff9b::8.8.8.8", "public"],
    ["64:ff9b:1::1", "reserved"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf::1", "link-local"],
    ["fec0::1", "private"],
    ["fc00::1", "unique-local"],
    ["fd00::1", "unique-local"],
    ["fdff:ffff::1", "unique-local"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "reserved"],
    ["2001::1", "reserved"], // Teredo
    ["2002:0a00:0001::1", "private"], // 6to4 of 10.0.0.1
    ["2002:0808:0808::1", "public"],
    ["3fff::1", "reserved"],
    ["100::1", "reserved"],
    ["4000::1", "reserved"],
    // Not addresses.
    ["", null],
    ["localhost", null],
    ["127.1", null],
    ["0x7f.0.0.1", null],
    ["010.0.0.1", null],
    ["256.0.0.1", null],
    ["1.2.3.4.5", null],
    ["[::1]", null],
    ["1::2::3", null],
    ["1:2:3:4:5:6:7:8:9", null],
    ["1:2:3:4:5:6:7", null],
    ["::ffff:1.2.3", null],
    ["12345::", null],
    ["g::1", null],
  ])("%s → %s", (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });
});

describe("checkAddresses", () => {
  it("accepts public addresses only", () => {
    expect(checkAddresses(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], deployed)).toEqual({ ok: true });
  });
  it.each([
    [["93.184.216.34", "10.0.0.1"]], // one private address among public ones is enough to refuse
    [["127.0.0.1"]],
    [["::1"]],
    [["169.254.169.254"]],
    [["fd12:3456::1"]],
    [["::ffff:192.168.1.1"]],
    [["100.100.100.100"]],
    [[]],
    [["not-an-address"]],
    [Array.from({ length: 65 }, () => "8.8.8.8")],
  ])("refuses %j", (addresses) => {
    expect(checkAddresses(addresses, deployed).ok).toBe(false);
  });
  it("accepts loopback addresses only for a local test server, never private ones", () => {
    expect(checkAddresses(["127.0.0.1", "::1"], localTest)).toEqual({ ok: true });
    expect(checkAddresses(["127.0.0.1", "192.168.1.1"], localTest).ok).toBe(false);
  });
});

describe("checkDownloadTarget (the policy with a resolver, before any fetch)", () => {
  const code = async (p: Promise<unknown>) => p.then(() => "ok", (e: { code?: string }) => e.code ?? "?");

  it("resolves the name and checks every address", async () => {
    const dns = new Map([
      ["upload.example.org", ["93.184.216.34"]],
      ["lan.example.org", ["93.184.216.34", "192.168.0.5"]],
    ]);
    const resolve = async (host: string) => dns.get(host) ?? Promise.reject(new Error("NXDOMAIN"));
    await expect(checkDownloadTarget("https://upload.example.org/a", { allowLoopback: false, resolve }, 1_000)).resolves.toBe("https://upload.example.org/a");
    expect(await code(checkDownloadTarget("https://lan.example.org/a", { allowLoopback: false, resolve }, 1_000))).toBe("refused-url");
    expect(await code(checkDownloadTarget("https://nowhere.example.org/a", { allowLoopback: false, resolve }, 1_000))).toBe("refused-url");
  });

  it("refuses every name without a resolver, and gives up on DNS that does not answer", async () => {
    expect(await code(checkDownloadTarget("https://upload.example.org/a", { allowLoopback: false, resolve: null }, 1_000))).toBe("refused-url");
    const t0 = Date.now();
    expect(await code(checkDownloadTarget("https://upload.example.org/a", { allowLoopback: false, resolve: () => new Promise(() => {}) }, 100))).toBe("timeout");
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it("needs no DNS for a loopback literal of a local test server, and never asks it for a refused URL", async () => {
    let asked = 0;
    const resolve = async () => {
      asked += 1;
      return ["127.0.0.1"];
    };
    await expect(checkDownloadTarget("http://127.0.0.1:5280/f", { allowLoopback: true, resolve }, 1_000)).resolves.toBe("http://127.0.0.1:5280/f");
    expect(await code(checkDownloadTarget("http://127.0.0.1:5280/f", { allowLoopback: false, resolve }, 1_000))).toBe("refused-url");
    expect(asked).toBe(0);
  });
});
