import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RENDER_HOST_DIST } from '../../render-node/chromium/chromium-render-host.ts';
import { ROOT } from './tessera-cli.ts';

/** Build the Chromium backend's page (web/dist/render-host.html) when it is not there (a clean clone). */
export function ensureRenderHostBuilt(): void {
  if (!existsSync(join(RENDER_HOST_DIST, 'render-host.html'))) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'inherit' });
}
