import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RENDER_HOST_DIST } from '../../render-node/chromium/chromium-render-host.ts';
import { ROOT } from './tessera-cli.ts';

/**
 * Whether web/dist holds the render host page, the Basis transcoder it loads (a build from before KTX2 on Chromium
 * lacks it), /join's Basis worker (a build from before the pages ran the current three lacks it) and the session
 * calls of the render host (a build from before sessions ran on Chromium, or before sessionDraw, lacks them).
 */
function renderHostBuilt(): boolean {
  if (!existsSync(join(RENDER_HOST_DIST, 'render-host.html'))) return false;
  try {
    const assets = readdirSync(join(RENDER_HOST_DIST, 'assets'));
    // A build from before sessions ran on Chromium has no sessionFrame in its render host bundle; one from before their
    // encode overlapped the next draw, no sessionDraw.
    const host = assets.find((f) => /^renderHost-.*\.js$/.test(f));
    // (One from before the page's test fault hook, testFault, cannot show a poisoned page being reset.)
    // …and one from before batch renders took a session pose (ViewSpec.pose, to verify session frames) ignores it.
    // (FrameRenderer may sit in a chunk shared with other pages: look in every script.)
    const code = host ? readFileSync(join(RENDER_HOST_DIST, 'assets', host), 'utf8') : '';
    const knowsPose = assets.some((f) => f.endsWith('.js') && readFileSync(join(RENDER_HOST_DIST, 'assets', f), 'utf8').includes('A session pose is drawn'));
    return assets.some((f) => /^basis_transcoder-.*\.wasm$/.test(f)) && assets.some((f) => /^basis-worker-.*\.js$/.test(f)) && code.includes('sessionFrame') && code.includes('sessionDraw') && code.includes('testFault') && knowsPose;
  } catch {
    return false;
  }
}

/** Build the Chromium backend's page (web/dist/render-host.html and its assets) when it is missing or stale. */
export function ensureRenderHostBuilt(): void {
  if (!renderHostBuilt()) execFileSync('npm', ['run', '--silent', 'build:web'], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * The three.js revision the browser pages run (`three-latest`, which web/vite.config.ts puts in place of `three`):
 * what the Chromium backend's and a /join tab's identity name (`three/187`).
 */
export const BROWSER_THREE_REVISION = String((JSON.parse(readFileSync(join(ROOT, 'node_modules', 'three-latest', 'package.json'), 'utf8')) as { version: string }).version.split('.')[1]);
