/**
 * One job, live: state, progress and ETA over the SDK's event stream (SSE, polling when it breaks), a tile grid
 * per frame coloured by state or by node, which nodes did what (ledger), retries and verification, cancel; and
 * the gallery of finished frames with a player, single downloads and a zip of all.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { isFinished, type JobFrames, type JobLedger, type JobStatus } from '../../../api/client/index.ts';
import { nodeColor, STATE_COLORS } from '../colors.ts';
import { frameFileName, saveAllFrames, saveFrame } from '../download.ts';
import { describeError, ErrorBox } from '../errors.tsx';
import type { Session } from '../session.ts';

type Task = JobStatus['tasks'][number];
const REFRESH_MS = 400;

export function JobPage({ session, jobId }: { session: Session; jobId: string }) {
  const { client } = session;
  const [status, setStatus] = useState<JobStatus>();
  const [frames, setFrames] = useState<JobFrames['frames']>([]);
  const [ledger, setLedger] = useState<JobLedger>();
  const [error, setError] = useState<unknown>(null);
  const [colorBy, setColorBy] = useState<'state' | 'node'>('state');
  // Bumped when a frame's presigned URL has expired (15 minutes): fetch fresh URLs.
  const [stale, setStale] = useState(0);
  const lastStale = useRef(0);
  // At most once a minute, so an image that fails for another reason cannot loop.
  const onStale = () => {
    if (Date.now() - lastStale.current < 60_000) return;
    lastStale.current = Date.now();
    setStale((n) => n + 1);
  };
  useEffect(() => {
    if (stale) client.frames(jobId).then((f) => setFrames([...f.frames].sort((a, b) => a.frame - b.frame)), setError);
  }, [stale]);
  // Node ids are long; show the names their cards give (ids stay in tooltips).
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    client.nodes().then((l) => setNames(Object.fromEntries(l.nodes.map((n) => [n.nodeId, n.card.name]))), () => {});
  }, [status?.tasks.filter((t) => t.node).length]);

  useEffect(() => {
    const ac = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    let again = false;
    // Events say something changed; the job's status says what (tiles, nodes, verification). Refreshes are
    // coalesced so a burst of events costs one request.
    const refresh = async () => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        const [s, f] = await Promise.all([client.getJob(jobId, { signal: ac.signal }), client.frames(jobId, { signal: ac.signal })]);
        setStatus(s);
        setFrames([...f.frames].sort((a, b) => a.frame - b.frame));
        if (isFinished(s.state) || f.frames.length) setLedger(await client.jobLedger(jobId, { signal: ac.signal }));
      } catch (err) {
        if (!ac.signal.aborted) setError(err);
      } finally {
        running = false;
        if (again) {
          again = false;
          schedule();
        }
      }
    };
    const schedule = () => {
      if (!timer) timer = setTimeout(() => ((timer = undefined), refresh()), REFRESH_MS);
    };
    refresh();
    client
      .waitForJob(jobId, { onEvent: schedule, signal: ac.signal })
      .then(() => refresh())
      .catch((err) => !ac.signal.aborted && setError(err));
    return () => {
      ac.abort();
      clearTimeout(timer);
    };
  }, [jobId]);

  const byFrame = useMemo(() => groupByFrame(status?.tasks ?? []), [status]);
  if (!status) return error ? <ErrorBox error={error} /> : <p class="loading">Loading job…</p>;
  const finished = isFinished(status.state);
  const renders = status.tasks.filter((t) => t.kind === 'render');
  const retries = status.tasks.reduce((n, t) => n + Math.max(0, t.attempts - 1), 0);
  // Stitches are sampled like tiles: both count here.
  const checked = status.tasks.filter((t) => t.kind === 'render' || t.kind === 'stitch');
  const stitches = checked.length - renders.length;
  const verification = countBy(checked.map((t) => t.verification?.state ?? 'not sampled'));
  const nodes = countBy(status.tasks.filter((t) => t.node).map((t) => t.node!));

  return (
    <div class="job-page">
      <section class="card">
        <h2>
          Job <code>{status.jobId}</code> <span class={`badge ${status.state}`} data-testid="job-state">{status.state}</span>
        </h2>
        <div class="progress" role="progressbar" aria-label="frames done" aria-valuemin={0} aria-valuemax={status.frames.total} aria-valuenow={status.frames.done}>
          <div style={{ width: `${(100 * status.tiles.done) / Math.max(1, status.tiles.total)}%` }} />
        </div>
        <p data-testid="job-progress">
          {status.frames.done}/{status.frames.total} frames · {status.tiles.done}/{status.tiles.total} tiles
          {!finished && status.etaSeconds !== null ? ` · about ${formatSeconds(status.etaSeconds)} left` : ''}
          {retries ? ` · ${retries} retr${retries === 1 ? 'y' : 'ies'}` : ''}
        </p>
        {status.error && <p class="error">{status.error}</p>}
        <ErrorBox error={error} />
        {!finished && (
          <button class="danger" onClick={() => confirm('Cancel this job? Frames already finished stay available.') && client.cancel(jobId).catch(setError)}>
            Cancel job
          </button>
        )}
      </section>

      <section class="card">
        <h2>Tiles</h2>
        <div class="row" role="radiogroup" aria-label="Colour tiles by">
          <label>
            <input type="radio" name="colorBy" checked={colorBy === 'state'} onChange={() => setColorBy('state')} /> by state
          </label>
          <label>
            <input type="radio" name="colorBy" checked={colorBy === 'node'} onChange={() => setColorBy('node')} /> by node
          </label>
        </div>
        <ul class="legend">
          {colorBy === 'state'
            ? Object.entries(STATE_COLORS).map(([s, c]) => (
                <li>
                  <i style={{ background: c }} /> {s}
                </li>
              ))
            : Object.entries(nodes).map(([n, count]) => (
                <li>
                  <i style={{ background: nodeColor(n) }} /> {names[n] ?? n} ({count} tasks)
                </li>
              ))}
        </ul>
        <div class="frames-grid">
          {[...byFrame].map(([frame, tasks]) => (
            <TileGrid frame={frame} tasks={tasks} colorBy={colorBy} names={names} />
          ))}
        </div>
      </section>

      <section class="card">
        <h2>Nodes and verification</h2>
        <table>
          <thead>
            <tr>
              <th>node</th>
              <th>tasks</th>
              <th>render-s (credited)</th>
              <th>megapixels</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(nodes).map(([n, count]) => {
              const l = ledger?.byNode[n];
              return (
                <tr>
                  <td title={n}>
                    <i class="swatch" style={{ background: nodeColor(n) }} /> {names[n] ?? n}
                  </td>
                  <td>{count}</td>
                  <td>{l ? l.renderSeconds.toFixed(2) : '–'}</td>
                  <td>{l ? l.megapixels.toFixed(2) : '–'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <p>
          Verification of {renders.length} render{stitches ? ` and ${stitches} stitch` : ''} results (sampled tiles are outlined):{' '}
          {Object.entries(verification)
            .map(([s, n]) => `${n} ${s}`)
            .join(', ')}
          {status.tasks.some((t) => t.kind === 'verify') ? ` · ${status.tasks.filter((t) => t.kind === 'verify').length} verifying renders and stitches` : ''}
        </p>
      </section>

      <Gallery session={session} jobId={jobId} frames={frames} onStale={onStale} />
    </div>
  );
}

function TileGrid({ frame, tasks, colorBy, names }: { frame: number; tasks: Task[]; colorBy: 'state' | 'node'; names: Record<string, string> }) {
  const renders = tasks.filter((t) => t.kind === 'render');
  const stitch = tasks.find((t) => t.kind === 'stitch');
  const width = Math.max(1, ...renders.map((t) => (t.tile ? t.tile.x + t.tile.width : 1)));
  const height = Math.max(1, ...renders.map((t) => (t.tile ? t.tile.y + t.tile.height : 1)));
  const done = stitch ? stitch.state === 'done' : renders.every((t) => t.state === 'done');
  return (
    <figure class={`tile-grid ${done ? 'done' : ''}`} data-testid="tile-grid">
      <div class="tiles" style={{ aspectRatio: `${width} / ${height}` }}>
        {renders.map((t) => {
          const r = t.tile ?? { x: 0, y: 0, width, height };
          const color = colorBy === 'state' ? STATE_COLORS[t.state] : t.state === 'queued' ? STATE_COLORS.queued : nodeColor(t.node);
          const route = t.route ? ` · routed: ${t.route.reason}${t.route.predictedRttMs !== null ? `, RTT ${t.route.predictedRttMs.toFixed(1)} ms` : ''}` : '';
          const v = t.verification ? ` · verification ${t.verification.state}${t.verification.verifiedBy.length ? ` by ${t.verification.verifiedBy.join(', ')}` : ''}` : '';
          return (
            <span
              style={{ left: `${(100 * r.x) / width}%`, top: `${(100 * r.y) / height}%`, width: `${(100 * r.width) / width}%`, height: `${(100 * r.height) / height}%`, background: color }}
              title={`${t.state}${t.node ? ` on ${names[t.node] ?? t.node}` : ''} · attempt ${t.attempts}${v}${route}${t.error ? ` · ${t.error}` : ''}`}
              class={t.verification ? 'sampled' : ''}
            />
          );
        })}
      </div>
      <figcaption>frame {frame}</figcaption>
    </figure>
  );
}

function Gallery({ session, jobId, frames, onStale }: { session: Session; jobId: string; frames: JobFrames['frames']; onStale(): void }) {
  const [index, setIndex] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [fps, setFps] = useState(12);
  const [zipping, setZipping] = useState('');
  const [error, setError] = useState<unknown>(null);
  const playRef = useRef<ReturnType<typeof setInterval>>(undefined);
  useEffect(() => {
    clearInterval(playRef.current);
    if (playing && frames.length > 1) playRef.current = setInterval(() => setIndex((i) => (i + 1) % frames.length), 1000 / fps);
    return () => clearInterval(playRef.current);
  }, [playing, fps, frames.length]);
  if (frames.length === 0)
    return (
      <section class="card">
        <h2>Frames</h2>
        <p class="muted">Frames appear here as they finish.</p>
      </section>
    );
  const current = frames[Math.min(index, frames.length - 1)];
  return (
    <section class="card gallery" data-testid="gallery">
      <h2>Frames</h2>
      <figure class="player">
        <img src={current.url} alt={`frame ${current.frame}`} data-testid="player-frame" onError={onStale} />
        <figcaption>
          frame {current.frame} · {frameFileName(current)}
        </figcaption>
      </figure>
      <div class="row">
        <button onClick={() => setPlaying(!playing)} disabled={frames.length < 2} aria-pressed={playing}>
          {playing ? 'Pause' : 'Play'}
        </button>
        <input type="range" aria-label="frame" min={0} max={frames.length - 1} value={Math.min(index, frames.length - 1)} onInput={(e) => setIndex(e.currentTarget.valueAsNumber)} />
        <label>
          fps <input type="number" min={1} max={60} value={fps} onInput={(e) => setFps(Math.max(1, e.currentTarget.valueAsNumber || 1))} />
        </label>
        <button class="quiet" onClick={() => saveFrame(session.client, current).catch(setError)}>
          Download frame
        </button>
        <button
          class="quiet"
          disabled={!!zipping}
          onClick={async () => {
            try {
              await saveAllFrames(session.client, jobId, frames, (n) => setZipping(`${n}/${frames.length}`));
            } catch (err) {
              setError(err);
            } finally {
              setZipping('');
            }
          }}
        >
          {zipping ? `Zipping ${zipping}…` : `Download all (${frames.length}, zip)`}
        </button>
      </div>
      <ErrorBox error={error} />
      <ol class="thumbs">
        {frames.map((f, i) => (
          <li>
            <button class={i === index ? 'current' : ''} onClick={() => setIndex(i)} aria-label={`show frame ${f.frame}`}>
              <img src={f.url} alt="" loading="lazy" data-testid="gallery-frame" data-frame={f.frame} data-sha256={f.checksum} onError={i === 0 ? onStale : undefined} />
            </button>
          </li>
        ))}
      </ol>
    </section>
  );
}

function groupByFrame(tasks: Task[]): Map<number, Task[]> {
  const out = new Map<number, Task[]>();
  for (const t of tasks) {
    if (t.kind === 'verify') continue;
    (out.get(t.frame) ?? out.set(t.frame, []).get(t.frame)!).push(t);
  }
  return new Map([...out].sort((a, b) => a[0] - b[0]));
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

export function formatSeconds(s: number): string {
  return s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
}

export { describeError };
