import { describe, expect, it } from "vitest";
import { bareJid, bareJidKey, jidDomain, jidLocal, jidResource, sameBareJid, sameJid } from "../../src/core/jid.js";

describe("core/jid", () => {
  it("splits local@domain/resource", () => {
    expect(bareJid("alice@example.org/tb-1")).toBe("alice@example.org");
    expect(jidLocal("alice@example.org/tb-1")).toBe("alice");
    expect(jidDomain("alice@example.org/tb-1")).toBe("example.org");
    expect(jidResource("alice@example.org/tb-1")).toBe("tb-1");
  });

  it("takes a bare JID as it is", () => {
    expect(bareJid("alice@example.org")).toBe("alice@example.org");
    expect(jidResource("alice@example.org")).toBeNull();
    expect(jidDomain("alice@example.org")).toBe("example.org");
  });

  it("lets the resource contain '@' and '/'", () => {
    const jid = "bob@example.org/home@office/2";
    expect(bareJid(jid)).toBe("bob@example.org");
    expect(jidDomain(jid)).toBe("example.org");
    expect(jidLocal(jid)).toBe("bob");
    expect(jidResource(jid)).toBe("home@office/2");
    // A domain-only JID whose resource holds an "@" is still a domain-only JID.
    expect(jidDomain("example.org/a@b")).toBe("example.org");
    expect(jidLocal("example.org/a@b")).toBe("");
  });

  it("reads a domain-only JID", () => {
    expect(jidLocal("example.org")).toBe("");
    expect(jidDomain("example.org")).toBe("example.org");
    expect(bareJid("example.org/r")).toBe("example.org");
  });

  it("keeps an empty resource distinct from none", () => {
    expect(jidResource("a@b/")).toBe("");
    expect(bareJid("a@b/")).toBe("a@b");
  });

  it("compares bare JIDs case-insensitively, resources ignored", () => {
    expect(sameBareJid("Alice@Example.ORG/x", "alice@example.org")).toBe(true);
    expect(sameBareJid("alice@example.org/x", "alice@example.org/y")).toBe(true);
    expect(sameBareJid("alice@example.org", "alice@example.net")).toBe(false);
    expect(sameBareJid("alice@example.org", "alicia@example.org")).toBe(false);
    expect(bareJidKey("Alice@Example.ORG/Res")).toBe("alice@example.org");
  });

  it("compares whole JIDs case-insensitively, resources included", () => {
    expect(sameJid("Alice@Example.org/TB", "alice@example.org/tb")).toBe(true);
    expect(sameJid("alice@example.org/a", "alice@example.org/b")).toBe(false);
    expect(sameJid("alice@example.org/a", "alice@example.org")).toBe(false);
    expect(sameJid("example.org", "EXAMPLE.ORG")).toBe(true);
  });
});
