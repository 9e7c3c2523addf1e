/** The dashboard's files beside the API on Node: caching, content types, and nothing outside the folder. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withWebAssets } from '../../api/node/web-assets.ts';

const root = mkdtempSync(join(tmpdir(), 'tessera-web-assets-'));
mkdirSync(join(root, 'assets'));
writeFileSync(join(root, 'index.html'), '<!doctype html><title>Tessera</title>');
writeFileSync(join(root, 'assets', 'index-AbC123.js'), 'console.log(1)');
writeFileSync(join(root, 'secret.env'), 'x');
writeFileSync(join(tmpdir(), 'outside-web-root.txt'), 'outside');

const api = (req: Request) => new Response(`api ${req.method} ${new URL(req.url).pathname}`, { status: 404 });
const serve = withWebAssets(api, root);
const get = (path: string, method = 'GET') => serve(new Request(`http://127.0.0.1${path}`, { method }));

describe('withWebAssets', () => {
  it('serves the page with no-cache and hashed assets as immutable', async () => {
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<title>Tessera</title>');
    expect(page.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    const js = await get('/assets/index-AbC123.js');
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers HEAD without a body', async () => {
    const head = await get('/assets/index-AbC123.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('leaves /v1, other methods and missing files to the API', async () => {
    expect(await (await get('/v1/health')).text()).toBe('api GET /v1/health');
    expect(await (await get('/', 'POST')).text()).toBe('api POST /');
    expect(await (await get('/assets/missing.js')).text()).toBe('api GET /assets/missing.js');
    expect(await (await get('/join')).text()).toBe('api GET /join');
  });

  it('never reaches outside its folder', async () => {
    for (const path of ['/assets/..%2f..%2foutside-web-root.txt', '/../outside-web-root.txt', '/assets/..%5c..%5coutside-web-root.txt', '/.hidden', '/a/b.js', '/assets/x%00.js']) {
      const res = await get(path);
      expect(await res.text(), path).toMatch(/^api GET /);
    }
    // Files at the top of the folder are served (favicon, robots.txt); the folder is the build output only.
    expect((await get('/secret.env')).status).toBe(200);
  });
});
