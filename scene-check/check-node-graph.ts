/**
 * The node hierarchy must be a forest: no node with two parents, no cycles, and not so deep that
 * recursive traversals (three.js updateMatrixWorld, glTF-Transform) could exhaust the stack.
 * Runs in linear time without recursion.
 */
import { TesseraError } from '../api/protocol/errors.ts';
import { malformed } from './gltf-fields.ts';

/** Deepest node hierarchy accepted (a fixed limit; real skeletons stay in the low hundreds). */
export const MAX_NODE_DEPTH = 1000;

/**
 * `children[n]` lists node n's children (indices already range-checked). Returns each node's
 * parent, or -1 for a root.
 */
export function checkNodeGraph(children: readonly (readonly number[])[], maxDepth = MAX_NODE_DEPTH): Int32Array {
  const count = children.length;
  const parent = new Int32Array(count).fill(-1);
  for (let p = 0; p < count; p++) {
    for (const c of children[p]) {
      if (c === p) throw malformed(`node ${p} is its own ancestor (cycle ${p}→${p}): it lists itself as a child`);
      if (parent[c] === p) throw malformed(`node ${p} lists child ${c} twice`);
      if (parent[c] !== -1) throw malformed(`node ${c} has two parents: node ${parent[c]} and node ${p}`);
      parent[c] = p;
    }
  }

  // Every node has at most one parent, so following parents from any node either reaches a root
  // or runs into a cycle. 0 = unvisited, 1 = on the current walk, 2 = done.
  const state = new Uint8Array(count);
  const depth = new Int32Array(count);
  const walk: number[] = [];
  for (let start = 0; start < count; start++) {
    if (state[start] !== 0) continue;
    walk.length = 0;
    let cur = start;
    while (cur !== -1 && state[cur] === 0) {
      state[cur] = 1;
      walk.push(cur);
      cur = parent[cur];
    }
    if (cur !== -1 && state[cur] === 1) {
      // walk[k..] is the cycle in child→parent order; print it parent→child from its lowest node.
      const cycle = walk.slice(walk.indexOf(cur)).reverse();
      let lowest = 0;
      for (let k = 1; k < cycle.length; k++) if (cycle[k] < cycle[lowest]) lowest = k;
      const ordered = [...cycle.slice(lowest), ...cycle.slice(0, lowest)];
      const shown = ordered.length > 20 ? [...ordered.slice(0, 20), '…'] : [...ordered, ordered[0]];
      throw malformed(`node ${ordered[0]} is its own ancestor (cycle ${shown.join('→')})`);
    }
    // Unwind: depths from the known end (a root or an already-finished node) down to `start`.
    let d = cur === -1 ? 0 : depth[cur];
    for (let k = walk.length - 1; k >= 0; k--) {
      d++;
      depth[walk[k]] = d;
      state[walk[k]] = 2;
      if (d > maxDepth) {
        throw new TesseraError(
          'SCENE_LIMIT_EXCEEDED',
          `the node hierarchy is more than ${maxDepth} levels deep (at node ${walk[k]}); that is a fixed limit`,
        );
      }
    }
  }
  return parent;
}
