// Finding the programs the tests drive (prosody, thunderbird, Xvfb, xdotool) on PATH.
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The executable's path: `name` itself when it contains a slash and exists, else the first match on PATH. */
export function findOnPath(name: string): string | null {
  if (name.includes("/")) return existsSync(name) ? name : null;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
