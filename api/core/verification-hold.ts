import type { TaskRecord } from './job-store.ts';

/**
 * Whether a completion of `task` with this verification draw is held until another node's render agrees (the store's
 * completeTask records it so; the completion route sends a frame ahead of its record only when it is not): renders
 * and stitches that were sampled, or re-renders after a disproof, unless no other node can check them.
 */
export function heldForVerification(task: Pick<TaskRecord, 'kind' | 'verification'>, draw: { sample?: boolean; verifiable?: boolean }): boolean {
  const checkable = task.kind === 'render' || task.kind === 'stitch';
  return checkable && draw.verifiable !== false && (draw.sample === true || task.verification?.state === 'rerender');
}
