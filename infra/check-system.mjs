#!/usr/bin/env node
// The package's preinstall check (plain Node, no dependencies: it runs before any are installed). npm runs every
// preinstall before any install script, so a machine without the Debian packages headless-gl builds against
// gets one message naming them and the apt-get line, instead of a node-gyp compiler error from gl.
// `TESSERA_SKIP_SYSTEM_CHECK=1` skips it (e.g. a non-Debian system with the equivalents installed).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const LIST = fileURLToPath(new URL('./apt-packages.txt', import.meta.url));

/** The Debian packages in infra/apt-packages.txt (one list for setup and this check). */
export function aptPackages() {
  return readFileSync(LIST, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
}

function installed(pkg) {
  try {
    return execFileSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('install ok installed');
  } catch {
    return false;
  }
}

function hasCommand(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Problems that would stop Tessera installing or rendering, each `{ problem, fix }`; empty when none. */
export function systemProblems() {
  const problems = [];
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 9)) {
    problems.push({ problem: `Node ${process.versions.node} is too old`, fix: 'install Node 20.9 or newer (e.g. from nodesource or nvm)' });
  }
  // Elsewhere (macOS: headless-gl builds with Xcode's tools) this check has nothing to say; render nodes are
  // only supported on Linux, which the README says.
  if (process.platform !== 'linux') return problems;
  const packages = aptPackages();
  if (hasCommand('dpkg-query')) {
    const missing = packages.filter((p) => !installed(p));
    if (missing.length) {
      problems.push({
        problem: `headless-gl needs Debian packages that are missing: ${missing.join(' ')}`,
        fix: `sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}`,
      });
    }
  } else {
    const tools = ['pkg-config', 'make', 'g++', 'python3', 'Xvfb'].filter((c) => !hasCommand(c));
    if (tools.length) {
      problems.push({ problem: `missing tools: ${tools.join(' ')} (not Debian: no dpkg-query to check packages)`, fix: `install your system's equivalents of: ${packages.join(' ')}` });
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.env.TESSERA_SKIP_SYSTEM_CHECK === '1') process.exit(0);
  const problems = systemProblems();
  if (problems.length) {
    process.stderr.write('\ntessera: this machine cannot build or run Tessera yet:\n');
    for (const p of problems) process.stderr.write(`  - ${p.problem}\n    fix: ${p.fix}\n`);
    process.stderr.write('  then run the install again (set TESSERA_SKIP_SYSTEM_CHECK=1 to skip this check).\n\n');
    process.exit(1);
  }
}
