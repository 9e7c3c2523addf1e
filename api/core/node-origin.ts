/**
 * Where a node registered from, as the API saw it: the network of the address its registration came from (the
 * socket's peer on Node, CF-Connecting-IP on Workers: node-admission.ts clientAddress) and the join token it carried.
 * Nodes that share either may be one operator's; session-vote-trust.ts counts such references as one voice.
 */
import type { NodeOrigin } from './job-store.ts';

/**
 * An address's network: IPv4 /24, IPv6 /48 (what one customer of a host or an ISP usually holds; an IPv4-mapped
 * IPv6 address is its IPv4), `unknown` for anything else. Cheap to vary for a determined operator (another host),
 * so it only groups the nodes an operator did not bother to spread; the trust rule does the rest.
 */
export function addressNetwork(address: string): string {
  const a = address.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (v4 && v4.slice(1).every((p) => Number(p) <= 255)) return `${Number(v4[1])}.${Number(v4[2])}.${Number(v4[3])}.0/24`;
  if (a.includes(':') && /^[0-9a-f:]+$/.test(a)) {
    const [head, tail = ''] = a.split('::');
    const left = head ? head.split(':') : [];
    const right = a.includes('::') ? (tail ? tail.split(':') : []) : [];
    if (left.length + right.length > 8 || left.concat(right).some((g) => g.length > 4)) return 'unknown';
    const groups = a.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
    if (groups.length !== 8) return 'unknown';
    return `${groups.slice(0, 3).map((g) => parseInt(g, 16).toString(16)).join(':')}::/48`;
  }
  return 'unknown';
}

/** The origin of a registration from `address` with join token `joinKey` (its key id; null: open registration). */
export function nodeOrigin(address: string, joinKey: string | null): NodeOrigin {
  return { network: addressNetwork(address), joinKey };
}
