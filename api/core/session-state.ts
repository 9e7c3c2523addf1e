/**
 * The session state machine: the only place that decides a session's status changes.
 *
 *   placed → starting (its node leased it) → open (its node reports it live) → closed
 *   placed | starting | open → closed (DELETE, the node ended it, its node went silent, nobody connected)
 */
import { TesseraError } from '../protocol/errors.ts';
import type { SessionState } from '../protocol/session.ts';

export type SessionEvent =
  | { type: 'lease'; leaseId: string; now: number }
  | { type: 'live'; now: number }
  | { type: 'close'; reason: string; now: number };

/** One session status change, for the log. */
export interface SessionChange {
  entity: 'session';
  id: string;
  from: SessionState;
  to: SessionState;
  reason: string;
  at: number;
}

const NEXT: Record<SessionEvent['type'], { from: SessionState[]; to: SessionState }> = {
  lease: { from: ['placed'], to: 'starting' },
  live: { from: ['starting'], to: 'open' },
  close: { from: ['placed', 'starting', 'open'], to: 'closed' },
};

/** The state after `event`, and the change; throws INTERNAL for a transition the machine does not allow. */
export function stepSession(id: string, state: SessionState, event: SessionEvent): SessionChange {
  const rule = NEXT[event.type];
  if (!rule.from.includes(state)) throw new TesseraError('INTERNAL', `session ${id}: ${event.type} is not allowed in state ${state}`);
  const reason = event.type === 'close' ? event.reason : event.type === 'lease' ? 'leased by its node' : 'its node reports it live';
  return { entity: 'session', id, from: state, to: rule.to, reason, at: event.now };
}

/** Whether `event` applies in `state` (a no-op otherwise, e.g. closing a closed session). */
export function sessionEventApplies(state: SessionState, event: SessionEvent['type']): boolean {
  return NEXT[event].from.includes(state);
}
