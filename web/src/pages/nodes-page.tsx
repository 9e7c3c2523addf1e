/**
 * The farm's render nodes: a world map with their locations and the viewer's own RTTs (the SDK's probe, the
 * same one job submission uses), and a list searchable by capability (the API's node search).
 */
import { useEffect, useState } from 'preact/hooks';
import type { NodeView, ProbeResult } from '../../../api/client/index.ts';
import { nodeColor } from '../colors.ts';
import { ErrorBox } from '../errors.tsx';
import type { Session } from '../session.ts';
import { WorldMap, type LatLon } from '../world-map.tsx';

const VIEWER_KEY = 'tessera.viewerLocation';

export function NodesPage({ session }: { session: Session }) {
  const [nodes, setNodes] = useState<NodeView[]>();
  const [probe, setProbe] = useState<ProbeResult>();
  const [viewer, setViewer] = useState<LatLon | undefined>(() => {
    const s = sessionStorage.getItem(VIEWER_KEY);
    return s ? JSON.parse(s) : undefined;
  });
  const [text, setText] = useState('');
  const [region, setRegion] = useState('');
  const [minRamGiB, setMinRamGiB] = useState('');
  const [minTexture, setMinTexture] = useState('');
  const [healthyOnly, setHealthyOnly] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const search = () => {
    setError(null);
    session.client
      .nodes({
        ...(region ? { region } : {}),
        ...(minRamGiB ? { minRamBytes: Math.round(Number(minRamGiB) * 1024 ** 3) } : {}),
        ...(minTexture ? { minTextureSize: Number(minTexture) } : {}),
        ...(healthyOnly ? { healthy: true } : {}),
      })
      .then((l) => setNodes(l.nodes), setError);
  };
  const measure = (where?: LatLon) =>
    session.client
      .probe({ count: 8, ...(where ? { location: where } : {}) })
      .then((p) => {
        setProbe(p);
        if (!where && p.location) setViewer(p.location);
      })
      .catch(setError);
  useEffect(() => {
    search();
    measure(viewer);
    const t = setInterval(search, 5000);
    return () => clearInterval(t);
  }, []);

  const rttOf = (id: string) => probe?.rtts.find((r) => r.nodeId === id)?.rttMs;
  const shown = (nodes ?? []).filter((n) => !text || `${n.nodeId} ${n.card.name} ${n.card.region} ${n.card.gl.renderer} ${n.card.cpu.model}`.toLowerCase().includes(text.toLowerCase()));
  return (
    <>
      <section class="card">
        <h2>Where the nodes are</h2>
        <WorldMap
          nodes={nodes ?? []}
          viewer={viewer}
          rtts={probe?.rtts ?? []}
          onPlaceViewer={(p) => {
            setViewer(p);
            sessionStorage.setItem(VIEWER_KEY, JSON.stringify(p));
            measure(p);
          }}
        />
        <p class="muted">
          Locations are what nodes claim (never used to route). Lines: round trips this browser measured to each node's <code>/ping</code>.{' '}
          {viewer ? 'Click the map to move yourself.' : 'Click the map where you are to draw them.'}
          {probe?.failed.length ? ` ${probe.failed.length} node(s) did not answer a ping.` : ''}
        </p>
        <button class="quiet" onClick={() => measure(viewer)}>
          Ping again
        </button>
      </section>
      <section class="card">
        <h2>Nodes</h2>
        <form
          class="row"
          onSubmit={(e) => {
            e.preventDefault();
            search();
          }}
        >
          <label>
            search <input type="search" value={text} placeholder="name, GPU, CPU…" onInput={(e) => setText(e.currentTarget.value)} />
          </label>
          <label>
            region <input value={region} onInput={(e) => setRegion(e.currentTarget.value)} />
          </label>
          <label>
            RAM ≥ <input type="number" min={0} step="any" value={minRamGiB} onInput={(e) => setMinRamGiB(e.currentTarget.value)} /> GiB
          </label>
          <label>
            texture ≥ <input type="number" min={0} value={minTexture} onInput={(e) => setMinTexture(e.currentTarget.value)} /> px
          </label>
          <label>
            <input type="checkbox" checked={healthyOnly} onChange={(e) => setHealthyOnly(e.currentTarget.checked)} /> healthy only
          </label>
          <button type="submit">Search</button>
        </form>
        <ErrorBox error={error} />
        <div class="table-wrap">
          <table data-testid="node-list">
            <thead>
              <tr>
                <th>node</th>
                <th>health</th>
                <th>load</th>
                <th>reputation</th>
                <th>your RTT</th>
                <th>RTT to API</th>
                <th>GL</th>
                <th>RAM</th>
                <th>speed</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((n) => (
                <tr>
                  <td>
                    <i class="swatch" style={{ background: nodeColor(n.nodeId) }} /> <b>{n.card.name}</b> <small class="muted">{n.nodeId}</small>
                    {n.card.region && <small> · {n.card.region}</small>}
                  </td>
                  <td>{n.reputation?.blocklisted ? <span class="badge failed">blocklisted</span> : n.healthy ? <span class="badge done">healthy</span> : <span class="badge cancelled">silent</span>}</td>
                  <td>
                    {n.load.running}/{n.load.concurrency} running{n.load.queued ? `, ${n.load.queued} queued` : ''}
                  </td>
                  <td>{n.reputation ? `${n.reputation.verified} verified, ${n.reputation.disproven} outvoted` : '–'}</td>
                  <td>{rttOf(n.nodeId)?.toFixed(1) ?? '–'} ms</td>
                  <td>{n.rttToApiMs?.toFixed(1) ?? '–'} ms</td>
                  <td title={`${n.card.gl.vendor} · ${n.card.gl.version}`}>
                    {n.card.gl.renderer} · max texture {n.card.gl.maxTextureSize}
                  </td>
                  <td>{(n.card.ramBytes / 1024 ** 3).toFixed(1)} GiB</td>
                  <td>{n.card.tilesPerSecond.toFixed(2)} tiles/s</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
