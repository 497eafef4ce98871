import { describe, expect, it } from "vitest";
import { saslprep } from "../../src/xmpp/saslprep.js";

// Moved from scram.test.ts with saslprep (src/xmpp/scram.ts → src/xmpp/saslprep.ts).
describe("saslprep", () => {
  it("follows the RFC 4013 §3 examples it covers", () => {
    expect(saslprep("I\u00ADX")).toBe("IX");
    expect(saslprep("user")).toBe("user");
    expect(saslprep("USER")).toBe("USER");
    expect(saslprep("\u00AA")).toBe("a");
    expect(saslprep("\u2168")).toBe("IX");
    expect(() => saslprep("\u0007")).toThrow(Error);
  });

  it("maps non-ASCII spaces to a space and rejects other prohibited characters without echoing them", () => {
    expect(saslprep("a\u00A0b\u3000c")).toBe("a b c");
    for (const bad of ["pw\u0000", "pw\u007F", "pw\u0085", "pw\uE000", "pw\uFDD0", "pw\uD800", "pw\u202E", "pw\u{E0041}"]) {
      let message = "";
      try {
        saslprep(bad);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^SASLprep: prohibited character/);
      expect(message).not.toContain("pw");
    }
  });
});
