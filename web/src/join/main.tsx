/**
 * /join: this tab becomes a render node (browser-node.ts). It needs no API key: like `tessera node start`, it
 * registers itself and gets a node token, which lives only in this page's memory. The page shows the GL it
 * renders with, each tile it did (the last one drawn), and what the farm credited it (its own ledger).
 */
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { config as zodConfig } from 'zod';
import type { NodeLedger } from '../../../api/protocol/metering.ts';
import type { NodeCard } from '../../../api/protocol/node-card.ts';
import type { RawImage } from '../../../render-node/render/frame-renderer.ts';
import '../styles.css';
import { startBrowserNode, type BrowserNode, type BrowserNodeEvent, type TaskRecord } from './browser-node.ts';

// The page's CSP allows no eval: zod must not probe for it.
zodConfig({ jitless: true });

type Phase = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

function JoinPage() {
  const canvas = useRef<HTMLCanvasElement>(null);
  const lastTile = useRef<HTMLCanvasElement>(null);
  const node = useRef<BrowserNode | null>(null);
  const [name, setName] = useState(() => `browser-${Math.random().toString(36).slice(2, 8)}`);
  const [joinToken, setJoinToken] = useState('');
  const [phase, setPhase] = useState<Phase>('idle');
  const [status, setStatus] = useState('Not joined.');
  const [card, setCard] = useState<{ nodeId: string; card: NodeCard } | null>(null);
  const [tasks, setTasks] = useState<TaskRecord[]>([]);
  const [ledger, setLedger] = useState<NodeLedger['nodes'][number] | null>(null);
  const [errors, setErrors] = useState<string[]>([]);

  const onEvent = (e: BrowserNodeEvent) => {
    switch (e.type) {
      case 'status':
        setStatus(e.detail ? `${e.status}: ${e.detail}` : e.status);
        if (e.status === 'stopped') setPhase('stopped');
        break;
      case 'registered':
        setCard({ nodeId: e.nodeId, card: e.card });
        setPhase('running');
        break;
      case 'task':
        setTasks((t) => [e.record, ...t].slice(0, 200));
        if (e.image) drawTile(lastTile.current, e.image);
        break;
      case 'ledger':
        setLedger(e.ledger);
        break;
      case 'error':
        setErrors((x) => [e.message, ...x].slice(0, 5));
        break;
    }
  };

  const start = async () => {
    setPhase('starting');
    setErrors([]);
    try {
      node.current = await startBrowserNode({ api: location.origin, name, joinToken: joinToken.trim(), canvas: canvas.current!, onEvent });
    } catch (err) {
      setErrors((x) => [`could not join: ${(err as Error).message}`, ...x]);
      setPhase('idle');
      setStatus('Not joined.');
    }
  };
  const stop = async () => {
    setPhase('stopping');
    await node.current?.stop();
  };
  useEffect(() => () => void node.current?.stop(), []);

  const done = tasks.filter((t) => t.ok).length;
  const failed = tasks.length - done;
  return (
    <>
      <header class="top">
        <a class="brand" href="/">
          <span class="logo" aria-hidden="true" />
          Tessera
        </a>
        <nav aria-label="Pages">
          <a href="/join" aria-current="page">
            Join the farm
          </a>
        </nav>
      </header>
      <main class="join-page">
        <section class="card">
          <h2>Render with this tab</h2>
          <p class="muted">
            This tab renders tiles for the farm with WebGL 2, on the same protocol and the same render pipeline as <code>tessera node start</code>. Keep it
            open and visible; closing it hands its work back.
          </p>
          <form
            class="row"
            onSubmit={(e) => {
              e.preventDefault();
              void start();
            }}
          >
            <label>
              node name <input name="nodeName" value={name} maxLength={64} disabled={phase !== 'idle' && phase !== 'stopped'} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <label>
              join token{' '}
              <input
                name="joinToken"
                type="password"
                autocomplete="off"
                placeholder="if the farm asks for one"
                value={joinToken}
                disabled={phase !== 'idle' && phase !== 'stopped'}
                onInput={(e) => setJoinToken(e.currentTarget.value)}
              />
            </label>
            {phase === 'running' || phase === 'stopping' ? (
              <button type="button" class="danger" data-testid="stop" disabled={phase === 'stopping'} onClick={() => void stop()}>
                Stop
              </button>
            ) : (
              <button type="submit" data-testid="join" disabled={phase === 'starting' || !name.trim()}>
                {phase === 'starting' ? 'Joining…' : 'Join the farm'}
              </button>
            )}
          </form>
          <p data-testid="node-status" role="status">
            {status}
          </p>
          {errors.map((e) => (
            <p class="error">{e}</p>
          ))}
          {card && (
            <dl class="quote" data-testid="node-card">
              <dt>node</dt>
              <dd data-testid="node-id">{card.nodeId}</dd>
              <dt>GL</dt>
              <dd data-testid="gl-renderer">
                {card.card.gl.backend} · {card.card.gl.renderer} ({card.card.gl.vendor})
              </dd>
              <dt>limits</dt>
              <dd>
                textures {card.card.gl.maxTextureSize}px · framebuffer {card.card.gl.maxViewport.join('×')}
              </dd>
              <dt>speed</dt>
              <dd>{card.card.tilesPerSecond} reference tiles/s</dd>
              <dt>identity</dt>
              <dd>
                <code>{card.card.version}</code>
              </dd>
            </dl>
          )}
        </section>
        <section class="card">
          <h2>Work</h2>
          <dl class="quote">
            <dt>tiles rendered</dt>
            <dd data-testid="tiles-done">{done}</dd>
            <dt>failed or handed back</dt>
            <dd data-testid="tiles-failed">{failed}</dd>
            <dt>credited</dt>
            <dd data-testid="ledger">
              {ledger ? `${ledger.tiles} tiles · ${ledger.megapixels.toFixed(2)} MP · ${ledger.renderSeconds.toFixed(2)} render-s · ${ledger.jobs} jobs` : 'nothing yet'}
            </dd>
          </dl>
          <div class="row join-canvases">
            <figure>
              <canvas ref={lastTile} class="last-tile" width={1} height={1} aria-label="the last tile this tab rendered" />
              <figcaption class="muted">last tile</figcaption>
            </figure>
            {/* The renderer's own canvas: kept out of sight (it is resized to each framebuffer). */}
            <canvas ref={canvas} class="render-canvas" width={64} height={64} aria-hidden="true" />
          </div>
          <div class="table-wrap">
            <table data-testid="task-log">
              <thead>
                <tr>
                  <th>job</th>
                  <th>frame</th>
                  <th>tile</th>
                  <th>ms</th>
                  <th>result</th>
                </tr>
              </thead>
              <tbody>
                {tasks.map((t) => (
                  <tr class={t.ok ? '' : 'failed'}>
                    <td>
                      <code>{t.jobId.slice(0, 16)}</code>
                    </td>
                    <td>{t.frame}</td>
                    <td>{t.tile ? `${t.tile.x},${t.tile.y} ${t.tile.width}×${t.tile.height}` : 'frame'}</td>
                    <td>{t.ms}</td>
                    <td>{t.ok ? t.detail : <span class="bad">{t.detail}</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      </main>
    </>
  );
}

/** Show a rendered tile (straight-alpha RGBA8) on a 2D canvas. */
function drawTile(canvas: HTMLCanvasElement | null, image: RawImage): void {
  if (!canvas) return;
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d')?.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
}

render(<JoinPage />, document.getElementById('app')!);
