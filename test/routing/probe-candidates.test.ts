import { describe, expect, it } from 'vitest';
import { pickProbeCandidates } from '../../api/core/routing/candidates.ts';
import { createRouterNode } from '../../api/core/routing/router.ts';
import { createCoordinate } from '../../api/core/routing/vivaldi.ts';
import { card as baseCard } from './routing-fixtures.ts';

describe('probe candidates', () => {
  it('never offers the same node twice when the client is unknown (landmarks with heights)', () => {
    // A layout where the old landmark spread picked b twice (its two heights made it look far from itself).
    const at = (x: number, y: number, height: number) => ({ ...createCoordinate(), vec: [x, y, 0, 0], height, error: 0.3 });
    const load = { queued: 0, running: 0, concurrency: 2 };
    const nodes = [
      createRouterNode({ id: 'a', card: baseCard({ name: 'a' }), healthy: true, load, coord: at(38, 7, 25) }),
      createRouterNode({ id: 'b', card: baseCard({ name: 'b' }), healthy: true, load, coord: at(69, 59, 56) }),
      createRouterNode({ id: 'c', card: baseCard({ name: 'c' }), healthy: true, load, coord: at(85, 53, 6) }),
    ];
    const picked = pickProbeCandidates(nodes, { measuredRttMs: {} }, 3);
    expect(new Set(picked).size).toBe(picked.length);
    expect([...picked].sort()).toEqual(['a', 'b', 'c']);
  });
});
