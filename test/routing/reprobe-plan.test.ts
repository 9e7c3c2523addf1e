/**
 * A returning client's re-probe (api/protocol/reprobe-plan.ts, shared by the SDK's probe() and the routing
 * simulator): only the fastest RTT it holds, only when that one is remembered and stale; else it explores.
 */
import { describe, expect, it } from 'vitest';
import { nextReprobe, REPROBE_DEFAULTS } from '../../api/protocol/reprobe-plan.ts';

const now = 1_000_000_000_000;
const hour = 3600_000;

describe('nextReprobe', () => {
  it('re-probes the fastest remembered RTT when it is older than the freshness window, never a fresh one', () => {
    expect(REPROBE_DEFAULTS.freshForMs).toBe(hour);
    const known = [
      { nodeId: 'b', rttMs: 40, at: now - 2 * hour },
      { nodeId: 'a', rttMs: 20, at: now - 2 * hour },
      { nodeId: 'c', rttMs: 90, at: now - 10 * hour },
    ];
    expect(nextReprobe(known, new Set(), now)).toBe('a');
    // Fresh: trusted as it is (the ping explores), even if slower ones are stale.
    expect(nextReprobe(known.map((k) => (k.nodeId === 'a' ? { ...k, at: now - 10 * 60_000 } : k)), new Set(), now)).toBeUndefined();
    // Exactly at the window's edge it is stale; 0 makes every remembered RTT stale.
    expect(nextReprobe([{ nodeId: 'a', rttMs: 20, at: now - hour }], new Set(), now)).toBe('a');
    expect(nextReprobe([{ nodeId: 'a', rttMs: 20, at: now - 1 }], new Set(), now, false, { freshForMs: 0 })).toBe('a');
    // Ties go to the smaller id.
    expect(nextReprobe([{ nodeId: 'y', rttMs: 20, at: 0 }, { nodeId: 'x', rttMs: 20, at: 0 }], new Set(), now)).toBe('x');
  });

  it('does not re-probe when a node measured this session is the fastest, or the fastest was measured this session', () => {
    const remembered = { nodeId: 'a', rttMs: 20, at: now - 5 * hour };
    // A node explored this session beat every remembered RTT: the route goes there, the old RTTs decide nothing.
    expect(nextReprobe([remembered, { nodeId: 'n', rttMs: 12, at: now }], new Set(['n']), now)).toBeUndefined();
    // Slower than the remembered best: the remembered one still decides the route, so it is re-probed.
    expect(nextReprobe([remembered, { nodeId: 'n', rttMs: 30, at: now }], new Set(['n']), now)).toBe('a');
    // Already re-measured this session.
    expect(nextReprobe([{ ...remembered, at: now }], new Set(['a']), now)).toBeUndefined();
    expect(nextReprobe([], new Set(), now)).toBeUndefined();
  });

  it('treats a changed network (another PoP) and a future date as stale, and ignores junk RTTs', () => {
    const fresh = { nodeId: 'a', rttMs: 20, at: now - 60_000 };
    expect(nextReprobe([fresh], new Set(), now)).toBeUndefined();
    expect(nextReprobe([fresh], new Set(), now, true)).toBe('a');
    expect(nextReprobe([{ ...fresh, at: now + hour }], new Set(), now)).toBe('a');
    const junk = [{ nodeId: 'z', rttMs: Number.NaN, at: 0 }, { nodeId: 'y', rttMs: -5, at: 0 }, { nodeId: 'x', rttMs: Infinity, at: 0 }];
    expect(nextReprobe([...junk, { nodeId: 'a', rttMs: 50, at: 0 }], new Set(), now)).toBe('a');
    expect(nextReprobe(junk, new Set(), now)).toBeUndefined();
  });
});
