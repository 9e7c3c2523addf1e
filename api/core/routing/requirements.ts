/** What a job may demand of the node that renders it, and the check of one resource card against it. */
import { JobRequirements, TaskRequirements } from '../../protocol/job-requirements.ts';
import { cardHasRenderFeature, cardHasWebgl2, type NodeCard } from '../../protocol/node-card.ts';

export { JobRequirements, TaskRequirements };


/** Why a card fails the requirements (one sentence), or null when it meets them. RTT is checked by the router. */
export function unmetRequirement(card: NodeCard, req: TaskRequirements | undefined): string | null {
  if (!req) return null;
  if (req.viewPose && !cardHasRenderFeature(card, 'view-pose')) return 'does not declare the view-pose render feature (an older Tessera, which would draw the start view instead of the pose)';
  if (req.webgl2 && !cardHasWebgl2(card)) return 'no WebGL 2 backend (the scene needs WebGL 2)';
  if (req.minRamBytes !== undefined && card.ramBytes < req.minRamBytes) return `RAM ${card.ramBytes} B < required ${req.minRamBytes} B`;
  if (req.minTextureSize !== undefined && card.gl.maxTextureSize < req.minTextureSize) return `max texture ${card.gl.maxTextureSize} < required ${req.minTextureSize}`;
  if (req.allowedRegions && req.allowedRegions.length > 0 && !req.allowedRegions.includes(card.region)) return `region "${card.region}" is not allowed`;
  if (req.deniedRegions && req.deniedRegions.includes(card.region)) return `region "${card.region}" is denied`;
  return null;
}

/** Whether a node with this card may run a job with these requirements (all but `maxRttMs`, which needs the client). */
export function meetsRequirements(card: NodeCard, req: TaskRequirements | undefined): boolean {
  if (!req) return true;
  if (req.viewPose && !cardHasRenderFeature(card, 'view-pose')) return false;
  if (req.webgl2 && !cardHasWebgl2(card)) return false;
  if (req.minRamBytes !== undefined && card.ramBytes < req.minRamBytes) return false;
  if (req.minTextureSize !== undefined && card.gl.maxTextureSize < req.minTextureSize) return false;
  if (req.allowedRegions && req.allowedRegions.length > 0 && !req.allowedRegions.includes(card.region)) return false;
  if (req.deniedRegions && req.deniedRegions.length > 0 && req.deniedRegions.includes(card.region)) return false;
  return true;
}
