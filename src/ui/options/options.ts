// Options page: account fields, master switch, log level, receiving choices, connection test, WebSocket discovery,
// live status. Account fields go to the background (saveAccount), which stores credentials; the other settings go
// through the settings store directly. Fields set by policy are shown disabled with a note.
import { STATUS_PORT, type AccountInput } from "../../core/messages.js";
import {
  isSettingKey,
  LOG_LEVELS,
  UNKNOWN_SENDER_MODES,
  ROUTE_POLICIES,
  validateSetting,
  validateWebsocketUrl,
  type SettingError,
  type SettingIssue,
  type SettingKey,
  type Settings,
} from "../../core/settings.js";
import { limitationsOf, type SessionStatus } from "../../core/status.js";
import { applyDocumentLocale, localizePage, t } from "../../platform/i18n.js";
import { createSettingsStore, type ResolvedSettings } from "../../platform/settings-store.js";
import { NoReplyError, request } from "../rpc.js";
import { identityRows, toggleIdentity } from "./identities.js";
import {
  folderChoices,
  parseDiscoverReply,
  discoverFailureText,
  parseSaveReply,
  parseTestResult,
  SETTING_ERROR_TEXT,
  SETTING_NAME_TEXT,
  testResultText,
  type FolderChoice,
} from "./present.js";
import { limitationLine, limitationLines, parseSessionStatus, parseStatusPush, statusText } from "../shared/status.js";
import { clip, type Text } from "../shared/text.js";
import { fingerprintList, showList } from "../shared/dom.js";
import { ownFingerprintLines, parseChangedPeers, parseE2eOwnView, peerFingerprintLines, peerSummary } from "../shared/e2e.js";
import type { E2ePeerView } from "../../core/messages.js";
import { jidDomain } from "../../core/jid.js";
import { isLocalhostName } from "../../core/host.js";

function byId<T extends HTMLElement>(id: string, type: { new (): T; prototype: T }): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) throw new Error(`options.html lacks #${id}`);
  return element;
}

const form = byId("settings", HTMLFormElement);
const controls = {
  enabled: byId("enabled", HTMLInputElement),
  jid: byId("jid", HTMLInputElement),
  password: byId("password", HTMLInputElement),
  websocketUrl: byId("websocketUrl", HTMLInputElement),
  logLevel: byId("logLevel", HTMLSelectElement),
  unknownSenders: byId("unknownSenders", HTMLSelectElement),
  receiveFolder: byId("receiveFolder", HTMLSelectElement),
  routePolicy: byId("routePolicy", HTMLSelectElement),
  sendHoldSeconds: byId("sendHoldSeconds", HTMLInputElement),
  xmppDomains: byId("xmppDomains", HTMLInputElement),
  announceJid: byId("announceJid", HTMLInputElement),
  learnJids: byId("learnJids", HTMLInputElement),
  e2ePreview: byId("e2ePreview", HTMLInputElement),
  strangerMailsPerHour: byId("strangerMailsPerHour", HTMLInputElement),
  strangerMailsPerDay: byId("strangerMailsPerDay", HTMLInputElement),
  strangerMaxKiB: byId("strangerMaxKiB", HTMLInputElement),
  xmppIdentities: byId("xmppIdentities", HTMLInputElement),
} satisfies Record<SettingKey, HTMLInputElement | HTMLSelectElement>;
const buttons = {
  discover: byId("discover", HTMLButtonElement),
  test: byId("test", HTMLButtonElement),
  save: byId("save", HTMLButtonElement),
};
const statusTextEl = byId("status-text", HTMLElement);
const policySection = byId("policy-errors", HTMLElement);
const policyList = byId("policy-error-list", HTMLUListElement);
const result = byId("result", HTMLElement);
const resultText = byId("result-text", HTMLElement);
const resultDetail = byId("result-detail", HTMLElement);
const resultLimitations = byId("result-limitations", HTMLUListElement);
const statusLimitations = byId("status-limitations", HTMLUListElement);
const allowUploads = byId("allow-uploads", HTMLButtonElement);
/** The origins that would unblock uploads (the own upload host), while the status says they are blocked. */
let uploadOrigins: readonly string[] = [];

const store = createSettingsStore();
let current: ResolvedSettings | undefined;
let busy = false;
/** Fields the user changed since the last load or save: a storage change must not overwrite them. */
const dirty = new Set<SettingKey>();
/** The folders offered for received mail; null until (or unless) Thunderbird has listed them. */
let folderList: readonly FolderChoice[] | null = null;

const text = (x: Text): string => t(x.key, x.subs);
const isLocked = (key: SettingKey): boolean => current?.locked.has(key) ?? false;

// ---- rendering ----------------------------------------------------------------------------------------

function describe(key: SettingKey): void {
  const ids = [`${key}-help`, `${key}-locked`, `${key}-error`].filter((id) => {
    const element = document.getElementById(id);
    return element !== null && !element.hidden && element.textContent !== "";
  });
  controls[key].setAttribute("aria-describedby", ids.join(" "));
}

function setFieldError(key: SettingKey, message: Text | null): void {
  const element = byId(`${key}-error`, HTMLElement);
  element.textContent = message === null ? "" : text(message);
  element.hidden = message === null;
  if (message === null) controls[key].removeAttribute("aria-invalid");
  else controls[key].setAttribute("aria-invalid", "true");
  describe(key);
}

function clearFieldErrors(): void {
  for (const key of Object.keys(controls) as SettingKey[]) setFieldError(key, null);
}

function showResult(outcome: "ok" | "error" | "working", message: Text, detail?: Text, limitations: readonly string[] = []): void {
  result.dataset.outcome = outcome;
  resultText.textContent = text(message);
  resultDetail.textContent = detail === undefined ? "" : text(detail);
  resultDetail.hidden = detail === undefined;
  showList(resultLimitations, limitations);
}

function settingErrorText(error: SettingError): Text {
  return { key: SETTING_ERROR_TEXT[error] };
}

function renderPolicyErrors(errors: readonly SettingIssue[]): void {
  policyList.replaceChildren(
    ...errors.map((issue) => {
      const item = document.createElement("li");
      const problem = t(SETTING_ERROR_TEXT[issue.error]);
      const name = isSettingKey(issue.key) ? t(SETTING_NAME_TEXT[issue.key]) : clip(issue.key, 80);
      item.textContent = issue.key === "*" ? problem : t("policyErrorItem", [name, problem]);
      return item;
    }),
  );
  policySection.hidden = errors.length === 0;
}

function renderSettings(resolved: ResolvedSettings): void {
  current = resolved;
  const { settings } = resolved;
  for (const key of Object.keys(controls) as SettingKey[]) {
    const locked = resolved.locked.has(key);
    controls[key].disabled = locked || busy;
    byId(`${key}-locked`, HTMLElement).hidden = !locked;
    if (locked) dirty.delete(key);
    describe(key);
  }
  if (!dirty.has("enabled")) controls.enabled.checked = settings.enabled;
  if (!dirty.has("jid")) controls.jid.value = settings.jid;
  if (!dirty.has("websocketUrl")) controls.websocketUrl.value = settings.websocketUrl;
  if (!dirty.has("logLevel")) controls.logLevel.value = settings.logLevel;
  if (!dirty.has("unknownSenders")) controls.unknownSenders.value = settings.unknownSenders;
  if (!dirty.has("routePolicy")) controls.routePolicy.value = settings.routePolicy;
  if (!dirty.has("sendHoldSeconds")) controls.sendHoldSeconds.value = String(settings.sendHoldSeconds);
  if (!dirty.has("xmppDomains")) controls.xmppDomains.value = settings.xmppDomains;
  if (!dirty.has("announceJid")) controls.announceJid.checked = settings.announceJid;
  if (!dirty.has("learnJids")) controls.learnJids.checked = settings.learnJids;
  if (!dirty.has("e2ePreview")) controls.e2ePreview.checked = settings.e2ePreview;
  for (const key of ["strangerMailsPerHour", "strangerMailsPerDay", "strangerMaxKiB"] as const) {
    if (!dirty.has(key)) controls[key].value = String(settings[key]);
  }
  if (!dirty.has("xmppIdentities")) controls.xmppIdentities.value = settings.xmppIdentities;
  renderFolderOptions();
  // A password is never put into the page, not even one set by policy.
  controls.password.value = isLocked("password") ? "" : controls.password.value;
  controls.password.placeholder = isLocked("password") ? t("passwordLockedPlaceholder") : "";
  renderPolicyErrors(resolved.policyErrors);
  setBusy(busy);
  renderIdentities();
}

/**
 * Fills the folder list: the default folder, the folders Thunderbird can file into, and the current choice even
 * when it is not among them (deleted, or not listed yet), so that saving never changes it unasked.
 */
function renderFolderOptions(): void {
  const select = controls.receiveFolder;
  const chosen = dirty.has("receiveFolder") ? select.value : (current?.settings.receiveFolder ?? "");
  const options = [new Option(t("receiveFolderDefault"), "")];
  for (const choice of folderList ?? []) options.push(new Option(text(choice.text), choice.id));
  if (chosen !== "" && !folderList?.some((choice) => choice.id === chosen)) {
    options.push(new Option(folderList ? t("receiveFolderMissing", [clip(chosen, 200)]) : clip(chosen, 200), chosen));
  }
  select.replaceChildren(...options);
  select.value = chosen;
}

async function loadFolders(): Promise<void> {
  const [folders, accounts, info] = await Promise.all([
    messenger.folders.query({ canAddMessages: true }),
    messenger.accounts.list(false),
    messenger.runtime.getBrowserInfo(),
  ]);
  folderList = folderChoices(folders, accounts, Number.parseInt(info.version, 10));
  renderFolderOptions();
}

function setBusy(value: boolean): void {
  busy = value;
  form.setAttribute("aria-busy", String(value));
  for (const key of Object.keys(controls) as SettingKey[]) controls[key].disabled = value || isLocked(key);
  buttons.test.disabled = value;
  buttons.save.disabled = value;
  buttons.discover.disabled = value || isLocked("websocketUrl");
}

const formatTime = (epochMillis: number): string => new Date(epochMillis).toLocaleTimeString(messenger.i18n.getUILanguage());

function renderStatus(status: SessionStatus | null): void {
  statusTextEl.dataset.state = status?.state ?? "unknown";
  statusTextEl.textContent = status === null ? t("statusUnknown") : text(statusText(status, formatTime));
  const lines = status === null ? [] : limitationLines(status, formatTime, (key, subs) => t(key, subs));
  statusTextEl.dataset.limited = String(lines.length > 0);
  showList(statusLimitations, lines);
  const block = status === null ? undefined : limitationsOf(status).find((l) => l.feature === "upload" && l.blocked?.reason === "no-permission");
  const blocked = block?.feature === "upload" ? block.blocked : undefined;
  uploadOrigins = blocked?.origins ?? [];
  allowUploads.hidden = uploadOrigins.length === 0;
  if (blocked) allowUploads.textContent = t("allowUploads", [clip(blocked.host, 100)]);
}

// ---- reading and checking the form --------------------------------------------------------------------

/** The account as it would be saved: locked values come from the policy, never from the (disabled) inputs. */
function readAccount(): AccountInput {
  const settings = current?.settings;
  return {
    jid: isLocked("jid") && settings ? settings.jid : controls.jid.value.trim(),
    password: isLocked("password") ? "" : controls.password.value,
    websocketUrl: isLocked("websocketUrl") && settings ? settings.websocketUrl : controls.websocketUrl.value.trim(),
  };
}

/** Marks every invalid field; returns false (and focuses the first) when something must be fixed. */
function checkAccount(account: AccountInput, fields: readonly ("jid" | "password" | "websocketUrl")[]): boolean {
  const problems: Array<[SettingKey, Text]> = [];
  if (fields.includes("jid")) {
    if (account.jid === "") problems.push(["jid", { key: "jidRequired" }]);
    else {
      const check = validateSetting("jid", account.jid);
      if (!check.ok) problems.push(["jid", settingErrorText(check.error)]);
    }
  }
  if (fields.includes("password") && account.password !== "") {
    const check = validateSetting("password", account.password);
    if (!check.ok) problems.push(["password", settingErrorText(check.error)]);
  }
  if (fields.includes("websocketUrl")) {
    const check = validateSetting("websocketUrl", account.websocketUrl);
    if (!check.ok) problems.push(["websocketUrl", settingErrorText(check.error)]);
  }
  for (const [key, message] of problems) setFieldError(key, message);
  const first = problems[0];
  if (first !== undefined && !isLocked(first[0])) controls[first[0]].focus();
  return problems.length === 0;
}

function readPreferences(): Partial<Settings> {
  const prefs: { -readonly [K in SettingKey]?: Settings[K] } = {};
  if (!isLocked("enabled")) prefs.enabled = controls.enabled.checked;
  const level = LOG_LEVELS.find((l) => l === controls.logLevel.value);
  if (!isLocked("logLevel") && level !== undefined) prefs.logLevel = level;
  const mode = UNKNOWN_SENDER_MODES.find((m) => m === controls.unknownSenders.value);
  if (!isLocked("unknownSenders") && mode !== undefined) prefs.unknownSenders = mode;
  if (!isLocked("receiveFolder")) prefs.receiveFolder = controls.receiveFolder.value;
  const policy = ROUTE_POLICIES.find((m) => m === controls.routePolicy.value);
  if (!isLocked("routePolicy") && policy !== undefined) prefs.routePolicy = policy;
  // An invalid number is passed on as such: the store rejects it and the field shows why.
  if (!isLocked("sendHoldSeconds")) prefs.sendHoldSeconds = controls.sendHoldSeconds.value.trim() === "" ? Number.NaN : Number(controls.sendHoldSeconds.value);
  if (!isLocked("xmppDomains")) prefs.xmppDomains = controls.xmppDomains.value.trim();
  if (!isLocked("announceJid")) prefs.announceJid = controls.announceJid.checked;
  if (!isLocked("learnJids")) prefs.learnJids = controls.learnJids.checked;
  if (!isLocked("e2ePreview")) prefs.e2ePreview = controls.e2ePreview.checked;
  for (const key of ["strangerMailsPerHour", "strangerMailsPerDay", "strangerMaxKiB"] as const) {
    if (!isLocked(key)) prefs[key] = controls[key].value.trim() === "" ? Number.NaN : Number(controls[key].value);
  }
  if (!isLocked("xmppIdentities")) prefs.xmppIdentities = controls.xmppIdentities.value.trim();
  return prefs;
}

function showRequestError(error: unknown): void {
  // Only our own message: an exception's text could, in a buggy handler, echo a payload.
  showResult("error", { key: error instanceof NoReplyError ? "noBackground" : "invalidReply" });
}

// ---- actions ------------------------------------------------------------------------------------------

async function run(action: () => Promise<void>): Promise<void> {
  if (busy) return;
  setBusy(true);
  try {
    await action();
  } catch (error) {
    showRequestError(error);
  } finally {
    setBusy(false);
  }
}

async function save(): Promise<void> {
  clearFieldErrors();
  const account = readAccount();
  const prefs = readPreferences();
  // Switching the add-on off needs no account; anything else does.
  const accountNeeded = account.jid !== "" || (prefs.enabled ?? current?.settings.enabled ?? true);
  if (accountNeeded && !checkAccount(account, ["jid", "password", "websocketUrl"])) return;
  showResult("working", { key: "workingSave" });
  const saved = await store.save(prefs);
  if (!saved.ok) {
    for (const issue of saved.errors) if (isSettingKey(issue.key)) setFieldError(issue.key, settingErrorText(issue.error));
    showResult("error", { key: "saveFailed", subs: [t(SETTING_ERROR_TEXT[saved.errors[0]?.error ?? "wrong-type"])] });
    return;
  }
  if (accountNeeded) {
    const reply = parseSaveReply(await request("saveAccount", account));
    if (reply === null) return showResult("error", { key: "invalidReply" });
    if (!reply.ok) return showResult("error", { key: "saveFailed", subs: [clip(reply.error)] });
  }
  controls.password.value = "";
  dirty.clear();
  showResult("ok", { key: "saveOk" });
  renderSettings(await store.load());
}

async function testConnection(): Promise<void> {
  clearFieldErrors();
  const account = readAccount();
  if (!checkAccount(account, ["jid", "password", "websocketUrl"])) return;
  showResult("working", { key: "workingTest" });
  const reply = parseTestResult(await request("testConnection", account));
  if (reply === null) return showResult("error", { key: "invalidReply" });
  const shown = testResultText(reply);
  const limits = reply.ok ? (reply.limitations ?? []).map((l) => limitationLine(l, formatTime, (key, subs) => t(key, subs))) : [];
  showResult(reply.ok ? "ok" : "error", shown.text, shown.detail, limits);
  if (!reply.ok && reply.kind === "auth" && !isLocked("password")) controls.password.focus();
}

async function discover(): Promise<void> {
  clearFieldErrors();
  const account = readAccount();
  if (!checkAccount(account, ["jid"])) return;
  showResult("working", { key: "workingDiscover" });
  const reply = parseDiscoverReply(await request("discoverWebsocket", { jid: account.jid }));
  if (reply === null) return showResult("error", { key: "invalidReply" });
  if ("error" in reply) {
    const shown = discoverFailureText(reply, jidDomain(account.jid));
    return showResult("error", shown.text, shown.detail);
  }
  // What a server announces is checked like anything the user types: wss://, or ws:// only on loopback.
  const check = validateWebsocketUrl(reply.url);
  if (!check.ok) return showResult("error", { key: "discoverRejected", subs: [t(SETTING_ERROR_TEXT[check.error])] });
  controls.websocketUrl.value = check.href;
  dirty.add("websocketUrl");
  showResult("ok", { key: "discoverOk", subs: [clip(check.href)] });
}

// ---- identities that send over XMPP (xmppIdentities) ----------------------------------------------------

const identityList = byId("xmppIdentities-list", HTMLUListElement);
/** The accounts with their identities; null until (or unless) Thunderbird has listed them. */
let identityAccounts: readonly messenger.accounts.MailAccount[] | null = null;

/** One checkbox per identity address; ticking one edits the text field, which is what is saved. */
function renderIdentities(): void {
  if (identityAccounts === null) return;
  const jid = controls.jid.value.trim();
  const rows = identityRows(identityAccounts, { jid, xmppIdentities: controls.xmppIdentities.value });
  const disabled = controls.xmppIdentities.disabled;
  identityList.replaceChildren(
    ...rows.map((row, i) => {
      const item = document.createElement("li");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.id = `xmppIdentity-${i}`;
      box.checked = row.checked;
      box.disabled = disabled || row.isJid;
      box.dataset.address = row.address;
      box.addEventListener("change", () => {
        controls.xmppIdentities.value = toggleIdentity(controls.xmppIdentities.value, row.address, box.checked, controls.jid.value.trim());
        dirty.add("xmppIdentities");
        setFieldError("xmppIdentities", null);
      });
      const label = document.createElement("label");
      label.htmlFor = box.id;
      label.textContent = row.isJid ? t("xmppIdentityJid", [row.label]) : row.elsewhere ? t("xmppIdentityElsewhere", [row.label]) : row.label;
      item.append(box, label);
      return item;
    }),
  );
}

async function loadIdentities(): Promise<void> {
  identityAccounts = await messenger.accounts.list(false);
  renderIdentities();
}

// ---- end-to-end encryption: this device's fingerprint, correspondents whose key changed --------------------

const e2eOwn = byId("e2e-own", HTMLElement);
const e2eOwnError = byId("e2e-own-error", HTMLElement);
const e2eChanged = byId("e2e-changed", HTMLElement);
const e2eChangedList = byId("e2e-changed-list", HTMLUListElement);
const asText = (lines: ReturnType<typeof ownFingerprintLines>) => lines.map((l) => ({ fingerprint: l.fingerprint, label: text(l.label) }));

async function loadOwnFingerprint(): Promise<void> {
  const view = parseE2eOwnView(await request("e2eOwn", {}).catch(() => null));
  e2eOwn.replaceChildren(...(view ? [fingerprintList(asText(ownFingerprintLines(view)))] : []));
  e2eOwnError.textContent = view ? "" : t("e2eUnavailable");
  e2eOwnError.hidden = view !== null;
}

function changedPeerItem(view: E2ePeerView): HTMLLIElement {
  const summary = peerSummary(view);
  const item = document.createElement("li");
  item.dataset.state = view.state;
  const line = document.createElement("p");
  line.textContent = text(summary.text);
  item.append(line, fingerprintList(asText(peerFingerprintLines(view))));
  if (summary.accept) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = text(summary.accept);
    const failed = document.createElement("p");
    failed.className = "error";
    failed.hidden = true;
    button.addEventListener("click", () => {
      button.disabled = true;
      void request("e2eAccept", { jid: view.jid })
        .catch(() => ({ error: "no reply" }))
        .then(async (reply) => {
          if ("error" in reply) {
            failed.textContent = t("e2eAcceptFailed");
            failed.hidden = false;
            button.disabled = false;
          } else await loadChangedPeers();
        });
    });
    item.append(button, failed);
  }
  return item;
}

/** Nothing is shown when no key changed (or the list cannot be had: the compose window still warns per recipient). */
async function loadChangedPeers(): Promise<void> {
  const peers = parseChangedPeers(await request("e2eChangedPeers", {}).catch(() => null)) ?? [];
  e2eChangedList.replaceChildren(...peers.map(changedPeerItem));
  e2eChanged.hidden = peers.length === 0;
}

// ---- live status --------------------------------------------------------------------------------------

function connectStatus(retries: number): void {
  const port = messenger.runtime.connect({ name: STATUS_PORT });
  port.onMessage.addListener((message: unknown) => {
    const status = parseStatusPush(message);
    if (status !== null) {
      retries = 0;
      renderStatus(status);
    }
  });
  port.onDisconnect.addListener(() => {
    renderStatus(null);
    // Back off (1 s, 2 s, 4 s … 30 s) while the background is away; it pushes the status again on connect.
    setTimeout(() => connectStatus(retries + 1), Math.min(30_000, 1000 * 2 ** retries));
  });
}

// ---- start --------------------------------------------------------------------------------------------

localizePage(document);
applyDocumentLocale(document);

for (const key of Object.keys(controls) as SettingKey[]) {
  const markDirty = (): void => {
    dirty.add(key);
    setFieldError(key, null);
  };
  controls[key].addEventListener("input", markDirty);
  controls[key].addEventListener("change", markDirty);
}
/**
 * Discovery (XEP-0156) reads https://<domain>/.well-known/host-meta. Many servers allow that cross-origin (CORS);
 * for the others the add-on needs permission for that one host, asked only when discovery is about to be used and
 * only from the click itself (the browser shows the prompt only for a user action). A refusal is fine: discovery then
 * still works where the server allows it.
 */
function askDiscoveryPermission(always: boolean): Promise<boolean> {
  if (!always && controls.websocketUrl.value.trim() !== "") return Promise.resolve(false);
  const jid = controls.jid.value.trim();
  const domain = jidDomain(jid).toLowerCase();
  if (validateSetting("jid", jid).ok === false || domain === "" || isLocalhostName(domain)) return Promise.resolve(false);
  return messenger.permissions.request({ origins: [`https://${domain}/*`] }).catch(() => false);
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const asked = askDiscoveryPermission(false);
  void run(async () => {
    await asked;
    await save();
  });
});
buttons.test.addEventListener("click", () => {
  const asked = askDiscoveryPermission(false);
  void run(async () => {
    await asked;
    await testConnection();
  });
});
buttons.discover.addEventListener("click", () => {
  const asked = askDiscoveryPermission(true);
  void run(async () => {
    await asked;
    await discover();
  });
});

// The permission prompt appears only inside the click itself: ask first, synchronously. After "Allow" the background
// checks the upload host again by itself and pushes a status without the limitation.
allowUploads.addEventListener("click", () => {
  // (messenger.permissions directly, not platform/upload-permission.ts: that module would pull xmpp.js into this page)
  const asked = messenger.permissions.request({ origins: [...uploadOrigins] }).catch(() => false);
  void asked.then((granted) => {
    if (!granted) showResult("error", { key: "uploadPermissionRefused" });
  });
});

controls.xmppIdentities.addEventListener("input", renderIdentities);
controls.jid.addEventListener("input", renderIdentities);
loadIdentities().catch(() => undefined);

const loadFailed = (): void => showResult("error", { key: "settingsLoadFailed" });
store.onChange(renderSettings, loadFailed);
store.load().then(renderSettings, loadFailed);
loadFolders().catch(() => {
  // A note, not a field error: the stored choice is still valid, only the list of alternatives is missing.
  const note = byId("receiveFolder-error", HTMLElement);
  note.textContent = t("receiveFolderListFailed");
  note.hidden = false;
  describe("receiveFolder");
});

void loadOwnFingerprint();
void loadChangedPeers();

renderStatus(null);
request("getStatus", {}).then(
  (status) => renderStatus(parseSessionStatus(status)),
  () => renderStatus(null),
);
connectStatus(0);
