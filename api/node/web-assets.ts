/**
 * The web dashboard's built files (web/dist, from `npm run build:web`) served beside the API on Node, with the
 * caching Workers static assets give them on the edge (web/public/_headers): hashed files under /assets/ are
 * immutable for a year, pages are revalidated every time. Only names made of plain characters are looked up,
 * so a request cannot reach outside the folder.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build:web` writes the dashboard. */
export const WEB_DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const IMMUTABLE = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';
/** Pages without the .html (as Workers assets' default html_handling serves them). */
const PAGES: Record<string, string> = { '/': 'index.html', '/join': 'join.html' };
const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Whether the dashboard has been built into `root`. */
export function hasWebAssets(root = WEB_DIST): boolean {
  return existsSync(join(root, 'index.html'));
}

/**
 * Wrap an API's fetch so that GET/HEAD requests for the dashboard's files are answered from `root`; anything
 * else (and any file not there) goes to the API.
 */
export function withWebAssets<A extends unknown[]>(apiFetch: (req: Request, ...rest: A) => Response | Promise<Response>, root = WEB_DIST) {
  return async function fetchWithWebAssets(req: Request, ...rest: A): Promise<Response> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return apiFetch(req, ...rest);
    const path = new URL(req.url).pathname;
    const file = fileFor(path);
    if (!file) return apiFetch(req, ...rest);
    let body: Buffer;
    try {
      body = await readFile(join(root, file.name));
    } catch {
      return apiFetch(req, ...rest);
    }
    const headers: Record<string, string> = {
      'content-type': CONTENT_TYPES[extname(file.name)] ?? 'application/octet-stream',
      'cache-control': file.immutable ? IMMUTABLE : REVALIDATE,
      'x-content-type-options': 'nosniff',
    };
    // Pages hold the API key: no framing by other sites (the rest of the CSP is in the page's meta tag).
    if (file.name.endsWith('.html')) Object.assign(headers, { 'content-security-policy': "frame-ancestors 'none'", 'x-frame-options': 'DENY' });
    return new Response(req.method === 'HEAD' ? null : new Uint8Array(body), { status: 200, headers });
  };
}

function fileFor(path: string): { name: string; immutable: boolean } | undefined {
  if (path.startsWith('/v1/')) return undefined;
  const page = PAGES[path] ?? PAGES[path.replace(/\/$/, '')];
  if (page) return { name: page, immutable: false };
  const asset = /^\/assets\/([^/]+)$/.exec(path);
  if (asset) return PLAIN_NAME.test(asset[1]) ? { name: `assets/${asset[1]}`, immutable: true } : undefined;
  const top = /^\/([^/]+)$/.exec(path);
  return top && PLAIN_NAME.test(top[1]) ? { name: top[1], immutable: false } : undefined;
}
