/**
 * Where a node registered from, as the API saw it: the network of the address its registration came from (the
 * socket's peer on Node, CF-Connecting-IP on Workers: node-admission.ts clientAddress) and the join token it carried.
 * Nodes that share either may be one operator's; session-vote-trust.ts counts such references as one voice.
 */
import { embeddedIpv4, parseIpAddress } from '../protocol/parse-ip-address.ts';
import type { NodeOrigin } from './job-store.ts';

/**
 * An address's network: IPv4 /24, IPv6 /48 (what one customer of a host or an ISP usually holds; IPv6 carrying an
 * IPv4 address, mapped or otherwise, is that IPv4's), `unknown` for anything else. Cheap to vary for a determined operator (another host),
 * so it only groups the nodes an operator did not bother to spread; the trust rule does the rest.
 */
export function addressNetwork(address: string): string {
  const ip = parseIpAddress(address);
  if (!ip) return 'unknown';
  if ('v4' in ip) return `${ip.v4[0]}.${ip.v4[1]}.${ip.v4[2]}.0/24`;
  const v4 = embeddedIpv4(ip.v6);
  if (v4) return `${v4[0]}.${v4[1]}.${v4[2]}.0/24`;
  return `${ip.v6.slice(0, 3).map((g) => g.toString(16)).join(':')}::/48`;
}

/** The origin of a registration from `address` with join token `joinKey` (its key id; null: open registration). */
export function nodeOrigin(address: string, joinKey: string | null): NodeOrigin {
  return { network: addressNetwork(address), joinKey };
}
