/**
 * Why a job's tasks wait with no node to take them: no healthy node meets the job's requirements (a scene that
 * needs WebGL 2 and no node with a WebGL 2 backend, a region nobody is in, …). Shown in the job's status, so a
 * job that cannot start says why instead of sitting queued.
 */
import type { JobRecord, NodeRecord, SceneRecord } from './job-store.ts';
import { meetsRequirements, unmetRequirement } from './routing/requirements.ts';

/** The reason `job` waits for a capable node among `healthy` (the healthy nodes), or null when one can take it. */
export function jobWaitingReason(job: Pick<JobRecord, 'state' | 'requirements'>, healthy: readonly NodeRecord[], scene: Pick<SceneRecord, 'info'> | null): string | null {
  if (job.state !== 'queued' && job.state !== 'running') return null;
  const req = job.requirements ?? undefined;
  if (!req || healthy.some((n) => meetsRequirements(n.card, req))) return null;
  // WebGL 2 is what is missing (every other requirement some node meets, or there is no node at all): name it.
  if (req.webgl2 && (healthy.length === 0 || healthy.some((n) => meetsRequirements(n.card, { ...req, webgl2: false })))) {
    const needs = scene?.info.webgl2?.length ? `the scene uses ${scene.info.webgl2.join(', ')}, which render${scene.info.webgl2.length === 1 ? 's' : ''} only on WebGL 2` : 'the job requires WebGL 2';
    const nodes = healthy.length === 1 ? 'the one connected node has no' : `none of the ${healthy.length} connected nodes has a`;
    return `waiting for a node with WebGL 2: ${needs}, and ${nodes} WebGL 2 backend (start one with \`tessera node start --backend auto\` or \`--backend chromium\`)`;
  }
  if (healthy.length === 0) return null;
  const why = [...new Set(healthy.map((n) => unmetRequirement(n.card, req)).filter((r): r is string => r !== null))].slice(0, 4);
  return `waiting for a node that meets the job's requirements: none of the ${healthy.length} connected nodes does (${why.join('; ')})`;
}
