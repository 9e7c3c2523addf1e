import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.glb': 'model/gltf-binary',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A tiny HTTP server on 127.0.0.1 (random port) for the browser baseline: `files` maps exact URL paths to
 * files, `dirs` maps URL prefixes (ending in /) to folders; `buffers` serves bytes from memory. Nothing else.
 */
export async function startStaticServer(routes: { files?: Record<string, string>; dirs?: Record<string, string>; buffers?: Record<string, Uint8Array> }): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const buf = routes.buffers?.[path];
    if (buf) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': buf.byteLength, 'cache-control': 'no-store' });
      res.end(buf);
      return;
    }
    let file = routes.files?.[path];
    if (!file) {
      for (const [prefix, dir] of Object.entries(routes.dirs ?? {})) {
        if (!path.startsWith(prefix)) continue;
        const root = resolve(dir);
        const candidate = resolve(root, normalize(path.slice(prefix.length)));
        if (candidate.startsWith(root + sep)) file = candidate;
        break;
      }
    }
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end(`not found: ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size, 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((ok) => server.close(() => ok())),
  };
}
