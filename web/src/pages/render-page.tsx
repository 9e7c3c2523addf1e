/** New render: drop a scene (uploaded at once, checked by the API), preview it in 3D, set up the job, quote, submit. */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Quote, SceneUploaded } from '../../../api/client/index.ts';
import { describeError, ErrorBox } from '../errors.tsx';
import { JOB_FORM_DEFAULTS, jobRequest, type JobForm } from '../job-form.ts';
import { filesFromDrop, filesFromInput, packFiles, type PackedScene, type PickedFile } from '../pack-files.ts';
import { navigate } from '../route.ts';
import { ScenePreview, type SceneInfo } from '../scene-preview.ts';
import { rememberJob, type Session } from '../session.ts';

export function RenderPage({ session }: { session: Session }) {
  const [packed, setPacked] = useState<PackedScene>();
  const [info, setInfo] = useState<SceneInfo>();
  const [uploaded, setUploaded] = useState<SceneUploaded>();
  const [status, setStatus] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [previewError, setPreviewError] = useState('');
  const [dragging, setDragging] = useState(false);
  const [form, setForm] = useState<JobForm>(JOB_FORM_DEFAULTS);
  const [quote, setQuote] = useState<Quote>();
  const [busy, setBusy] = useState(false);
  const canvas = useRef<HTMLCanvasElement>(null);
  const preview = useRef<ScenePreview | undefined>(undefined);

  useEffect(() => () => preview.current?.dispose(), []);
  const set = (patch: Partial<JobForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setQuote(undefined);
  };

  async function accept(files: PickedFile[]) {
    setError(null);
    setPreviewError('');
    setUploaded(undefined);
    setQuote(undefined);
    setInfo(undefined);
    let scene: PackedScene;
    try {
      scene = await packFiles(files);
    } catch (err) {
      setError(err);
      return;
    }
    setPacked(scene);
    setStatus(`Uploading ${scene.name} (${formatBytes(scene.bytes.byteLength)})…`);
    const shown = showPreview(scene);
    try {
      const up = await session.client.uploadScene(scene.bytes, { contentType: scene.contentType });
      setUploaded(up);
      setStatus('');
    } catch (err) {
      setStatus('');
      setError(err);
    }
    await shown;
  }

  async function showPreview(scene: PackedScene) {
    try {
      if (!preview.current && canvas.current) preview.current = new ScenePreview(canvas.current);
      const sceneInfo = await preview.current!.load(scene.main, scene.files);
      setInfo(sceneInfo);
      const clip = sceneInfo.clips[0];
      if (clip) set({ framesMode: 'list', frames: `0-${Math.max(0, Math.ceil(clip.duration * form.fps) - 1)}` });
    } catch (err) {
      setPreviewError(`The preview cannot show this scene: ${describeError(err)}`);
    }
  }

  function request() {
    const view = form.cameraMode === 'view' ? preview.current?.view() : undefined;
    if (view) setForm((f) => ({ ...f, view }));
    return jobRequest(uploaded!.sceneId, { ...form, view });
  }

  async function askQuote() {
    setBusy(true);
    setError(null);
    try {
      setQuote(await session.client.quote(request()));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function submit() {
    setBusy(true);
    setError(null);
    try {
      const req = request();
      // RTTs from this browser to the nearest nodes send the tasks to the nodes nearest the viewer; a probe
      // that fails only loses that hint.
      const probed = await session.client.probe({ count: 3, timeoutMs: 1500 }).catch(() => undefined);
      const { jobId } = await session.client.submitJob({ ...req, ...(probed && probed.rtts.length ? { client: probed } : {}) });
      rememberJob(jobId, `${packed?.name ?? 'scene'} · ${form.width}×${form.height}`);
      navigate({ page: 'job', jobId });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <div class="render-page">
      <section class="card">
        <h2>Scene</h2>
        <div
          class={`drop ${dragging ? 'over' : ''}`}
          data-testid="drop-zone"
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={async (e) => {
            e.preventDefault();
            setDragging(false);
            if (e.dataTransfer) accept(await filesFromDrop(e.dataTransfer));
          }}
        >
          <p>
            Drop a <b>.glb</b>, a <b>.gltf</b> with its files (or its folder), or a <b>.zip</b> here.
          </p>
          <div class="row">
            <label class="button">
              Choose files…
              <input
                type="file"
                multiple
                accept=".glb,.gltf,.zip,.bin,.png,.jpg,.jpeg,.webp,.ktx2"
                data-testid="file-input"
                onChange={(e) => e.currentTarget.files && accept(filesFromInput(e.currentTarget.files))}
              />
            </label>
            <label class="button">
              Choose a folder…
              <input type="file" {...({ webkitdirectory: '' } as object)} onChange={(e) => e.currentTarget.files && accept(filesFromInput(e.currentTarget.files))} />
            </label>
          </div>
        </div>
        {status && <p role="status">{status}</p>}
        <ErrorBox error={error} />
        {uploaded && (
          <p class="ok" data-testid="scene-id" role="status">
            {packed?.name} uploaded: scene <code title={uploaded.sceneId}>{uploaded.sceneId.slice(0, 12)}…</code>, {formatBytes(uploaded.bytes)}
            {typeof uploaded.stats.triangles === 'number' ? `, ${uploaded.stats.triangles.toLocaleString()} triangles` : ''}
          </p>
        )}
      </section>

      <section class="card preview-card">
        <h2>Preview</h2>
        <canvas ref={canvas} class="preview" aria-label="3D preview of the scene (drag to orbit, scroll to zoom)" tabIndex={0} />
        {previewError && <p class="error">{previewError}</p>}
        {info && packed && (
          <p class="muted" data-testid="preview-ready">
            {packed.name}: {info.cameras.length} camera{info.cameras.length === 1 ? '' : 's'}, {info.clips.length} clip{info.clips.length === 1 ? '' : 's'}. Drag to orbit, scroll to zoom.
          </p>
        )}
        {info && (
          <div class="row">
            <label>
              View through
              <select onChange={(e) => preview.current?.useCamera(e.currentTarget.value === 'orbit' ? 'orbit' : Number(e.currentTarget.value))}>
                <option value="orbit">orbit camera</option>
                {info.cameras.map((c) => (
                  <option value={c.index}>{c.name}</option>
                ))}
              </select>
            </label>
            {info.clips.length > 0 && (
              <button class="quiet" onClick={() => preview.current && (preview.current.playing = !preview.current.playing)}>
                Play / pause
              </button>
            )}
          </div>
        )}
      </section>

      <section class="card job-form">
        <h2>Job</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          <fieldset>
            <legend>Frames</legend>
            <label>
              <input type="radio" name="framesMode" checked={form.framesMode === 'list'} onChange={() => set({ framesMode: 'list' })} /> frames
            </label>
            <input aria-label="frames" name="frames" value={form.frames} disabled={form.framesMode !== 'list'} onInput={(e) => set({ frames: e.currentTarget.value })} placeholder="0-47 or 0,6,12" />
            <label>
              <input type="radio" name="framesMode" checked={form.framesMode === 'clip'} onChange={() => set({ framesMode: 'clip' })} /> the whole clip
            </label>
            <label>
              clip
              <select name="clip" value={form.clip} onChange={(e) => set({ clip: e.currentTarget.value })}>
                <option value="">first clip</option>
                {info?.clips.map((c) => (
                  <option value={String(c.index)}>
                    {c.name} ({c.duration.toFixed(2)} s)
                  </option>
                ))}
                <option value="all">all clips</option>
                <option value="none">none (rest pose)</option>
              </select>
            </label>
            <label>
              fps <input type="number" name="fps" min={0.001} max={1000} step="any" value={form.fps} onInput={(e) => set({ fps: e.currentTarget.valueAsNumber })} />
            </label>
          </fieldset>
          <fieldset>
            <legend>Image</legend>
            <label>
              width <input type="number" name="width" min={1} max={16384} value={form.width} onInput={(e) => set({ width: e.currentTarget.valueAsNumber })} />
            </label>
            <label>
              height <input type="number" name="height" min={1} max={16384} value={form.height} onInput={(e) => set({ height: e.currentTarget.valueAsNumber })} />
            </label>
            <label>
              <input type="checkbox" name="tiled" checked={form.tiled} onChange={(e) => set({ tiled: e.currentTarget.checked })} /> tiles of
            </label>
            <input type="number" aria-label="tile size" name="tile" min={16} value={form.tile} disabled={!form.tiled} onInput={(e) => set({ tile: e.currentTarget.valueAsNumber })} />
            <label>
              ssaa
              <select name="ssaa" value={String(form.ssaa)} onChange={(e) => set({ ssaa: Number(e.currentTarget.value) })}>
                {[1, 2, 3, 4].map((n) => (
                  <option value={String(n)}>{n}×</option>
                ))}
              </select>
            </label>
            <FormChoice label="format" field="format" options={[['png', 'PNG'], ['webp', 'WebP'], ['jpeg', 'JPEG']]} form={form} set={set} />
            {form.format !== 'png' && (
              <label>
                quality <input type="number" name="quality" min={1} max={100} value={form.quality} onInput={(e) => set({ quality: e.currentTarget.valueAsNumber })} />
              </label>
            )}
          </fieldset>
          <fieldset>
            <legend>Camera</legend>
            <label>
              <input type="radio" name="cameraMode" checked={form.cameraMode === 'auto'} onChange={() => set({ cameraMode: 'auto' })} /> auto
            </label>
            {form.cameraMode === 'auto' && (
              <>
                <label>
                  yaw <input type="number" name="yaw" value={form.yaw} onInput={(e) => set({ yaw: e.currentTarget.valueAsNumber })} />
                </label>
                <label>
                  pitch <input type="number" name="pitch" min={-89} max={89} value={form.pitch} onInput={(e) => set({ pitch: e.currentTarget.valueAsNumber })} />
                </label>
                <label>
                  fov <input type="number" name="fov" min={1} max={170} value={form.fov} onInput={(e) => set({ fov: e.currentTarget.valueAsNumber })} />
                </label>
              </>
            )}
            <label>
              <input type="radio" name="cameraMode" checked={form.cameraMode === 'gltf'} disabled={!info?.cameras.length} onChange={() => set({ cameraMode: 'gltf' })} /> the scene's camera
            </label>
            {form.cameraMode === 'gltf' && (
              <select aria-label="glTF camera" value={String(form.gltfCamera)} onChange={(e) => set({ gltfCamera: Number(e.currentTarget.value) })}>
                {info?.cameras.map((c) => (
                  <option value={String(c.index)}>{c.name}</option>
                ))}
              </select>
            )}
            <label>
              <input type="radio" name="cameraMode" checked={form.cameraMode === 'view'} disabled={!info} onChange={() => set({ cameraMode: 'view', view: preview.current?.view() })} /> the preview's view
            </label>
            {form.cameraMode === 'view' && form.view && (
              <small class="muted">
                eye {form.view.position.join(', ')} → target {form.view.target.join(', ')}, fov {form.view.fov}° (taken when you quote or render)
              </small>
            )}
          </fieldset>
          <fieldset>
            <legend>Look</legend>
            <FormChoice label="background" field="backgroundMode" name="background" options={[['transparent', 'transparent'], ['environment', 'environment'], ['color', 'colour']]} form={form} set={set} />
            {form.backgroundMode === 'color' && <input type="color" aria-label="background colour" value={form.color} onInput={(e) => set({ color: e.currentTarget.value })} />}
            <FormChoice label="key light" field="keyLight" options={[['auto', 'auto'], ['on', 'on'], ['off', 'off']]} form={form} set={set} />
            <FormChoice label="shadows" field="shadows" options={[['on', 'on'], ['off', 'off']]} form={form} set={set} />
            <FormChoice label="ground" field="ground" options={[['none', 'none'], ['shadow', 'contact shadow']]} form={form} set={set} />
            <label>
              environment{' '}
              <input type="number" name="environmentIntensity" min={0} max={100} step="any" value={form.environmentIntensity} onInput={(e) => set({ environmentIntensity: e.currentTarget.valueAsNumber })} />
            </label>
            <FormChoice label="tone mapping" field="toneMapping" options={[['neutral', 'neutral'], ['aces', 'ACES'], ['none', 'none']]} form={form} set={set} />
            <label>
              exposure <input type="number" name="exposure" min={0.01} max={100} step="any" value={form.exposure} onInput={(e) => set({ exposure: e.currentTarget.valueAsNumber })} />
            </label>
          </fieldset>
          <div class="row">
            <button type="button" class="quiet" disabled={!uploaded || busy} onClick={askQuote}>
              Quote
            </button>
            <button type="submit" disabled={!uploaded || busy} data-testid="submit-job">
              Render
            </button>
          </div>
          {quote && (
            <dl class="quote" data-testid="quote">
              <dt>frames</dt>
              <dd>{quote.frames}</dd>
              <dt>tiles</dt>
              <dd>{quote.tiles}</dd>
              <dt>megapixels</dt>
              <dd>{formatNumber(quote.megapixels)}</dd>
              <dt>render time</dt>
              <dd>{formatNumber(quote.renderSeconds)} s</dd>
              <dt>wall time</dt>
              <dd>
                {formatNumber(quote.wallSeconds)} s on {quote.basis.nodes} node{quote.basis.nodes === 1 ? '' : 's'}
              </dd>
              <dt>price</dt>
              <dd>
                {formatNumber(quote.price.amount)} {quote.price.currency} (verification {Math.round(quote.verificationRate * 100)}% included)
              </dd>
            </dl>
          )}
        </form>
      </section>
    </div>
  );
}

export function formatBytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** Three significant digits, without exponent notation for small values. */
export function formatNumber(n: number): string {
  return n === 0 ? '0' : n >= 100 ? n.toFixed(0) : Number(n.toPrecision(3)).toString();
}

/** The form's fields whose values are one of a few strings. */
type ChoiceField = { [K in keyof JobForm]-?: JobForm[K] extends string ? K : never }[keyof JobForm];

/** A labelled select for one such field (its `name` the field's unless given), options as [value, text]. */
function FormChoice<K extends ChoiceField>(props: { label: string; field: K; name?: string; options: [JobForm[K], string][]; form: JobForm; set: (patch: Partial<JobForm>) => void }) {
  const { label, field, options, form, set } = props;
  return (
    <label>
      {label}
      <select name={props.name ?? field} value={form[field] as string} onChange={(e) => set({ [field]: e.currentTarget.value } as Partial<JobForm>)}>
        {options.map(([value, text]) => (
          <option value={value}>{text}</option>
        ))}
      </select>
    </label>
  );
}
