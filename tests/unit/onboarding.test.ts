// First install (src/background/onboarding.ts): the settings page opens once Thunderbird's main window is there,
// retried each second; not on an update.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/core/log.js";
import { createOnboarding, type OnboardingDeps } from "../../src/background/onboarding.js";

function setup(over: Partial<OnboardingDeps> = {}) {
  const events: string[] = [];
  const log = { ...silentLogger, info: (event: string) => void events.push(event), warn: (event: string) => void events.push(event) };
  let windowOpen = false;
  const openSettingsPage = vi.fn(async () => {});
  const onInstalled = createOnboarding({ log, mainWindowOpen: async () => windowOpen, openSettingsPage, ...over });
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
});
