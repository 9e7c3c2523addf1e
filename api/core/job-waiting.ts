/**
 * Why a job's tasks wait with no node to take them: no healthy node meets the job's requirements (a scene that
 * needs WebGL 2 and no node with a WebGL 2 backend, a region nobody is in, …). Shown in the job's status, so a
 * job that cannot start says why instead of sitting queued.
 */
import type { JobRecord, NodeRecord, SceneRecord } from './job-store.ts';
import { meetsRequirements, unmetRequirement } from './routing/requirements.ts';

/** How to get a node that renders WebGL 2 (batch tasks and sessions alike), as the reasons say it. */
export const START_WEBGL2_NODE = 'start one with `tessera node start --backend auto` or `--backend chromium`';

/** Why WebGL 2 is needed: the scene's extensions that render only there, else that the `what` requires it. */
export function webgl2Need(extensions: readonly string[] | null | undefined, what: 'job' | 'session'): string {
  return extensions?.length ? `the scene uses ${extensions.join(', ')}, which render${extensions.length === 1 ? 's' : ''} only on WebGL 2` : `the ${what} requires WebGL 2`;
}

/** The reason `job` waits for a capable node among `healthy` (the healthy nodes), or null when one can take it. */
export function jobWaitingReason(job: Pick<JobRecord, 'state' | 'requirements'>, healthy: readonly NodeRecord[], scene: Pick<SceneRecord, 'info'> | null): string | null {
  if (job.state !== 'queued' && job.state !== 'running') return null;
  const req = job.requirements ?? undefined;
  if (!req || healthy.some((n) => meetsRequirements(n.card, req))) return null;
  // WebGL 2 is what is missing (every other requirement some node meets, or there is no node at all): name it.
  if (req.webgl2 && (healthy.length === 0 || healthy.some((n) => meetsRequirements(n.card, { ...req, webgl2: false })))) {
    const nodes = healthy.length === 1 ? 'the one connected node has no' : `none of the ${healthy.length} connected nodes has a`;
    return `waiting for a node with WebGL 2: ${webgl2Need(scene?.info.webgl2, 'job')}, and ${nodes} WebGL 2 backend (${START_WEBGL2_NODE})`;
  }
  if (healthy.length === 0) return null;
  const why = [...new Set(healthy.map((n) => unmetRequirement(n.card, req)).filter((r): r is string => r !== null))].slice(0, 4);
  return `waiting for a node that meets the job's requirements: none of the ${healthy.length} connected nodes does (${why.join('; ')})`;
}
