/**
 * A returning client's re-probe (api/protocol/reprobe-plan.ts, shared by the SDK's probe() and the routing
 * simulator): only the fastest RTT it holds, only when that one is remembered and stale; else it explores.
 */
import { describe, expect, it } from 'vitest';
import { freshFor, nextReprobe, rememberRtt, REPROBE_DEFAULTS } from '../../api/protocol/reprobe-plan.ts';

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

  it('trusts a path that held its RTT for twice as long as it held, at most a week (rememberRtt, freshFor)', () => {
    const day = 24 * hour;
    const first = rememberRtt(undefined, 'a', 100, now - 2 * day);
    expect(first.stableSince).toBeUndefined();
    // A day later within 10% (or 5 ms): the run goes on from the first measurement.
    const second = rememberRtt(first, 'a', 108, now - day);
    expect(second).toEqual({ nodeId: 'a', rttMs: 108, at: now - day, stableSince: now - 2 * day });
    expect(freshFor(second)).toBe(2 * day);
    // So a day after that it is still fresh: the client explores with every ping.
    expect(nextReprobe([second], new Set(), now)).toBeUndefined();
    // Measured once, the same age: stale (the one-hour window), re-probed.
    expect(nextReprobe([{ nodeId: 'a', rttMs: 108, at: now - day }], new Set(), now)).toBe('a');
    // Past twice its stable span, or after the network changed: re-probed.
    expect(nextReprobe([second], new Set(), now + day + 1)).toBe('a');
    expect(nextReprobe([second], new Set(), now, true)).toBe('a');
    // A measurement that moved ends the run; a third agreeing one extends it.
    expect(rememberRtt(second, 'a', 130, now).stableSince).toBeUndefined();
    expect(rememberRtt(second, 'a', 105, now).stableSince).toBe(now - 2 * day);
    expect(rememberRtt({ nodeId: 'a', rttMs: 10, at: now - day }, 'a', 14, now).stableSince).toBe(now - day); // 4 ms: within 5 ms
    // Off: the plain window.
    expect(freshFor(second, { ...REPROBE_DEFAULTS, stableFactor: 0 })).toBe(REPROBE_DEFAULTS.freshForMs);
    // A client that trusts nothing remembered (freshForMs 0) re-probes a stable path too.
    expect(freshFor(second, { freshForMs: 0 })).toBe(0);
    expect(nextReprobe([second], new Set(), now, false, { freshForMs: 0 })).toBe('a');
  });

  it('bounds stored stability claims: capped at stableMaxMs, ignored when after the measurement, and junk starts nothing', () => {
    // A history that claims a path stable for a year is trusted for a week at most.
    expect(freshFor({ nodeId: 'a', rttMs: 20, at: now, stableSince: now - 365 * 24 * hour })).toBe(REPROBE_DEFAULTS.stableMaxMs);
    expect(nextReprobe([{ nodeId: 'a', rttMs: 20, at: now - 8 * 24 * hour, stableSince: 0 }], new Set(), now)).toBe('a');
    // stableSince after `at` means nothing.
    expect(freshFor({ nodeId: 'a', rttMs: 20, at: now - day(3), stableSince: now })).toBe(REPROBE_DEFAULTS.freshForMs);
    // Another node's record, a future previous measurement or a junk RTT start a new run.
    expect(rememberRtt({ nodeId: 'b', rttMs: 20, at: now - hour }, 'a', 20, now).stableSince).toBeUndefined();
    expect(rememberRtt({ nodeId: 'a', rttMs: 20, at: now + hour }, 'a', 20, now).stableSince).toBeUndefined();
    expect(rememberRtt({ nodeId: 'a', rttMs: Number.NaN, at: now - hour }, 'a', 20, now).stableSince).toBeUndefined();
    function day(n: number) {
      return n * 24 * hour;
    }
  });
});
