// First install (src/background/onboarding.ts): the settings page opens once Thunderbird's main window is there,
// retried each second; not on an update, and not when an enterprise policy presets the whole account (issue 14).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { DEFAULT_SETTINGS, resolveSettings, type Settings } from "../../src/core/settings.js";
import { accountPresetByPolicy, createOnboarding, type OnboardingDeps } from "../../src/background/onboarding.js";

/** The effective settings with these user values (storage.local) and policy values (storage.managed). */
const resolved = (local: Partial<Settings>, managed?: Partial<Settings>) => resolveSettings(local, managed);

function setup(over: Partial<OnboardingDeps> = {}) {
  const events: string[] = [];
  const log = { ...silentLogger, info: (event: string) => void events.push(event), warn: (event: string) => void events.push(event) };
  let windowOpen = false;
  const openSettingsPage = vi.fn(async () => {});
  const onInstalled = createOnboarding({ log, settings: async () => resolved({}), mainWindowOpen: async () => windowOpen, openSettingsPage, ...over });
  return { events, openSettingsPage, onInstalled, openWindow: () => void (windowOpen = true) };
}

describe("createOnboarding", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("opens the settings page 1.5 s after the main window is there, retrying each second until then", async () => {
    const { events, openSettingsPage, onInstalled, openWindow } = setup();
    onInstalled({ reason: "install" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(openSettingsPage).not.toHaveBeenCalled();
    openWindow();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(openSettingsPage).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1_500);
    expect(openSettingsPage).toHaveBeenCalledTimes(1);
    expect(events).toEqual(["installed", "onboarding-opened"]);
  });

  it("gives up after 30 retries and says so", async () => {
    const { events, openSettingsPage, onInstalled } = setup();
    onInstalled({ reason: "install" });
    await vi.advanceTimersByTimeAsync(40_000);
    expect(openSettingsPage).not.toHaveBeenCalled();
    expect(events).toEqual(["installed", "onboarding-open-failed"]);
  });

  it("retries when opening the page fails", async () => {
    const openSettingsPage = vi.fn<() => Promise<void>>().mockRejectedValueOnce(new Error("An unexpected error occurred")).mockResolvedValue(undefined);
    const { events, onInstalled, openWindow } = setup({ openSettingsPage });
    openWindow();
    onInstalled({ reason: "install" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(openSettingsPage).toHaveBeenCalledTimes(2);
    expect(events).toEqual(["installed", "onboarding-opened"]);
  });

  it("does nothing on an update", async () => {
    const { events, openSettingsPage, onInstalled, openWindow } = setup();
    openWindow();
    onInstalled({ reason: "update" });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(openSettingsPage).not.toHaveBeenCalled();
    expect(events).toEqual(["installed"]);
  });

  it("does not open the page when a policy presets the address and the password", async () => {
    const { events, openSettingsPage, onInstalled, openWindow } = setup({
      settings: async () => resolved({}, { jid: "alice@example.org", password: "secret", websocketUrl: "wss://example.org/ws" }),
    });
    openWindow();
    onInstalled({ reason: "install" });
    await vi.advanceTimersByTimeAsync(40_000);
    expect(openSettingsPage).not.toHaveBeenCalled();
    expect(events).toEqual(["installed", "onboarding-skipped"]);
  });

  it("opens it when the policy leaves something to enter, or the settings cannot be read", async () => {
    for (const settings of [
      async () => resolved({}, { jid: "alice@example.org", websocketUrl: "wss://example.org/ws" }),
      async () => resolved({ jid: "alice@example.org" }, { password: "secret" }),
      async () => Promise.reject(new Error("storage")),
    ]) {
      const { events, openSettingsPage, onInstalled, openWindow } = setup({ settings });
      openWindow();
      onInstalled({ reason: "install" });
      await vi.advanceTimersByTimeAsync(2_000);
      expect(openSettingsPage).toHaveBeenCalledTimes(1);
      expect(events).toEqual(["installed", "onboarding-opened"]);
    }
  });
});

describe("accountPresetByPolicy", () => {
  it("is true only when both the address and the password come from the policy", () => {
    expect(accountPresetByPolicy(resolved({}, { jid: "alice@example.org/laptop", password: "secret" }))).toBe(true);
    expect(accountPresetByPolicy(resolved({ password: "typed" } as Partial<Settings>, { jid: "alice@example.org" }))).toBe(false);
    expect(accountPresetByPolicy(resolved({ jid: "alice@example.org" }, { password: "secret" }))).toBe(false);
    expect(accountPresetByPolicy(resolved({}, { jid: "", password: "secret" }))).toBe(false);
    // An invalid policy value is not applied (and not locked): the user must enter it.
    expect(accountPresetByPolicy(resolved({}, { jid: "not a jid", password: "secret" }))).toBe(false);
    expect(accountPresetByPolicy({ settings: DEFAULT_SETTINGS, locked: new Set() })).toBe(false);
  });
});
