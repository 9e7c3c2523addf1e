import type { NodeCard } from '../protocol/node-card.ts';
import type { TaskRecord } from './job-store.ts';

/**
 * Whether a node may be given a task by its card's capabilities: a `tilesOnly` node (a browser tab) takes tile
 * renders and their verifications, never a stitch, a stitch's verification (no tile of its own) or a frame
 * rendered as one tile (`final`). The SQL lease queries apply the same rule (`FITS_NODE` in sql-job-rows.ts).
 */
export function fitsNode(card: Pick<NodeCard, 'tilesOnly'>, task: Pick<TaskRecord, 'kind' | 'tile' | 'final'>): boolean {
  return !card.tilesOnly || (task.kind !== 'stitch' && task.tile !== null && !task.final);
}
