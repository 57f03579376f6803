import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's directory: the nearest one above this module that holds a package.json. This module
 * is src/package-dir.ts when run from sources and part of a chunk under dist/ when built, so paths
 * of the package (console/dist, dist/store-template-…) are taken from here, not from import.meta.url.
 */
export function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
