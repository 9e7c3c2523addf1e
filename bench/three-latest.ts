import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ThreeLatest {
  /** The three package folder (has build/three.module.js and examples/jsm). */
  dir: string;
  version: string;
  /** How it was found. */
  via: string;
}

function threePackageAt(dir: string): ThreeLatest | undefined {
  for (const candidate of [dir, join(dir, 'node_modules', 'three')]) {
    const pkg = join(candidate, 'package.json');
    if (!existsSync(pkg) || !existsSync(join(candidate, 'build', 'three.module.js'))) continue;
    const json = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
    if (json.name === 'three') return { dir: candidate, version: json.version ?? 'unknown', via: candidate };
  }
  return undefined;
}

/**
 * Find the latest three.js for the browser baseline: the `three-latest` npm alias (`"three-latest": "npm:three@…"`
 * in devDependencies) first, else the folder in THREE_LATEST_DIR / --three-latest (a three package, or a folder
 * with node_modules/three, e.g. after `cd /tmp/three-latest && npm init -y && npm i three@latest`).
 */
export function findThreeLatest(repoRoot: string, overrideDir?: string): ThreeLatest | { error: string } {
  try {
    const require = createRequire(join(repoRoot, 'package.json'));
    let dir = dirname(require.resolve('three-latest'));
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    const found = threePackageAt(dir);
    if (found) return { ...found, via: 'three-latest (node_modules)' };
  } catch {
    // not installed: fall back to the folder
  }
  if (overrideDir) {
    const found = threePackageAt(overrideDir);
    if (found) return { ...found, via: `THREE_LATEST_DIR=${overrideDir}` };
    return { error: `THREE_LATEST_DIR=${overrideDir} holds no three package (want build/three.module.js)` };
  }
  return {
    error:
      'the latest three.js is not installed: add "three-latest": "npm:three@latest" to devDependencies, ' +
      'or run `mkdir -p /tmp/three-latest && cd /tmp/three-latest && npm init -y && npm i three@latest` and set THREE_LATEST_DIR=/tmp/three-latest',
  };
}
