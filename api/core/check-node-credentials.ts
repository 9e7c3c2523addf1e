/**
 * The node-token check shared by the routes and the stores' composite node calls: the token's sha256 must be
 * the node's (the one the route names, else the one it belongs to). The same errors wherever it runs.
 */
import { TesseraError } from '../protocol/errors.ts';
import type { NodeCredentials, NodeRecord } from './job-store.ts';

/**
 * The node the credentials belong to, given how it was looked up: by the route's node id (`found` is the node with
 * that id, or null) or, without one, by the token hash. Throws NODE_NOT_FOUND or UNAUTHORIZED.
 */
export function checkNodeCredentials(credentials: NodeCredentials, found: NodeRecord | null): NodeRecord {
  const { nodeId, tokenHash } = credentials;
  if (nodeId !== undefined) {
    if (!found) throw new TesseraError('NODE_NOT_FOUND', `No node with id ${nodeId}; register again.`);
    if (found.tokenHash !== tokenHash) throw new TesseraError('UNAUTHORIZED', `The token is not node ${nodeId}'s.`);
    return found;
  }
  if (!found || found.tokenHash !== tokenHash) throw new TesseraError('UNAUTHORIZED', 'The node token is not valid; register again.');
  return found;
}
