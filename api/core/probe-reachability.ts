/**
 * Reachability of a node's advertised probe URL, checked from the API so that a node behind NAT or a firewall
 * learns it before it takes work. Bounded so the API cannot be used to scan or reach other services: only
 * http(s) URLs whose path is `/ping`, no literal loopback, private or link-local addresses (unless allowed, for
 * farms on one machine or a LAN), no redirects, a short timeout, a tiny body cap, and reachable only when the
 * answer is the node's own: its id and its HMAC of the API's nonce under the probe key only it holds. An answer
 * that speaks as the node without that proof is a forgery (the route convicts the node). A negative answer is
 * returned no sooner than the timeout, so its timing says nothing about whether something else listens there.
 * Runtime-free: `fetch` comes in.
 */
import { newProbeNonce, verifyProbeProof } from '../protocol/probe-proof.ts';
import { embeddedIpv4, parseIpAddress } from '../protocol/parse-ip-address.ts';
import { readAtMost } from '../protocol/read-at-most.ts';

export interface ProbeCheckOptions {
  /** How long the API waits for the probe's answer; negative answers take exactly this long. */
  timeoutMs: number;
  /** Allow probe URLs naming loopback, private (RFC 1918, ULA) and link-local addresses. */
  allowPrivateAddresses: boolean;
  /** Checks per node per minute (burst 2). */
  perNodePerMinute: number;
  /** Checks per API process per minute (burst 10), whoever asks. */
  perProcessPerMinute: number;
}

export const PROBE_CHECK_DEFAULTS: ProbeCheckOptions = {
  timeoutMs: 3000,
  allowPrivateAddresses: false,
  perNodePerMinute: 6,
  perProcessPerMinute: 60,
};

/** Largest probe answer read (a `{"nodeId": …}` is well under it). */
const MAX_ANSWER_BYTES = 1024;

/**
 * Whether `hostname` (as URL.hostname gives it, or an address a name resolved to) is localhost or a literal loopback,
 * private, shared (100.64/10), link-local, unspecified or multicast address, IPv4 carried in IPv6 (mapped,
 * IPv4-compatible, NAT64, 6to4) judged by its IPv4. A name is not judged here: public-only-fetch.ts resolves it.
 */
export function isPrivateHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const ip = parseIpAddress(h);
  if (!ip) return false;
  if ('v4' in ip) return isPrivateV4(ip.v4);
  const g = ip.v6;
  if (g.slice(0, 7).every((x) => x === 0) && g[7] <= 1) return true; // :: and ::1
  const v4 = embeddedIpv4(g);
  if (v4) return isPrivateV4(v4);
  return (g[0] & 0xfe00) === 0xfc00 || (g[0] & 0xffc0) === 0xfe80 || (g[0] & 0xff00) === 0xff00;
}

function isPrivateV4([a, b]: readonly number[]): boolean {
  return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127) || a >= 224;
}

/** Why a probe URL may not be checked at all (a sentence), or null when it may. */
export function refuseProbeUrl(probeUrl: string | undefined, options: Pick<ProbeCheckOptions, 'allowPrivateAddresses'>): string | null {
  if (!probeUrl) return 'The node advertised no probe URL; start it with --probe-url set to the address clients reach.';
  let url: URL;
  try {
    url = new URL(probeUrl);
  } catch {
    return `The probe URL ${probeUrl} is not a URL.`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `The probe URL must be http or https, not ${url.protocol}`;
  if (url.username || url.password) return 'The probe URL may not carry credentials.';
  if (url.pathname !== '/ping') return `The probe URL's path must be /ping (the node's probe server), not ${url.pathname}.`;
  if (!options.allowPrivateAddresses && isPrivateHost(url.hostname)) {
    return `The probe URL ${probeUrl} names a loopback or private address, which clients elsewhere cannot reach: set --probe-url to the node's public address (this API checks only public addresses).`;
  }
  return null;
}

/**
 * What a reachability check found: `answered` (the node's own answer: its id and, when it has a probe key, its
 * HMAC of the API's nonce), `forged` (an answer speaking as the node — its id, or the nonce — without its key's
 * proof: whatever answers there is not the node), or `unreachable` (nothing, or something else, answered).
 */
export type ProbeVerdict = 'answered' | 'forged' | 'unreachable';

/**
 * Fetch `probeUrl` once with a fresh challenge (`?nonce=`) and judge the answer (see ProbeVerdict); a node without
 * a probe key (registered before keys) only has to name itself. Never throws; a verdict other than `answered`
 * resolves at `timeoutMs` after the start, whatever happened.
 */
export async function probeChallenge(
  probeUrl: string,
  node: { nodeId: string; probeKey?: string | null },
  options: Pick<ProbeCheckOptions, 'timeoutMs'>,
  fetcher: typeof fetch = fetch,
): Promise<ProbeVerdict> {
  const started = Date.now();
  const verdict = await (async (): Promise<ProbeVerdict> => {
    try {
      const nonce = newProbeNonce();
      const target = new URL(probeUrl);
      target.searchParams.set('nonce', nonce);
      const res = await fetcher(target.toString(), { method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(options.timeoutMs), headers: { accept: 'application/json' } });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel().catch(() => {});
        return 'unreachable';
      }
      const body = await readAtMost(res, MAX_ANSWER_BYTES);
      if (!body) return 'unreachable';
      const answer = JSON.parse(new TextDecoder().decode(body)) as { nodeId?: unknown; nonce?: unknown; proof?: unknown } | null;
      const named = answer?.nodeId === node.nodeId;
      const echoed = answer?.nonce === nonce;
      if (!node.probeKey) return named ? 'answered' : 'unreachable';
      if (echoed && typeof answer?.proof === 'string' && (await verifyProbeProof(node.probeKey, nonce, answer.proof))) return 'answered';
      return named || echoed ? 'forged' : 'unreachable';
    } catch {
      return 'unreachable';
    }
  })();
  if (verdict !== 'answered') {
    const left = options.timeoutMs - (Date.now() - started);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
  return verdict;
}
