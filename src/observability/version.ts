// The package's own name and version, for the OpenTelemetry meter and tracer (instrumentation scope).
// Read from package.json at run time, looked up from this file upward: the same code runs from
// src/ (ts-node, tests) and from dist/src/ (the published build), at different depths.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

export const PACKAGE_NAME = 'temporal-governance';

const PackageJsonSchema = z.object({ name: z.string(), version: z.string() });

let cached: string | undefined;

/** The installed version of temporal-governance; 'unknown' if its package.json cannot be found. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  cached = 'unknown';
  for (let dir = __dirname, parent = dirname(dir); ; dir = parent, parent = dirname(dir)) {
    try {
      const parsed = PackageJsonSchema.safeParse(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')));
      if (parsed.success && parsed.data.name === PACKAGE_NAME) {
        cached = parsed.data.version;
        break;
      }
    } catch {
      // no package.json here: look further up
    }
    if (parent === dir) break;
  }
  return cached;
}
