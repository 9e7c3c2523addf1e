/** Accepted work per node (`GET /v1/ledger`; admin keys), optionally for one node. */
import { useEffect, useState } from 'preact/hooks';
import type { NodeLedger } from '../../../api/client/index.ts';
import { nodeColor } from '../colors.ts';
import { ErrorBox } from '../errors.tsx';
import type { Session } from '../session.ts';

export function LedgerPage({ session }: { session: Session }) {
  const [ledger, setLedger] = useState<NodeLedger>();
  const [node, setNode] = useState('');
  const [error, setError] = useState<unknown>(null);
  const load = (n: string) => {
    setError(null);
    session.client.ledger(n ? { node: n } : {}).then(setLedger, setError);
  };
  useEffect(() => load(''), []);
  const total = ledger?.nodes.reduce((t, n) => ({ s: t.s + n.renderSeconds, mp: t.mp + n.megapixels, tiles: t.tiles + n.tiles }), { s: 0, mp: 0, tiles: 0 });
  return (
    <section class="card">
      <h2>Ledger</h2>
      <p class="muted">Credited work only: results accepted (verified where sampled); outvoted and voided results are not counted.</p>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault();
          load(node);
        }}
      >
        <label>
          node <input value={node} placeholder="all nodes" onInput={(e) => setNode(e.currentTarget.value)} />
        </label>
        <button type="submit">Show</button>
      </form>
      <ErrorBox error={error} />
      {ledger && (
        <table data-testid="ledger">
          <thead>
            <tr>
              <th>node</th>
              <th>jobs</th>
              <th>tiles</th>
              <th>render-seconds</th>
              <th>megapixels</th>
            </tr>
          </thead>
          <tbody>
            {ledger.nodes.map((n) => (
              <tr>
                <td>
                  <i class="swatch" style={{ background: nodeColor(n.nodeId) }} /> {n.nodeId}
                </td>
                <td>{n.jobs}</td>
                <td>{n.tiles}</td>
                <td>{n.renderSeconds.toFixed(2)}</td>
                <td>{n.megapixels.toFixed(2)}</td>
              </tr>
            ))}
          </tbody>
          {total && (
            <tfoot>
              <tr>
                <th>total</th>
                <th />
                <th>{total.tiles}</th>
                <th>{total.s.toFixed(2)}</th>
                <th>{total.mp.toFixed(2)}</th>
              </tr>
            </tfoot>
          )}
        </table>
      )}
    </section>
  );
}
