// This package's own root directory and version, found at run time by walking up to its
// package.json: the same code runs from src/ (ts-node, a checkout) and from dist/src/ (an installed
// package), at different depths.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

export const PACKAGE_NAME = 'temporal-governance';

const PackageJsonSchema = z.object({ name: z.string(), version: z.string() });

/** The directory holding this package's package.json, or undefined if none is above this file. */
export function findPackageRoot(from: string = __dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed = PackageJsonSchema.safeParse(JSON.parse(readFileSync(manifest, 'utf8')));
      if (parsed.success && parsed.data.name === PACKAGE_NAME) return dir;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

let version: string | null | undefined;

/** This package's version, or undefined if its package.json cannot be found. */
export function findPackageVersion(): string | undefined {
  if (version === undefined) {
    const root = findPackageRoot();
    version = root ? PackageJsonSchema.parse(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))).version : null;
  }
  return version ?? undefined;
}
