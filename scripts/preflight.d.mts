// Types of scripts/preflight.mjs (plain JavaScript: it must run before the npm packages are installed).
export interface Probe {
  command(name: string): boolean;
  file(file: string): boolean;
  dirWithPrefix(dir: string, prefix: string): boolean;
  mtime(file: string): number | null;
}
export declare const SETUP_COMMAND: string;
export declare const SYSTEM_PACKAGES: ReadonlyArray<{ pkg: string; cmd?: string; file?: string; dirPrefix?: [string, string] }>;
export declare function createProbe(options?: { path?: string; fileRoot?: string }): Probe;
export declare function missingPackages(probe: Probe): string[];
export declare function npmPackagesState(probe: Probe, root: string): "ok" | "missing" | "stale";
export declare function preflight(options: { probe: Probe; root: string; what?: string; nodeVersion?: string }): string | null;
