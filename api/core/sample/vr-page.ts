/**
 * The sample WebXR page the API serves at `GET /sample/vr?key=API_KEY&scene=SCENE_ID` (Node and Workers
 * alike: it is one string). Plain browser JavaScript, no build: it opens a session, streams poses and shows
 * each frame on a quad locked to the pose it was rendered for, seen through the current head rotation
 * (rotational time-warp), so the picture stays put while the head moves between frames.
 *  - With a headset (`immersive-vr`): the XR views' matrices are the poses, with the XR 'local' space anchored
 *    at the session's start camera (the head's first position and heading put where that camera stands, facing
 *    its target); each eye sees its half of the frame in the XR layer. Tested with an emulated Meta Quest 3
 *    (Meta's `iwer` runtime injected into real Chromium: test/farm/vr-page.test.ts).
 *  - Without: a desktop view with mouse-look (drag) drives the same poses (two eyes, side by side).
 * It shows RTT (ping), fps and pose→frame latency. `window.tessera` exposes the counters (tests read them).
 *
 * With `&fidelity=fast` the session draws the fast look (SessionFidelity: baked sky, shadow maps sized to the eye).
 * With `&depth=1` the session sends depth frames (linear millimetres, rg8-mm-png) and the page reprojects
 * positionally as well: each eye's image becomes a grid mesh whose vertices sit at their depth in the world
 * (unprojected with the pose the frame was rendered for; the background at infinity), drawn with the current
 * view and projection and written to the depth buffer (which an XR compositor may use for its own
 * reprojection unless the layer ignores depth values). Head translation between frames then shows parallax
 * instead of a picture glued to the head.
 *
 * Like the SDK, the page reports frames for verification (session-sample.ts): the `verifyFirst`-th frame of each
 * node's session (default 600; `&verifyFirst=N`), then every 5400th, at most 3; a frame the API disproves moves the
 * session to another node. `window.tessera.verification` counts the verdicts.
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
const key = q.get('key'), sceneId = q.get('scene'), eyeSize = q.get('eye') || '512x512', wantDepth = q.get('depth') === '1', fidelity = q.get('fidelity') === 'fast' ? 'fast' : 'full';
const statsEl = document.getElementById('stats');
const canvas = document.getElementById('view');
// offset: a head translation applied to the drawing only (not to the poses sent), holdPoses: send none (tests).
const state = { frames: 0, depthFrames: 0, centerDepthMm: null, posesSent: 0, reopens: 0, closed: null, latencies: [], rttMs: null, fps: 0, arrivals: [], errors: [], nodeId: null, yaw: 0, pitch: 0, offset: [0, 0, 0], holdPoses: false };
window.tessera = state;
// Frame verification, as the SDK does it: which frames of each node's session are reported, and the verdicts.
const verifyFirst = Math.max(1, Number(q.get('verifyFirst')) || 600), verifyEvery = 5400, verifyMax = 3;
let sessionFrames = 0, sessionSamples = 0;
state.verification = { reported: 0, agreed: 0, disproven: 0, inconclusive: 0, refused: 0 };

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
// Each corner's direction is unprojected through the frame's near plane (z = -1), which stays finite for a
// projection with an infinite far plane (some XR runtimes report one), where the far plane's w would be 0.
const gl = canvas.getContext('webgl', { preserveDrawingBuffer: true, xrCompatible: true });
const vs = 'attribute vec2 c; uniform mat4 frameInvVP; uniform mat4 nowVP; uniform vec2 uv0; varying vec2 uv;' +
  'void main(){ vec4 d = frameInvVP * vec4(c, -1.0, 1.0); vec3 dir = d.xyz / d.w; gl_Position = nowVP * vec4(dir, 0.0); gl_Position.z = 0.0;' +
  ' uv = vec2(uv0.x + (c.x * 0.5 + 0.5) * uv0.y, 1.0 - (c.y * 0.5 + 0.5)); }';
const fs = 'precision mediump float; varying vec2 uv; uniform sampler2D t; void main(){ gl_FragColor = texture2D(t, uv); }';
function shader(type, src) { const s = gl.createShader(type); gl.shaderSource(s, src); gl.compileShader(s); if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s)); return s; }
const prog = gl.createProgram(); gl.attachShader(prog, shader(gl.VERTEX_SHADER, vs)); gl.attachShader(prog, shader(gl.FRAGMENT_SHADER, fs)); gl.linkProgram(prog);
const buf = gl.createBuffer(); gl.bindBuffer(gl.ARRAY_BUFFER, buf); gl.bufferData(gl.ARRAY_BUFFER, new Float32Array([-1,-1, 1,-1, -1,1, 1,1]), gl.STATIC_DRAW);
const tex = gl.createTexture(); gl.bindTexture(gl.TEXTURE_2D, tex);
for (const [p, v] of [[gl.TEXTURE_MIN_FILTER, gl.LINEAR], [gl.TEXTURE_MAG_FILTER, gl.LINEAR], [gl.TEXTURE_WRAP_S, gl.CLAMP_TO_EDGE], [gl.TEXTURE_WRAP_T, gl.CLAMP_TO_EDGE]]) gl.texParameteri(gl.TEXTURE_2D, p, v);
let shown = null; // { eyes: [{view, projection}], meshes: [Float32Array per eye] | null } of the frame in the texture

// ---- depth: decode the rg8-mm-png (inflate + unfilter: exact bytes, no colour management) ----
async function decodeDepthPng(png) {
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let w = 0, h = 0, ch = 0; const idat = [];
  for (let p = 8; p + 8 <= png.length;) {
    const len = dv.getUint32(p), type = String.fromCharCode(png[p + 4], png[p + 5], png[p + 6], png[p + 7]);
    if (type === 'IHDR') { w = dv.getUint32(p + 8); h = dv.getUint32(p + 12); ch = png[p + 17] === 2 ? 3 : png[p + 17] === 6 ? 4 : 0; }
    else if (type === 'IDAT') idat.push(png.subarray(p + 8, p + 8 + len));
    else if (type === 'IEND') break;
    p += 12 + len;
  }
  if (!ch || png[24] !== 8) throw new Error('depth image is not an 8-bit RGB(A) PNG');
  const raw = new Uint8Array(await new Response(new Blob(idat).stream().pipeThrough(new DecompressionStream('deflate'))).arrayBuffer());
  const stride = w * ch, px = new Uint8Array(h * stride), mm = new Uint16Array(w * h);
  for (let y = 0; y < h; y++) {
    const f = raw[y * (stride + 1)], line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), o = y * stride;
    if (f === 0) { px.set(line, o); continue; }
    for (let i = 0; i < stride; i++) {
      const a = i >= ch ? px[o + i - ch] : 0, b = y ? px[o - stride + i] : 0, c = y && i >= ch ? px[o - stride + i - ch] : 0;
      let v = line[i];
      if (f === 1) v += a; else if (f === 2) v += b; else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) { const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c); v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c; }
      px[o + i] = v & 255;
    }
  }
  for (let i = 0; i < w * h; i++) mm[i] = (px[i * ch] << 8) | px[i * ch + 1];
  return { width: w, height: h, mm };
}
const GRID = 128;
/**
 * One eye's grid: vertices [x, y, z, w, u, v], each at its depth in the world (w = 0: the background, at
 * infinity), and the triangles to draw: none across a depth edge (a near surface against a far one), which
 * would smear into a wall when the head moves; what such a gap uncovers was not rendered, so it stays empty.
 */
function depthMesh(depth, e, eye, eyes) {
  const ew = depth.width / eyes, eh = depth.height, invP = invert(e.projection), invV = invert(e.view), out = new Float32Array((GRID + 1) * (GRID + 1) * 6);
  const at = new Float32Array((GRID + 1) * (GRID + 1));
  let k = 0;
  for (let gy = 0; gy <= GRID; gy++) for (let gx = 0; gx <= GRID; gx++) {
    const px = Math.round(gx / GRID * (ew - 1)), py = Math.round(gy / GRID * (eh - 1));
    const mm = depth.mm[py * depth.width + eye * ew + px];
    const nx = (px + 0.5) / ew * 2 - 1, ny = 1 - (py + 0.5) / eh * 2;
    const d = [invP[0]*nx + invP[4]*ny + invP[8] + invP[12], invP[1]*nx + invP[5]*ny + invP[9] + invP[13], invP[2]*nx + invP[6]*ny + invP[10] + invP[14], invP[3]*nx + invP[7]*ny + invP[11] + invP[15]];
    const dir = [d[0] / d[3], d[1] / d[3], d[2] / d[3]];
    const far = mm >= 65535, s = far ? 1 : (mm / 1000) / -dir[2];
    const v = [dir[0] * s, dir[1] * s, dir[2] * s, far ? 0 : 1];
    for (let r = 0; r < 4; r++) out[k + r] = invV[r] * v[0] + invV[4 + r] * v[1] + invV[8 + r] * v[2] + invV[12 + r] * v[3];
    out[k + 4] = (eye * ew + px + 0.5) / depth.width; out[k + 5] = (py + 0.5) / eh;
    at[k / 6] = far ? Infinity : mm;
    k += 6;
  }
  const ix = [];
  const joined = (a, b, c) => {
    const lo = Math.min(at[a], at[b], at[c]), hi = Math.max(at[a], at[b], at[c]);
    return hi === Infinity ? lo === Infinity : hi <= lo * 1.05 + 20;
  };
  for (let y = 0; y < GRID; y++) for (let x = 0; x < GRID; x++) {
    const a = y * (GRID + 1) + x, b = a + 1, c = a + GRID + 1, d = c + 1;
    if (joined(a, b, c)) ix.push(a, b, c);
    if (joined(b, d, c)) ix.push(b, d, c);
  }
  return { vertices: out, indices: new Uint16Array(ix) };
}
const dvs = 'attribute vec4 p; attribute vec2 tuv; uniform mat4 nowVP; varying vec2 uv;' +
  'void main(){ gl_Position = nowVP * p; if (p.w == 0.0) gl_Position.z = gl_Position.w * 0.99999; uv = tuv; }';
const dprog = gl.createProgram(); gl.attachShader(dprog, shader(gl.VERTEX_SHADER, dvs)); gl.attachShader(dprog, shader(gl.FRAGMENT_SHADER, fs)); gl.linkProgram(dprog);
const meshBuf = gl.createBuffer(), indexBuf = gl.createBuffer();

function drawEye(i, nowView, nowProj, vp) {
  if (!shown) return;
  const e = shown.eyes[Math.min(i, shown.eyes.length - 1)];
  gl.viewport(vp.x, vp.y, vp.w, vp.h);
  if (shown.meshes) {
    // Positional + rotational reprojection: the frame's surfaces where they are, seen from where the head is now.
    gl.enable(gl.DEPTH_TEST);
    gl.useProgram(dprog);
    const mesh = shown.meshes[Math.min(i, shown.meshes.length - 1)];
    gl.bindBuffer(gl.ARRAY_BUFFER, meshBuf);
    gl.bufferData(gl.ARRAY_BUFFER, mesh.vertices, gl.STREAM_DRAW);
    const lp = gl.getAttribLocation(dprog, 'p'), lt = gl.getAttribLocation(dprog, 'tuv');
    gl.enableVertexAttribArray(lp); gl.vertexAttribPointer(lp, 4, gl.FLOAT, false, 24, 0);
    gl.enableVertexAttribArray(lt); gl.vertexAttribPointer(lt, 2, gl.FLOAT, false, 24, 16);
    gl.uniformMatrix4fv(gl.getUniformLocation(dprog, 'nowVP'), false, mul(nowProj, nowView));
    gl.bindBuffer(gl.ELEMENT_ARRAY_BUFFER, indexBuf);
    gl.bufferData(gl.ELEMENT_ARRAY_BUFFER, mesh.indices, gl.STREAM_DRAW);
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.drawElements(gl.TRIANGLES, mesh.indices.length, gl.UNSIGNED_SHORT, 0);
    gl.disableVertexAttribArray(lt);
    gl.disable(gl.DEPTH_TEST);
    return;
  }
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
// A session whose node stopped, lost the connection or dropped the session is re-opened through the API on
// another node (as the SDK does), at most 3 times; bad input (codes 4000–4013, 1009) is not retried.
const REOPEN = new Set([1001, 1006, 1011, 4020, 4021, 4022]);
let ws = null, ready = null, seq = 0, reopens = 0;
const sent = new Map();
async function open(excludeNodes) {
  const placed = await api('POST', '/v1/sessions', { sceneId, eye: eyeSize, depth: wantDepth, fidelity, client: { rtts: [] }, ...(excludeNodes.length ? { excludeNodes } : {}) });
  state.nodeId = placed.nodeId; state.sessionId = placed.sessionId;
  ready = null; state.closed = null; sessionFrames = 0; sessionSamples = 0;
  ws = new WebSocket(placed.url); ws.binaryType = 'arraybuffer';
  ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', ticket: placed.ticket }));
  ws.onclose = (ev) => {
    state.closed = 'session closed: ' + ev.code + ' ' + ev.reason;
    if (!REOPEN.has(ev.code) || reopens >= 3) return;
    reopens++; state.reopens = reopens;
    state.closed += ' · re-opening';
    void reopen(ev.code === 4020 ? [] : [placed.nodeId]);
  };
  ws.onmessage = onMessage;
}
// Elsewhere if another node can take it, else anywhere (the same node once it has reported its slot free),
// backing off from 0.5 s to 8 s over about half a minute before giving up.
async function reopen(excludeNodes) {
  for (let attempt = 0; ; attempt++) {
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** attempt, 8000)));
    try {
      return await open(attempt === 0 ? excludeNodes : []);
    } catch (err) {
      if (attempt >= 6) { state.closed = 'could not re-open the session: ' + err.message; return; }
      state.closed = 'session closed · re-opening (' + err.message + ')';
    }
  }
}
// The first open retries the same way while the farm has no room (503) or cannot be reached.
await open([]).catch((err) => { state.closed = 'opening the session: ' + err.message; return reopen([]); });
async function onMessage(ev) {
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
  let meshes = null;
  if (header.depth) {
    const depth = await decodeDepthPng(bytes.subarray(4 + n + header.imageBytes, 4 + n + header.imageBytes + header.depth.bytes));
    meshes = header.eyes.map((e, i) => depthMesh(depth, e, i, header.eyes.length));
    state.depthFrames++;
    const ew = depth.width / header.eyes.length;
    state.centerDepthMm = depth.mm[(depth.height >> 1) * depth.width + (ew >> 1)];
  }
  gl.bindTexture(gl.TEXTURE_2D, tex);
  gl.texImage2D(gl.TEXTURE_2D, 0, gl.RGBA, gl.RGBA, gl.UNSIGNED_BYTE, bitmap);
  shown = { eyes: header.eyes, meshes };
  const now = performance.now();
  state.frames++;
  sessionFrames++;
  if (header.mac && sessionSamples < verifyMax && sessionFrames >= verifyFirst && (sessionFrames - verifyFirst) % verifyEvery === 0) {
    sessionSamples++;
    void verifyFrame(ws, state.sessionId, state.nodeId, header, image.slice());
  }
  state.latencies.push(now - (sent.get(header.seq) ?? header.sentAt)); if (state.latencies.length > 120) state.latencies.shift();
  state.arrivals.push(now); while (state.arrivals[0] < now - 1000) state.arrivals.shift();
  state.fps = state.arrivals.length;
}
// Report a frame (its bytes, its pose and the node's signature) and wait for the verdict; a disproven frame's node is left.
async function verifyFrame(socket, sessionId, nodeId, header, image) {
  const v = state.verification;
  let text = '';
  for (let i = 0; i < image.length; i += 0x8000) text += String.fromCharCode.apply(null, image.subarray(i, i + 0x8000));
  v.reported++;
  let sample;
  try {
    sample = await api('POST', '/v1/sessions/' + sessionId + '/samples', { seq: header.seq, eyes: header.eyes, width: header.width, height: header.height, format: header.format, image: btoa(text), mac: header.mac });
    while (!['agreed', 'disproven', 'inconclusive'].includes(sample.state)) {
      await new Promise((r) => setTimeout(r, 1000));
      sample = await api('GET', '/v1/sessions/' + sessionId + '/samples/' + sample.sampleId);
    }
  } catch (err) {
    v.refused++; // unverifiable here (one node, a fast session), or unsigned
    return;
  }
  v[sample.state]++;
  if (sample.state === 'disproven' && ws === socket) {
    socket.onclose = null; socket.close(1000, 'a frame was disproven');
    reopens++; state.reopens = reopens; state.closed = 'a frame of node ' + nodeId + ' was disproven · re-opening';
    void reopen([nodeId]);
  }
}
setInterval(() => { if (ws && ws.readyState === 1) ws.send(JSON.stringify({ type: 'ping', id: ++seq, sentAt: performance.now() })); }, 1000);
function sendPose(eyes) {
  if (state.holdPoses || !ready || !ws || ws.readyState !== 1 || ws.bufferedAmount > 65536) return;
  const s = ++seq, t = performance.now();
  sent.set(s, t); if (sent.size > 500) sent.delete(sent.keys().next().value);
  ws.send(JSON.stringify({ type: 'pose', seq: s, sentAt: t, eyes: eyes.map((e) => ({ view: Array.from(e.view), projection: Array.from(e.projection) })) }));
  state.posesSent++;
}
setInterval(() => {
  const l = [...state.latencies].sort((a, b) => a - b);
  if (state.closed || state.xrError) { statsEl.textContent = state.closed || state.xrError; return; }
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
      gl.clearColor(0.07, 0.07, 0.07, 1); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      const w = canvas.width / 2;
      // The drawing may see the head moved by state.offset since the poses were sent (tests of reprojection).
      const o = state.offset, moved = [1,0,0,0, 0,1,0,0, 0,0,1,0, -o[0],-o[1],-o[2],1];
      eyes.forEach((e, i) => drawEye(i, mul(e.view, moved), e.projection, { x: i * w, y: 0, w, h: canvas.height }));
    }
    requestAnimationFrame(desktopLoop);
  }
}
let xrSession = null;
requestAnimationFrame(desktopLoop);

// ---- immersive-vr: the XR views are the poses; each eye sees its half, time-warped to today's rotation ----
// The XR 'local' space is anchored in the scene at the session's start camera: the head's first pose (its
// position and heading, not its tilt) is put where the start camera stands, facing its target, so a headset
// starts where the desktop view starts and head motion moves from there (scene units taken as metres). A
// recentre (the space's 'reset') anchors again at the next frame. The poses sent and the time-warp both use
// the anchored views, so the quad stays locked to the pose each frame was rendered for.
const yawAt = (yaw, p) => { const c = Math.cos(yaw), s = Math.sin(yaw); return [c,0,-s,0, 0,1,0,0, s,0,c,0, p[0],p[1],p[2],1]; }; // rotate about +Y, then move to p
function xrAnchor(viewer, start) {
  const m = viewer.transform.matrix, heading = Math.atan2(m[8], m[10]); // the head's forward is -z: (-sin h, ·, -cos h)
  const d = [start.target[0] - start.position[0], start.target[2] - start.position[2]];
  const startHeading = Math.atan2(-d[0], -d[1]);
  // view_scene = view_xr · (scene ← xr)⁻¹ = view_xr · head0 · start⁻¹
  return mul(yawAt(heading, [m[12], m[13], m[14]]), invert(yawAt(startHeading, start.position)));
}
state.immersive = false; state.xrFrames = 0; state.xrError = null;
if (navigator.xr && await navigator.xr.isSessionSupported('immersive-vr').catch(() => false)) {
  const button = document.getElementById('enter');
  button.hidden = false;
  button.onclick = async () => {
    if (xrSession) return;
    let session = null;
    try {
      session = await navigator.xr.requestSession('immersive-vr');
      xrSession = session; // stops the desktop loop: the XR frames draw from now on
      await gl.makeXRCompatible();
      session.updateRenderState({ baseLayer: new XRWebGLLayer(session, gl) });
      const space = await session.requestReferenceSpace('local');
      let anchor = null;
      space.addEventListener('reset', () => { anchor = null; });
      const onFrame = (t, frame) => {
        session.requestAnimationFrame(onFrame);
        const pose = frame.getViewerPose(space);
        const layer = session.renderState.baseLayer;
        gl.bindFramebuffer(gl.FRAMEBUFFER, layer.framebuffer);
        gl.clearColor(0, 0, 0, 1); gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
        if (!pose || !ready) return;
        if (!anchor) anchor = xrAnchor(pose, ready.start);
        // The protocol carries two eyes at most: a device's extra (secondary) views are not sent.
        const views = pose.views.slice(0, 2), eyes = views.map((v) => ({ view: mul(v.transform.inverse.matrix, anchor), projection: Array.from(v.projectionMatrix) }));
        sendPose(eyes);
        state.xrFrames++;
        const o = state.offset, moved = [1,0,0,0, 0,1,0,0, 0,0,1,0, -o[0],-o[1],-o[2],1];
        views.forEach((v, i) => { const vp = layer.getViewport(v); drawEye(i, mul(eyes[i].view, moved), eyes[i].projection, { x: vp.x, y: vp.y, w: vp.width, h: vp.height }); });
      };
      session.addEventListener('end', () => { xrSession = null; state.immersive = false; requestAnimationFrame(desktopLoop); });
      state.immersive = true; state.xrError = null;
      session.requestAnimationFrame(onFrame);
    } catch (err) {
      state.xrError = 'entering VR: ' + err.message;
      if (session) { xrSession = null; session.end().catch(() => {}); requestAnimationFrame(desktopLoop); }
    }
  };
}
</script></body></html>`;
