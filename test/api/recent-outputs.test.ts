import { describe, expect, it } from 'vitest';
import { RecentOutputs } from '../../api/core/recent-outputs.ts';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('RecentOutputs (frames an event stream may carry)', () => {
  it('hands out only the bytes stored under that key with that sha256', () => {
    const r = new RecentOutputs(100, 1000);
    r.put('jobs/a/frame-0.png', 'aa', bytes(10, 7));
    expect(r.get('jobs/a/frame-0.png', 'aa')).toEqual(bytes(10, 7));
    expect(r.get('jobs/a/frame-0.png', 'bb')).toBeUndefined();
    expect(r.get('jobs/a/frame-1.png', 'aa')).toBeUndefined();
  });

  it('keeps no output over its entry cap, and at most its byte budget in all, dropping the oldest first', () => {
    const r = new RecentOutputs(100, 250);
    r.put('big', 'x', bytes(101));
    expect(r.get('big', 'x')).toBeUndefined();
    for (const k of ['a', 'b', 'c']) r.put(k, k, bytes(100));
    expect(r.heldBytes).toBe(200);
    expect(r.get('a', 'a')).toBeUndefined();
    expect(r.get('b', 'b')).toBeDefined();
    expect(r.get('c', 'c')).toBeDefined();
    // The same key and sha256 again replaces its entry rather than counting twice.
    r.put('c', 'c', bytes(100));
    expect(r.heldBytes).toBe(200);
  });
});
