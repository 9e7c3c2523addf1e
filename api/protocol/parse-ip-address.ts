/**
 * An IP address literal, parsed: IPv4 as its 4 bytes; IPv6 as its 8 16-bit groups (`::` expanded, a dotted IPv4 tail
 * read as the last two groups), brackets and a zone (`%eth0`) allowed. Null for anything else (a name, a bad literal).
 * Shared by the checks that judge an address (probe-reachability.ts) and group it (node-origin.ts), so both read the
 * same spellings the same way.
 */
export type IpAddress = { v4: [number, number, number, number] } | { v6: number[] };

export function parseIpAddress(text: string): IpAddress | null {
  const a = text.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const v4 = parseV4(a);
  if (v4) return { v4 };
  if (!a.includes(':') || !/^[0-9a-f:.]+$/.test(a)) return null;
  const double = a.indexOf('::');
  if (double !== a.lastIndexOf('::')) return null;
  const side = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const tail = parseV4(p);
        if (!tail) return null;
        out.push((tail[0] << 8) | tail[1], (tail[2] << 8) | tail[3]);
      } else if (/^[0-9a-f]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  if (double < 0) {
    const groups = side(a);
    return groups && groups.length === 8 ? { v6: groups } : null;
  }
  const left = side(a.slice(0, double));
  const right = side(a.slice(double + 2));
  if (!left || !right || left.length + right.length > 7) return null;
  return { v6: [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right] };
}

/** The IPv4 address an IPv6 one carries in its last 32 bits, for the prefixes that mean it: mapped (::ffff:0:0/96),
 * IPv4-compatible (::/96), NAT64 (64:ff9b::/96); 6to4 (2002::/16) carries it in groups 1–2. Null otherwise. */
export function embeddedIpv4(groups: readonly number[]): [number, number, number, number] | null {
  const bytes = (hi: number, lo: number): [number, number, number, number] => [hi >> 8, hi & 255, lo >> 8, lo & 255];
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && (groups[5] === 0xffff || (groups[5] === 0 && (groups[6] !== 0 || groups[7] > 1)))) return bytes(groups[6], groups[7]);
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return bytes(groups[6], groups[7]);
  if (groups[0] === 0x2002) return bytes(groups[1], groups[2]);
  return null;
}

function parseV4(a: string): [number, number, number, number] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return null;
  const b = m.slice(1).map(Number) as [number, number, number, number];
  return b.every((x) => x <= 255) ? b : null;
}
