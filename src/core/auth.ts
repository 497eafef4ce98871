// Which SASL mechanism to use, given what the server offers and what we hold. Pure and table-tested.

export type MechanismName = "SCRAM-SHA-256" | "SCRAM-SHA-1" | "PLAIN";

export interface HeldCredentials {
  readonly hasPassword: boolean;
  /** The SCRAM mechanism our stored salted keys belong to, if any. */
  readonly keysFor?: "SCRAM-SHA-256" | "SCRAM-SHA-1";
}

export type MechanismChoice =
  | { readonly ok: true; readonly mechanism: MechanismName }
  | { readonly ok: false; readonly reason: "password-needed" | "no-common-mechanism" | "plain-needs-secure-channel" };

const SCRAM_PREFERENCE = ["SCRAM-SHA-256", "SCRAM-SHA-1"] as const;

export function chooseMechanism(offered: readonly string[], held: HeldCredentials, channelSecure: boolean): MechanismChoice {
  const has = new Set(offered);
  for (const mech of SCRAM_PREFERENCE) {
    if (has.has(mech) && held.hasPassword) return { ok: true, mechanism: mech };
  }
  // Without a password, stored keys still work if the server offers their mechanism.
  if (held.keysFor && has.has(held.keysFor)) return { ok: true, mechanism: held.keysFor };
  if (has.has("PLAIN")) {
    if (!held.hasPassword) return { ok: false, reason: "password-needed" };
    if (!channelSecure) return { ok: false, reason: "plain-needs-secure-channel" };
    return { ok: true, mechanism: "PLAIN" };
  }
  if (SCRAM_PREFERENCE.some((m) => has.has(m))) return { ok: false, reason: "password-needed" };
  return { ok: false, reason: "no-common-mechanism" };
}
