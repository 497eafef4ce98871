// First install: the settings page, with its short explanation and the account form, once the main window has
// finished opening (earlier, openOptionsPage fails with "An unexpected error occurred", or the tab the main window
// restores at start is put in front of ours). Not when an enterprise policy presets the whole account: the form would
// only show locked fields, and the add-on goes online by itself.
import type { Logger } from "../core/log.js";
import type { ResolvedSettings } from "../core/settings.js";

/** The policy gives the address and the password: nothing is left for the user to enter. */
export function accountPresetByPolicy({ settings, locked }: Pick<ResolvedSettings, "settings" | "locked">): boolean {
  return locked.has("jid") && settings.jid !== "" && locked.has("password") && settings.password !== "";
}

export interface OnboardingDeps {
  readonly log: Logger;
  /** The effective settings (policy included). */
  settings(): Promise<Pick<ResolvedSettings, "settings" | "locked">>;
  /** Is Thunderbird's main window open? */
  mainWindowOpen(): Promise<boolean>;
  openSettingsPage(): Promise<void>;
  /** Tries after the first; 1 s apart. */
  readonly retries?: number;
  /** Wait after the main window is there before opening the page. */
  readonly settleMs?: number;
}

/** runtime.onInstalled. */
export function createOnboarding(deps: OnboardingDeps): (details: { reason: string }) => void {
  const { log } = deps;
  const attempt = async (left: number): Promise<void> => {
    try {
      if (!(await deps.mainWindowOpen())) throw new Error("no main window yet");
      await new Promise((r) => setTimeout(r, deps.settleMs ?? 1_500));
      await deps.openSettingsPage();
      log.info("onboarding-opened", {});
    } catch (error) {
      if (left > 0) setTimeout(() => void attempt(left - 1), 1_000);
      else log.warn("onboarding-open-failed", { error });
    }
  };
  return ({ reason }) => {
    log.info("installed", { reason });
    if (reason !== "install") return;
    void deps.settings().then(
      (resolved) => {
        if (accountPresetByPolicy(resolved)) log.info("onboarding-skipped", { why: "account-set-by-policy" });
        else void attempt(deps.retries ?? 30);
      },
      () => void attempt(deps.retries ?? 30),
    );
  };
}
