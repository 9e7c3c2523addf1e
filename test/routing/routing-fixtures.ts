/** Shared builders for the routing tests: cards, nodes and coordinates in a few lines. */
import type { NodeCard } from '../../api/protocol/node-card.ts';
import { createRouterNode, type RouterNode } from '../../api/core/routing/router.ts';
import type { Coordinate } from '../../api/core/routing/vivaldi.ts';

export function card(over: Partial<NodeCard> = {}): NodeCard {
  return {
    name: 'node',
    region: 'eu-west',
    version: 'test',
    cpu: { model: 'test', cores: 8 },
    ramBytes: 16 * 2 ** 30,
    gl: { renderer: 'test', vendor: 'test', version: '1', maxTextureSize: 8192, maxViewport: [8192, 8192] },
    tilesPerSecond: 10,
    concurrency: 1,
    ...over,
  };
}

/** A point coordinate on a line at x (ms), no height, small error. */
export function at(x: number, y = 0, error = 0.1): Coordinate {
  return { vec: [x, y], height: 0.01, error };
}

export function node(id: string, over: Partial<RouterNode> & { x?: number } = {}): RouterNode {
  return createRouterNode({
    id,
    card: over.card ?? card(),
    healthy: over.healthy ?? true,
    load: over.load ?? { queued: 0, running: 0, concurrency: 1 },
    coord: 'coord' in over ? over.coord : at(over.x ?? 0),
    location: over.location,
    geoLine: over.geoLine,
  });
}
