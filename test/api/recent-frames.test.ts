/**
 * RecentFrames: the frames a frame event may carry. Held by bytes with a bound (oldest out first), each looked up
 * by its key and the sha256 the store recorded, so another version of the frame is never handed out.
 */
import { describe, expect, it } from 'vitest';
import { RecentFrames } from '../../api/core/recent-frames.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('RecentFrames', () => {
  it('hands a frame out only for its key and recorded sha256', () => {
    const held = new RecentFrames(1000, 500);
    held.put('jobs/a/0.png', 'sha-a', bytes(100, 1));
    expect(held.get('jobs/a/0.png', 'sha-a')).toEqual(bytes(100, 1));
    expect(held.get('jobs/a/0.png', 'sha-other')).toBeUndefined();
    expect(held.get('jobs/a/1.png', 'sha-a')).toBeUndefined();
    // A new version at the same key replaces the old one: the old sha256 no longer finds anything.
    held.put('jobs/a/0.png', 'sha-b', bytes(50, 2));
    expect(held.get('jobs/a/0.png', 'sha-a')).toBeUndefined();
    expect(held.get('jobs/a/0.png', 'sha-b')).toEqual(bytes(50, 2));
    expect(held.heldBytes).toBe(50);
  });

  it('keeps within its bytes (oldest out first) and never keeps a frame over the per-frame cap', () => {
    const held = new RecentFrames(300, 200);
    held.put('k1', 's1', bytes(100, 1));
    held.put('k2', 's2', bytes(100, 2));
    held.put('k3', 's3', bytes(100, 3));
    expect(held.heldBytes).toBe(300);
    held.put('k4', 's4', bytes(150, 4));
    expect(held.get('k1', 's1')).toBeUndefined();
    expect(held.get('k2', 's2')).toBeUndefined();
    expect(held.get('k3', 's3')).toEqual(bytes(100, 3));
    expect(held.get('k4', 's4')).toEqual(bytes(150, 4));
    expect(held.heldBytes).toBe(250);
    held.put('big', 'sb', bytes(201, 5));
    expect(held.get('big', 'sb')).toBeUndefined();
    expect(held.heldBytes).toBe(250);
    // 0 turns it off.
    const off = new RecentFrames(0, 0);
    off.put('k', 's', bytes(1, 1));
    expect(off.get('k', 's')).toBeUndefined();
  });

  it('offers frames per job until withdrawn, within the same bounds, apart from the frames it holds', () => {
    const held = new RecentFrames(300, 200);
    const offer = (jobId: string, frame: number, n: number) => held.offer({ jobId, frame, key: `jobs/${jobId}/${frame}.png`, checksum: `s${frame}`, bytes: bytes(n, frame) });
    expect(offer('a', 0, 100)).toBe(true);
    expect(offer('a', 1, 100)).toBe(true);
    expect(offer('b', 0, 100)).toBe(true);
    expect(held.offers('a').map((f) => f.frame)).toEqual([0, 1]);
    expect(held.offers('b')[0]).toMatchObject({ jobId: 'b', frame: 0, key: 'jobs/b/0.png', checksum: 's0' });
    // Past the bytes in all, or over the per-frame cap: not offered (the frame goes out once recorded, as before).
    expect(offer('c', 0, 1)).toBe(false);
    expect(offer('c', 1, 201)).toBe(false);
    expect(held.offers('c')).toEqual([]);
    // An offer is not a held frame: nothing is handed out for it by key and sha256.
    expect(held.get('jobs/a/0.png', 's0')).toBeUndefined();
    expect(held.heldBytes).toBe(0);
    held.withdraw('jobs/a/0.png');
    expect(held.offers('a').map((f) => f.frame)).toEqual([1]);
    expect(offer('c', 0, 100)).toBe(true);
    held.withdraw('jobs/unknown.png');
    expect(held.offers('c')).toHaveLength(1);
  });
});
