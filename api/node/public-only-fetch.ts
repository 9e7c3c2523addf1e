/**
 * The fetch the Node API probes nodes' URLs with when private addresses are not allowed: it connects only to public
 * addresses, judged on what the name resolves to at connect time. The URL check (refuseProbeUrl) sees only the
 * spelling, so a DNS name that points at 127.0.0.1 or 10.x (the host's own name, a wildcard DNS service, a name
 * re-pointed after the check) reached loopback and private services before. Workers need none: their fetch does
 * not reach private networks. Enough of fetch for probes: GET, headers, a signal, the status and the body stream.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import { isPrivateHost } from '../core/probe-reachability.ts';

/** How names are resolved (node:dns lookup, with `all`); tests may pass their own. */
export type ResolveAll = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const resolveAll: ResolveAll = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

const shown = (a: LookupAddress) => (a.family === 6 ? `[${a.address}]` : a.address);

function refused(what: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${what} is a loopback, private or link-local address; this API probes public addresses only`), { code: 'EPRIVATEADDRESS' });
}

/** A socket lookup that resolves every address of the name and refuses the name if any of them is private. */
export function publicOnlyLookup(resolve: ResolveAll = resolveAll): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const inside = addresses.find((a) => isPrivateHost(shown(a)));
      if (inside || addresses.length === 0) return callback(refused(`${hostname} resolves to ${inside ? inside.address : 'nothing'}, which`), '', 0);
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      const wanted = options.family === 6 || options.family === 4 ? addresses.find((a) => a.family === options.family) : undefined;
      const a = wanted ?? addresses[0];
      callback(null, a.address, a.family);
    });
  };
}

/** A fetch (enough of one for probes) that never connects to a private address. */
export function createPublicOnlyFetch(resolve?: ResolveAll): typeof fetch {
  const lookup = publicOnlyLookup(resolve);
  return ((input: string | URL | Request, init?: RequestInit) =>
    new Promise<Response>((resolvePromise, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // Literal addresses never reach the lookup.
      if (isIP(host) && isPrivateHost(url.hostname)) return reject(refused(url.hostname));
      const transport = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!transport) return reject(new TypeError(`cannot fetch ${url.protocol} URLs`));
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, name) => (headers[name] = value));
      const req = transport.request(url, { method: init?.method ?? 'GET', headers, lookup, signal: init?.signal ?? undefined }, (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          return reject(new Error(`HTTP status ${status}`));
        }
        const out = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) out.set(name, Array.isArray(value) ? value.join(', ') : value);
        const empty = status === 204 || status === 304 || init?.method === 'HEAD';
        if (empty) res.resume();
        resolvePromise(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: out }));
      });
      req.on('error', reject);
      req.end();
    })) as typeof fetch;
}
