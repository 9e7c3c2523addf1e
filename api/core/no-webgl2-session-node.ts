/**
 * Why a session of a scene that needs WebGL 2 cannot be placed however long the client retries: no registered node
 * renders sessions on WebGL 2 (none lists the `webgl2` session feature). Busy or full WebGL 2 nodes are another
 * matter (503, retry); this is the session's counterpart of a batch job's "waiting for a node with WebGL 2"
 * (job-waiting.ts), but a session cannot wait, so the API answers 422 NO_CAPABLE_NODE with it.
 */
import type { NodeCard } from '../protocol/node-card.ts';
import { START_WEBGL2_NODE, webgl2Need } from './job-waiting.ts';
import { meetsRequirements } from './routing/requirements.ts';

/** Whether a node with this card serves sessions and renders them on WebGL 2 (placement's tests for both). */
export function servesWebgl2Sessions(card: NodeCard): boolean {
  return (card.sessionSlots ?? 0) > 0 && !!card.sessionUrl && !!card.sessionFeatures?.includes('webgl2') && meetsRequirements(card, { webgl2: true });
}

/**
 * The reason no node among `registered` (the nodes that may still serve: recently seen, not blocklisted) can ever
 * take a session that needs WebGL 2, or null when one of them could (it may be busy, full or briefly silent).
 */
export function noWebgl2SessionNodeReason(registered: readonly { card: NodeCard }[], extensions: readonly string[] | null | undefined): string | null {
  if (registered.some((n) => servesWebgl2Sessions(n.card))) return null;
  const nodes = registered.length === 0 ? 'no node is registered' : registered.length === 1 ? 'the one registered node does not render sessions on it' : `none of the ${registered.length} registered nodes renders sessions on it`;
  return `no node can take the session, nor will until one with WebGL 2 sessions is started: ${webgl2Need(extensions, 'session')}, and ${nodes} (${START_WEBGL2_NODE})`;
}
