/** Why a job waits for a capable node (GET /v1/jobs/:id `waiting`): the WebGL 2 case names the scene's extensions. */
import { describe, expect, it } from 'vitest';
import type { NodeRecord } from '../../api/core/job-store.ts';
import { jobWaitingReason } from '../../api/core/job-waiting.ts';
import { nodeCard } from '../support/api-harness.ts';
import { NodeCard } from '../../api/protocol/node-card.ts';

const node = (name: string, extra: object = {}): NodeRecord =>
  ({ nodeId: `node_${name}`, tokenHash: 'h', card: NodeCard.parse({ ...nodeCard(name), ...extra }), registeredAt: 0, lastSeenAt: 0, load: 0 }) as NodeRecord;
const glass = { info: { cameras: [], cameraNodes: [], clips: [], scenes: [null], defaultScene: 0, webgl2: ['KHR_materials_transmission'] } };
const gl2 = { backends: [{ id: 'chromium', webgl2: true, version: 'v' }] };

describe('jobWaitingReason', () => {
  it('names WebGL 2 and the scene\'s extensions when no connected node has it', () => {
    const job = { state: 'queued' as const, requirements: { webgl2: true } };
    expect(jobWaitingReason(job, [node('a')], glass)).toBe(
      'waiting for a node with WebGL 2: the scene uses KHR_materials_transmission, which renders only on WebGL 2, and the one connected node has no WebGL 2 backend (start one with `tessera node start --backend auto` or `--backend chromium`)',
    );
    expect(jobWaitingReason(job, [], glass)).toMatch(/none of the 0 connected nodes has a WebGL 2 backend/);
    expect(jobWaitingReason(job, [node('a'), node('b', gl2)], glass)).toBeNull();
    // Finished jobs and jobs without requirements wait for nothing.
    expect(jobWaitingReason({ ...job, state: 'done' }, [node('a')], glass)).toBeNull();
    expect(jobWaitingReason({ state: 'queued', requirements: null }, [node('a')], glass)).toBeNull();
  });
  it('names other unmet requirements too', () => {
    expect(jobWaitingReason({ state: 'running', requirements: { allowedRegions: ['mars'] } }, [node('a'), node('b')], null)).toBe(
      'waiting for a node that meets the job\'s requirements: none of the 2 connected nodes does (region "test" is not allowed)',
    );
    // WebGL 2 and a region: the WebGL 2 node is in the wrong region, so both are named.
    expect(jobWaitingReason({ state: 'queued', requirements: { webgl2: true, allowedRegions: ['mars'] } }, [node('a'), node('b', gl2)], glass)).toMatch(/none of the 2 connected nodes does \(no WebGL 2 backend .*; region "test" is not allowed\)/);
  });
});
