import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { TesseraError } from '../../api/protocol/errors.ts';

const INSTALL_SCRIPT = fileURLToPath(new URL('../install-system-packages.sh', import.meta.url));

/** Whether headless-gl's native module is built (npm skips or fails its build without the Debian packages). */
export function glBuilt(): boolean {
  try {
    const pkg = createRequire(import.meta.url).resolve('gl/package.json');
    return existsSync(join(dirname(pkg), 'build', 'Release', 'webgl.node'));
  } catch {
    return false;
  }
}

/** `tessera setup`: install the Debian packages headless-gl needs (infra/apt-packages.txt), then say what is left. */
export function setupCommand(): Command {
  return new Command('setup')
    .description('Install the Debian packages render nodes need (X11/GL headers, a C++ toolchain, Xvfb), with sudo when not root.')
    .action(() => {
      const r = spawnSync('bash', [INSTALL_SCRIPT], { stdio: 'inherit' });
      if (r.status !== 0) throw new TesseraError('INTERNAL', `installing the Debian packages failed (${INSTALL_SCRIPT} exited ${r.status ?? r.signal})`);
      if (!glBuilt()) {
        process.stderr.write('setup: headless-gl is not built yet: run `npm rebuild gl` in the folder Tessera is installed in\n');
        process.exitCode = 1;
        return;
      }
      process.stderr.write('setup: ready; check a render node with `tessera node doctor --api URL`\n');
    });
}
