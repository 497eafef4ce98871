// An OpenPGP key for a Thunderbird test profile: generated with GnuPG (Debian package gnupg) in a private, throw-away
// GNUPGHOME, exported (public and unprotected secret) into the profile's RNP keyrings, pubring.gpg and secring.gpg.
// Thunderbird protects unprotected secret keys with its own automatic passphrase at start-up.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { launchThunderbird } from "./thunderbird.js";

/**
 * Thunderbird keeps the passphrase that protects OpenPGP secret keys in encrypted-openpgp-passphrase.txt, encrypted
 * with the profile's NSS key database (key4.db). Keyrings with secret keys but without that file count as corrupt
 * (a blocking dialog). A first, short Thunderbird run creates both; they are copied into the real test profile.
 */
const SEED_FILES = ["key4.db", "cert9.db", "encrypted-openpgp-passphrase.txt"];

export async function openPgpProfileSeed(smtpPort: number): Promise<string> {
  const seed = mkdtempSync(join(tmpdir(), "mox-pgp-seed-"));
  let profile = "";
  // Keep the run directory past quit (the files are complete only then); removed below.
  const keep = process.env.MOX_TB_KEEP;
  process.env.MOX_TB_KEEP = "1";
  const tb = await launchThunderbird({ smtpPort, prepareProfile: (dir) => void (profile = dir) });
  try {
    try {
      const deadline = Date.now() + 30_000;
      while (!existsSync(join(profile, "encrypted-openpgp-passphrase.txt")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      if (!existsSync(join(profile, "encrypted-openpgp-passphrase.txt"))) throw new Error("Thunderbird did not create its OpenPGP passphrase file");
    } finally {
      await tb.quit();
    }
    for (const f of SEED_FILES) copyFileSync(join(profile, f), join(seed, f));
  } finally {
    if (keep === undefined) delete process.env.MOX_TB_KEEP;
    else process.env.MOX_TB_KEEP = keep;
    if (keep !== "1") rmSync(tb.runDir, { recursive: true, force: true });
  }
  return seed;
}

export interface TestKey {
  /** The 16-hex-digit key id (mail.identity.idN.openpgp_key_id). */
  readonly keyId: string;
  readonly fingerprint: string;
  /** Copies the keyrings, the seed (openPgpProfileSeed) and the personal-key acceptance into a profile directory. */
  install(profileDir: string, seedDir: string): void;
  cleanup(): void;
}

/**
 * The user's own key (`userId`), and one public key per recipient address, which the profile then holds as
 * accepted ("unverified", as after importing it in the Key Manager) so that mail to them can be encrypted.
 */
export function generateTestKey(userId: string, recipients: readonly string[] = []): TestKey {
  const home = mkdtempSync(join(tmpdir(), "mox-gpg-"));
  const env = { ...process.env, GNUPGHOME: home };
  const gpg = (...args: string[]) => execFileSync("gpg", ["--batch", "--no-tty", "--quiet", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  const fingerprintOf = (uid: string) => {
    const colons = gpg("--list-keys", "--with-colons", uid).toString();
    const keyId = /^pub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):/m.exec(colons)?.[1];
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
    if (!keyId || !fingerprint) throw new Error(`gpg listed no key for ${uid}:\n${colons}`);
    return { keyId, fingerprint };
  };
  gpg("--passphrase", "", "--quick-gen-key", userId, "ed25519", "sign", "never");
  const { keyId, fingerprint } = fingerprintOf(userId);
  gpg("--passphrase", "", "--quick-add-key", fingerprint, "cv25519", "encr", "never");
  const others = recipients.map((email) => {
    gpg("--passphrase", "", "--quick-gen-key", `<${email}>`, "ed25519", "sign", "never");
    const fp = fingerprintOf(`<${email}>`).fingerprint;
    gpg("--passphrase", "", "--quick-add-key", fp, "cv25519", "encr", "never");
    return { email, fingerprint: fp };
  });
  writeFileSync(join(home, "pubring.export"), gpg("--export", fingerprint, ...others.map((o) => o.fingerprint)));
  writeFileSync(join(home, "secring.export"), gpg("--export-secret-keys", fingerprint));
  const acceptRecipients = others
    .map((o) => `insert or replace into acceptance_decision values ('${o.fingerprint.toLowerCase()}', 'unverified');` + `insert or replace into acceptance_email values ('${o.fingerprint.toLowerCase()}', '${o.email.toLowerCase().replace(/'/g, "")}');`)
    .join("");
  return {
    keyId,
    fingerprint,
    install(profileDir, seedDir) {
      for (const f of SEED_FILES) copyFileSync(join(seedDir, f), join(profileDir, f));
      copyFileSync(join(home, "pubring.export"), join(profileDir, "pubring.gpg"));
      copyFileSync(join(home, "secring.export"), join(profileDir, "secring.gpg"));
      // The user's confirmation that this is their personal key (Thunderbird's Key Manager stores it here).
      const db = join(profileDir, "openpgp.sqlite");
      execFileSync("sqlite3", [
        db,
        "create table if not exists acceptance_email (fpr text not null, email text not null, unique(fpr, email));" +
          "create table if not exists acceptance_decision (fpr text not null, decision text not null, unique(fpr));" +
          "create unique index if not exists acceptance_email_i1 on acceptance_email(fpr, email);" +
          "create unique index if not exists acceptance__decision_i1 on acceptance_decision(fpr);" +
          `insert or replace into acceptance_decision values ('${fingerprint.toLowerCase()}', 'personal');` +
          acceptRecipients,
      ]);
    },
    cleanup() {
      // gpg started an agent for this GNUPGHOME: stop it before removing its directory.
      try {
        execFileSync("gpgconf", ["--kill", "gpg-agent"], { env, stdio: "ignore" });
      } catch {
        // no agent running
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}
