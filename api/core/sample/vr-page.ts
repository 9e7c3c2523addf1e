/**
 * The sample WebXR page the API serves at `GET /sample/vr?key=API_KEY&scene=SCENE_ID` (Node and Workers
 * alike: it is one string). Plain browser JavaScript, no build: it opens a session, streams poses and shows
 * each frame on a quad locked to the pose it was rendered for, seen through the current head rotation
 * (rotational time-warp), so the picture stays put while the head moves between frames.
 *  - With a headset (`immersive-vr`): the XR views' matrices are the poses; each eye sees its half.
 *  - Without: a desktop view with mouse-look (drag) drives the same poses (two eyes, side by side).
 * It shows RTT (ping), fps and pose→frame latency. `window.tessera` exposes the counters (tests read them).
 */
export const VR_SAMPLE_PAGE = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera VR session</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
html,body{margin:0;height:100%;background:#111;color:#ddd;font:14px system-ui,sans-serif}
#view{display:block;width:100%;height:calc(100% - 40px);cursor:grab}
#bar{height:40px;display:flex;gap:16px;align-items:center;padding:0 12px}
button{font:inherit}
</style></head>
<body>
<canvas id="view" width="1024" height="512"></canvas>
<div id="bar"><button id="enter" hidden>Enter VR</button><span id="stats">connecting…</span></div>
<script type="module">
const q = new URLSearchParams(location.search);
const key = q.get('key'), sceneId = q.get('scene'), eyeSize = q.get('eye') || '512x512';
const statsEl = document.getElementById('stats');
const canvas = document.getElementById('view');
const state = { frames: 0, posesSent: 0, latencies: [], rttMs: null, fps: 0, arrivals: [], errors: [], nodeId: null, yaw: 0, pitch: 0 };
window.tessera = state;

// ---- 4×4 column-major math ----
const mul = (a, b) => { const o = new Array(16); for (let c = 0; c < 4; c++) for (let r = 0; r < 4; r++) { let s = 0; for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k]; o[c * 4 + r] = s; } return o; };
function invert(m) {
  const inv = new Array(16);
  inv[0]=m[5]*m[10]*m[15]-m[5]*m[11]*m[14]-m[9]*m[6]*m[15]+m[9]*m[7]*m[14]+m[13]*m[6]*m[11]-m[13]*m[7]*m[10];
  inv[4]=-m[4]*m[10]*m[15]+m[4]*m[11]*m[14]+m[8]*m[6]*m[15]-m[8]*m[7]*m[14]-m[12]*m[6]*m[11]+m[12]*m[7]*m[10];
  inv[8]=m[4]*m[9]*m[15]-m[4]*m[11]*m[13]-m[8]*m[5]*m[15]+m[8]*m[7]*m[13]+m[12]*m[5]*m[11]-m[12]*m[7]*m[9];
  inv[12]=-m[4]*m[9]*m[14]+m[4]*m[10]*m[13]+m[8]*m[5]*m[14]-m[8]*m[6]*m[13]-m[12]*m[5]*m[10]+m[12]*m[6]*m[9];
  inv[1]=-m[1]*m[10]*m[15]+m[1]*m[11]*m[14]+m[9]*m[2]*m[15]-m[9]*m[3]*m[14]-m[13]*m[2]*m[11]+m[13]*m[3]*m[10];
  inv[5]=m[0]*m[10]*m[15]-m[0]*m[11]*m[14]-m[8]*m[2]*m[15]+m[8]*m[3]*m[14]+m[12]*m[2]*m[11]-m[12]*m[3]*m[10];
  inv[9]=-m[0]*m[9]*m[15]+m[0]*m[11]*m[13]+m[8]*m[1]*m[15]-m[8]*m[3]*m[13]-m[12]*m[1]*m[11]+m[12]*m[3]*m[9];
  inv[13]=m[0]*m[9]*m[14]-m[0]*m[10]*m[13]-m[8]*m[1]*m[14]+m[8]*m[2]*m[13]+m[12]*m[1]*m[10]-m[12]*m[2]*m[9];
  inv[2]=m[1]*m[6]*m[15]-m[1]*m[7]*m[14]-m[5]*m[2]*m[15]+m[5]*m[3]*m[14]+m[13]*m[2]*m[7]-m[13]*m[3]*m[6];
  inv[6]=-m[0]*m[6]*m[15]+m[0]*m[7]*m[14]+m[4]*m[2]*m[15]-m[4]*m[3]*m[14]-m[12]*m[2]*m[7]+m[12]*m[3]*m[6];
  inv[10]=m[0]*m[5]*m[15]-m[0]*m[7]*m[13]-m[4]*m[1]*m[15]+m[4]*m[3]*m[13]+m[12]*m[1]*m[7]-m[12]*m[3]*m[5];
  inv[14]=-m[0]*m[5]*m[14]+m[0]*m[6]*m[13]+m[4]*m[1]*m[14]-m[4]*m[2]*m[13]-m[12]*m[1]*m[6]+m[12]*m[2]*m[5];
  inv[3]=-m[1]*m[6]*m[11]+m[1]*m[7]*m[10]+m[5]*m[2]*m[11]-m[5]*m[3]*m[10]-m[9]*m[2]*m[7]+m[9]*m[3]*m[6];
  inv[7]=m[0]*m[6]*m[11]-m[0]*m[7]*m[10]-m[4]*m[2]*m[11]+m[4]*m[3]*m[10]+m[8]*m[2]*m[7]-m[8]*m[3]*m[6];
  inv[11]=-m[0]*m[5]*m[11]+m[0]*m[7]*m[9]+m[4]*m[1]*m[11]-m[4]*m[3]*m[9]-m[8]*m[1]*m[7]+m[8]*m[3]*m[5];
  inv[15]=m[0]*m[5]*m[10]-m[0]*m[6]*m[9]-m[4]*m[1]*m[10]+m[4]*m[2]*m[9]+m[8]*m[1]*m[6]-m[8]*m[2]*m[5];
  const det = m[0]*inv[0]+m[1]*inv[4]+m[2]*inv[8]+m[3]*inv[12];
  return inv.map((v) => v / det);
}
const rotationOnly = (m) => [m[0],m[1],m[2],0,m[4],m[5],m[6],0,m[8],m[9],m[10],0,0,0,0,1];
function perspective(fovDeg, aspect, near, far) { const f = 1 / Math.tan(fovDeg * Math.PI / 360), nf = 1 / (near - far); return [f/aspect,0,0,0,0,f,0,0,0,0,(far+near)*nf,-1,0,0,2*far*near*nf,0]; }
function lookAt(eye, target) {
  const sub=(a,b)=>[a[0]-b[0],a[1]-b[1],a[2]-b[2]], cross=(a,b)=>[a[1]*b[2]-a[2]*b[1],a[2]*b[0]-a[0]*b[2],a[0]*b[1]-a[1]*b[0]], norm=(a)=>{const l=Math.hypot(...a)||1;return a.map(v=>v/l)}, dot=(a,b)=>a[0]*b[0]+a[1]*b[1]+a[2]*b[2];
  const z = norm(sub(eye, target)), x = norm(cross([0,1,0], z)), y = cross(z, x);
  return [x[0],y[0],z[0],0,x[1],y[1],z[1],0,x[2],y[2],z[2],0,-dot(x,eye),-dot(y,eye),-dot(z,eye),1];
}

// ---- GL: a quad per eye, at infinity in the direction the frame was rendered, seen through today's rotation ----
const gl = canvas.getContext('webgl', { preserveDrawingBuffer: true, xrCompatible: true });
const vs = 'attribute vec2 c; uniform mat4 frameInvVP; uniform mat4 nowVP; uniform vec2 uv0; varying vec2 uv;' +
  'void main(){ vec4 d = frameInvVP * vec4(c, 1.0, 1.0); vec3 dir = d.xyz / d.w; gl_Position = nowVP * vec4(dir, 0.0); gl_Position.z = 0.0;' +
  ' uv = vec2(uv0.x + (c.x * 0.5 + 0.5) * uv0.y, 1.0 - (c.y * 0.5 + 0.5)); }';
const fs = 'precision mediump float; varying vec2 uv; uniform sampler2D t; void main(){ gl_FragColor = texture2D(t, uv); }';
function shader(type, src) { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s); if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s)); return s; }
const prog = gl.createProgram(); gl.attachShader(prog, shader(gl.VERTEX_SHADER, vs)); gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, fs)); gl.linkProgram(prog);
const buf = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, buf); gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1,-1, 1,-1, -1,1, 1,1]), gl.STATIC_DRAW);
const tex = gl.createTexture(); gl.bindTexture(gl.TEXTURE_2D, tex);
for (const [p, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR], [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, p, v);
let shown = null; // { eyes: [{view, projection}] } of the frame in the texture

function drawEye(i, nowView, nowProj, vp) {
  if (!shown) return;
  const e = shown.eyes[Math.min(i, shown.eyes.length - 1)];
  gl.viewport(vp.x, vp.y, vp.w, vp.h);
  gl.useProgram(prog);
  gl.bindBuffer(gl.ARRAY_BUFFER, buf);
  const loc = gl.getAttribLocation(prog, 'c'); gl.enableVertexAttribArray(loc); gl.vertexAttribPointer(loc, 2, gl.FLOAT, false, 0, 0);
  gl.uniformMatrix4fv(gl.getUniformLocation(prog, 'frameInvVP'), false, invert(mul(e.projection, rotationOnly(e.view))));
  gl.uniformMatrix4fv(gl.getUniformLocation(prog, 'nowVP'), false, mul(nowProj, rotationOnly(nowView)));
  gl.uniform2f(gl.getUniformLocation(prog, 'uv0'), shown.eyes.length > 1 ? Math.min(i, 1) * 0.5 : 0, shown.eyes.length > 1 ? 0.5 : 1);
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.drawArrays(gl.TRIANGLE_STRIP, 0, 4);
}

// ---- session ----
async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json();
  if (!res.ok) throw new Error(json.code + ': ' + json.message);
  return json;
}
const placed = await api('POST', '/v1/sessions', { sceneId, eye: eyeSize, client: { rtts: [] } });
state.nodeId = placed.nodeId; state.sessionId = placed.sessionId;
const ws = new WebSocket(placed.url); ws.binaryType = 'arraybuffer';
let ready = null, seq = 0;
const sent = new Map();
ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', ticket: placed.ticket }));
ws.onclose = (ev) => { statsEl.textContent = 'session closed: ' + ev.code + ' ' + ev.reason; };
ws.onmessage = async (ev) => {
  if (typeof ev.data === 'string') {
    const m = JSON.parse(ev.data);
    if (m.type === 'ready') ready = m;
    if (m.type === 'pong') state.rttMs = performance.now() - m.sentAt;
    return;
  }
  const bytes = new Uint8Array(ev.data), n = new DataView(ev.data).getUint32(0, false);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(4, 4 + n)));
  const image = bytes.subarray(4 + n, 4 + n + header.imageBytes);
  const bitmap = await createImageBitmap(new Blob([image], { type: 'image/' + header.format }));
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
  shown = { eyes: header.eyes };
  const now = performance.now();
  state.frames++;
  state.latencies.push(now - (sent.get(header.seq) ?? header.sentAt)); if (state.latencies.length > 120) state.latencies.shift();
  state.arrivals.push(now); while (state.arrivals[0] < now - 1000) state.arrivals.shift();
  state.fps = state.arrivals.length;
};
setInterval(() => { if (ws.readyState === 1) ws.send(JSON.stringify({ type: 'ping', id: ++seq, sentAt: performance.now() })); }, 1000);
function sendPose(eyes) {
  if (!ready || ws.readyState !== 1 || ws.bufferedAmount > 65536) return;
  const s = ++seq, t = performance.now();
  sent.set(s, t); if (sent.size > 500) sent.delete(sent.keys().next().value);
  ws.send(JSON.stringify({ type: 'pose', seq: s, sentAt: t, eyes: eyes.map((e) => ({ view: Array.from(e.view), projection: Array.from(e.projection) })) }));
  state.posesSent++;
}
setInterval(() => {
  const l = [...state.latencies].sort((a, b) => a - b);
  statsEl.textContent = 'node ' + state.nodeId + ' · RTT ' + (state.rttMs?.toFixed(0) ?? '–') + ' ms · ' + state.fps + ' fps · pose→frame p50 ' + (l.length ? l[l.length >> 1].toFixed(0) : '–') + ' ms';
}, 250);

// ---- desktop: mouse-look drives the poses ----
let drag = null;
canvas.addEventListener('pointerdown', (e) => { drag = { x: e.clientX, y: e.clientY }; canvas.setPointerCapture(e.pointerId); });
canvas.addEventListener('pointerup', () => { drag = null; });
canvas.addEventListener('pointermove', (e) => {
  if (!drag) return;
  state.yaw += (e.clientX - drag.x) * 0.3; state.pitch = Math.max(-80, Math.min(80, state.pitch - (e.clientY - drag.y) * 0.3));
  drag = { x: e.clientX, y: e.clientY };
});
function desktopEyes() {
  const s = ready.start, ipd = 0.064;
  const d = [s.target[0] - s.position[0], s.target[1] - s.position[1], s.target[2] - s.position[2]];
  const r = Math.hypot(...d), yaw0 = Math.atan2(d[0], -d[2]), pitch0 = Math.asin(d[1] / r);
  const yaw = yaw0 + state.yaw * Math.PI / 180, pitch = pitch0 + state.pitch * Math.PI / 180;
  const fwd = [Math.sin(yaw) * Math.cos(pitch), Math.sin(pitch), -Math.cos(yaw) * Math.cos(pitch)];
  const right = [Math.cos(yaw), 0, Math.sin(yaw)];
  const [ew, eh] = eyeSize.split('x').map(Number);
  const proj = perspective(s.fov, ew / eh, 0.05, 1000);
  return [-0.5, 0.5].map((k) => {
    const p = [s.position[0] + right[0] * ipd * k, s.position[1], s.position[2] + right[2] * ipd * k];
    return { view: lookAt(p, [p[0] + fwd[0], p[1] + fwd[1], p[2] + fwd[2]]), projection: proj };
  });
}
function desktopLoop() {
  if (!xrSession) {
    if (ready) {
      const eyes = desktopEyes();
      sendPose(eyes);
      gl.bindFramebuffer(gl.FRAMEBUFFER, null);
      gl.clearColor(0.07, 0.07, 0.07, 1); gl.clear(gl.COLOR_BUFFER_BIT);
      const w = canvas.width / 2;
      eyes.forEach((e, i) => drawEye(i, e.view, e.projection, { x: i * w, y: 0, w, h: canvas.height }));
    }
    requestAnimationFrame(desktopLoop);
  }
}
let xrSession = null;
requestAnimationFrame(desktopLoop);

// ---- immersive-vr: the XR views are the poses; each eye sees its half, time-warped to today's rotation ----
if (navigator.xr && await navigator.xr.isSessionSupported('immersive-vr').catch(() => false)) {
  const button = document.getElementById('enter');
  button.hidden = false;
  button.onclick = async () => {
    xrSession = await navigator.xr.requestSession('immersive-vr');
    await gl.makeXRCompatible();
    xrSession.updateRenderState({ baseLayer: new XRWebGLLayer(xrSession, gl) });
    const space = await xrSession.requestReferenceSpace('local');
    const onFrame = (t, frame) => {
      const pose = frame.getViewerPose(space);
      if (pose && ready) {
        sendPose(pose.views.map((v) => ({ view: v.transform.inverse.matrix, projection: v.projectionMatrix })));
        const layer = xrSession.renderState.baseLayer;
        gl.bindFramebuffer(gl.FRAMEBUFFER, layer.framebuffer);
        gl.clearColor(0, 0, 0, 1); gl.clear(gl.COLOR_BUFFER_BIT);
        pose.views.forEach((v, i) => { const vp = layer.getViewport(v); drawEye(i, v.transform.inverse.matrix, v.projectionMatrix, { x: vp.x, y: vp.y, w: vp.width, h: vp.height }); });
      }
      xrSession.requestAnimationFrame(onFrame);
    };
    xrSession.addEventListener('end', () => { xrSession = null; requestAnimationFrame(desktopLoop); });
    xrSession.requestAnimationFrame(onFrame);
  };
}
</script></body></html>`;
