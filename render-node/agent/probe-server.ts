import { probeProof } from './test-fault.ts';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ProbeServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Interface to listen on (default every interface: clients elsewhere must reach it). */
  host?: string;
  /** The URL clients and peers should ping, when it differs from where this server listens (a proxy, NAT). */
  publicUrl?: string;
  /** Serve https (and so wss:// sessions) with this PEM certificate and key. */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

export interface ProbeServer {
  /** The URL advertised in the node's card (the full URL of GET /ping). */
  readonly url: string;
  readonly port: number;
  /** The node's public server itself (session WebSockets upgrade on it). */
  readonly server: Server;
  /** The base URL session WebSockets use: `ws://` or `wss://` as this server speaks plain HTTP or TLS. */
  readonly sessionUrl: string;
  /** Answer pings with this node id (known after registration), and challenges with this probe key. */
  setNodeId(nodeId: string, probeKey?: string): void;
  close(): Promise<void>;
}

/** `GET /ping` of a URL given as a base (`http://host:port`) or as the full ping URL. */
export function pingUrlOf(url: string): string {
  const u = new URL(url);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/ping';
  return u.toString();
}

/**
 * The node's probe endpoint: `GET /ping` answers `{"nodeId": …}` at once, to anyone (CORS `*`, no auth,
 * no caching), so clients and peers can time a round trip to this node; `GET /ping?nonce=N` adds
 * `proof` = HMAC-SHA256(probe key, N), the answer only this node can give (the API checks it before it
 * trusts the RTT). Nothing else is served.
 */
export async function startProbeServer(options: ProbeServerOptions = {}): Promise<ProbeServer> {
  let nodeId: string | null = null;
  let probeKey: string | undefined;
  let body = JSON.stringify({ nodeId: null });
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('timing-allow-origin', '*');
    if (path !== '/ping') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': '*', 'access-control-max-age': '600' }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD, OPTIONS' }).end();
      return;
    }
    const nonce = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('nonce');
    // Only well-formed nonces are answered (ProbeNonce's rule), so the server signs nothing of size.
    const answer =
      nonce && probeKey && /^[A-Za-z0-9_-]{16,128}$/.test(nonce)
        ? JSON.stringify({ nodeId, nonce, proof: probeProof(probeKey, nonce) })
        : body;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(answer) });
    res.end(req.method === 'HEAD' ? undefined : answer);
  };
  // https.Server is an http.Server with TLS underneath: the same handler and upgrade events.
  const server: Server = options.tls ? (createHttpsServer({ cert: options.tls.cert, key: options.tls.key }, handler) as unknown as Server) : createServer(handler);
  // Pings are tiny and come in bursts from the same client: keep connections for the next sample.
  server.keepAliveTimeout = 10_000;
  const host = options.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // Listening everywhere: advertise loopback unless told better (set the probe URL on a real farm).
  const advertisedHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = pingUrlOf(options.publicUrl ?? `${options.tls ? 'https' : 'http'}://${advertisedHost}:${port}`);
  const base = new URL(url);
  const sessionUrl = `${base.protocol === 'https:' ? 'wss' : 'ws'}://${base.host}`;
  server.unref();
  return {
    url,
    port,
    server,
    sessionUrl,
    setNodeId(id, key) {
      nodeId = id;
      probeKey = key;
      body = JSON.stringify({ nodeId });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
