// Reads and writes the settings in storage.local, merged with the enterprise policy in storage.managed.
// A thin adapter over src/core/settings.ts; the storage object is injected so tests can pass a fake.
import {
  checkUpdate,
  migrate,
  resolveSettings,
  SETTING_KEYS,
  SETTINGS_VERSION,
  SETTINGS_VERSION_KEY,
  type ResolvedSettings,
  type SettingIssue,
  type Settings,
} from "../core/settings.js";

export type { ResolvedSettings } from "../core/settings.js";

export interface StorageChangeLike {
  readonly oldValue?: unknown;
  readonly newValue?: unknown;
}
export type StorageChangeListener = (changes: Readonly<Record<string, StorageChangeLike>>, areaName: string) => void;

/** The part of `messenger.storage` this module uses. */
export interface StorageLike {
  readonly local: {
    get(keys: string[]): Promise<Record<string, unknown>>;
    set(items: Record<string, unknown>): Promise<void>;
    remove(keys: string[]): Promise<void>;
  };
  /**
   * Read-only in Gecko. `get` rejects ("Managed storage manifest not found") when neither a policy nor a
   * managed-storage manifest names this add-on, and for temporarily loaded add-ons.
   */
  readonly managed: {
    get(keys?: string[]): Promise<Record<string, unknown>>;
  };
  readonly onChanged: {
    addListener(listener: StorageChangeListener): void;
    removeListener(listener: StorageChangeListener): void;
  };
}

export type SaveResult =
  | { readonly ok: true; readonly resolved: ResolvedSettings }
  | { readonly ok: false; readonly errors: readonly SettingIssue[] };

export interface SettingsStore {
  /** The effective settings: defaults < user values < policy values (which lock their keys). */
  load(): Promise<ResolvedSettings>;
  /**
   * Validates every value and refuses unknown keys and changes to locked keys (a locked key given its current
   * policy value is accepted and not written); writes nothing unless all are acceptable.
   */
  save(update: Partial<Settings>): Promise<SaveResult>;
  /**
   * Calls `listener` with the new effective settings after a change of a setting key in storage.local (or
   * a "managed" change, which Gecko 153 never fires: it reads managed storage once per add-on start).
   * Registers synchronously; returns a function that unregisters.
   */
  onChange(listener: (resolved: ResolvedSettings) => void, onError?: (error: unknown) => void): () => void;
}

const LOCAL_KEYS: string[] = [...SETTING_KEYS, SETTINGS_VERSION_KEY];

export function createSettingsStore(storage: StorageLike = messenger.storage): SettingsStore {
  async function readManaged(): Promise<Record<string, unknown> | undefined> {
    try {
      return await storage.managed.get();
    } catch {
      // Thunderbird rejects ("Managed storage manifest not found") when no policy names this add-on.
      return undefined;
    }
  }

  async function readAll(): Promise<{ local: Record<string, unknown>; managed: Record<string, unknown> | undefined }> {
    const [local, managed] = await Promise.all([storage.local.get(LOCAL_KEYS), readManaged()]);
    return { local, managed };
  }

  async function load(): Promise<ResolvedSettings> {
    const { local, managed } = await readAll();
    const migrated = migrate(local);
    if (migrated.from < migrated.version) {
      // Write the migrated layout back once, so later versions start from it; drop values that failed validation.
      await storage.local.set({ ...migrated.settings, [SETTINGS_VERSION_KEY]: migrated.version });
      const dropped = SETTING_KEYS.filter((k) => Object.hasOwn(local, k) && !Object.hasOwn(migrated.settings, k));
      if (dropped.length > 0) await storage.local.remove(dropped);
    }
    return resolveSettings(local, managed);
  }

  async function save(update: Partial<Settings>): Promise<SaveResult> {
    const { local, managed } = await readAll();
    const current = resolveSettings(local, managed);
    const checked = checkUpdate(update, current);
    if (!checked.ok) return { ok: false, errors: checked.errors };
    // Never stamp an older layout version over data written by a newer add-on version.
    const version = Math.max(migrate(local).version, SETTINGS_VERSION);
    await storage.local.set({ ...checked.values, [SETTINGS_VERSION_KEY]: version });
    return { ok: true, resolved: resolveSettings({ ...local, ...checked.values, [SETTINGS_VERSION_KEY]: version }, managed) };
  }

  function onChange(listener: (resolved: ResolvedSettings) => void, onError: (error: unknown) => void = () => {}): () => void {
    let latest = 0;
    const relevant = new Set(LOCAL_KEYS);
    const handler: StorageChangeListener = (changes, areaName) => {
      if (areaName === "local" ? !Object.keys(changes).some((k) => relevant.has(k)) : areaName !== "managed") return;
      const mine = ++latest;
      load().then(
        (resolved) => {
          // Loads can finish out of order; only the newest one reports.
          if (mine === latest) listener(resolved);
        },
        onError,
      );
    };
    storage.onChanged.addListener(handler);
    return () => storage.onChanged.removeListener(handler);
  }

  return { load, save, onChange };
}
