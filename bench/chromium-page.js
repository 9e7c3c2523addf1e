// The browser side of the Chromium + three.js baseline (see chromium-runner.ts): a plain WebGL 2 three.js
// page as a screenshot service would build it. Everything is timed in the page with performance.now().
import * as THREE from 'three';
import { GLTFLoader } from 'three/addons/loaders/GLTFLoader.js';
import { DRACOLoader } from 'three/addons/loaders/DRACOLoader.js';

const state = {};

function glRendererString(gl) {
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
}

function toBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(',')[1]);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function toBlob(canvas) {
  return new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('canvas.toBlob gave null'))), 'image/png'));
}

/** Pose the clip at `o.time`, place the camera and key light, render; returns performance.now() after render(). */
function draw(o) {
  const { canvas, renderer, scene, light, mixer, action, camera } = state;
  if (canvas.width !== o.width || canvas.height !== o.height) renderer.setSize(o.width, o.height, false);
  if (mixer) {
    action.reset();
    action.play();
    mixer.setTime(o.time);
  }
  const c = o.camera;
  camera.fov = c.fovDeg;
  camera.aspect = o.width / o.height;
  camera.near = c.near;
  camera.far = c.far;
  camera.position.fromArray(c.position);
  camera.up.set(0, 1, 0);
  camera.lookAt(new THREE.Vector3().fromArray(c.target));
  camera.updateProjectionMatrix();
  if (light && o.keyLight) {
    light.target.position.fromArray(c.target);
    light.position.fromArray(c.target).addScaledVector(new THREE.Vector3().fromArray(o.keyLight.direction), -10);
  }
  renderer.render(scene, camera);
  return performance.now();
}

/** readPixels of the whole canvas (what makes the frame finish on these backends). */
function readPixels(o) {
  const gl = state.renderer.getContext();
  const bytes = o.width * o.height * 4;
  if (!state.pixels || state.pixels.length !== bytes) state.pixels = new Uint8Array(bytes);
  gl.readPixels(0, 0, o.width, o.height, gl.RGBA, gl.UNSIGNED_BYTE, state.pixels);
}

window.benchApi = {
  info() {
    const gl = document.createElement('canvas').getContext('webgl2');
    return {
      threeRevision: THREE.REVISION,
      userAgent: navigator.userAgent,
      webgl2: !!gl,
      glRenderer: gl ? glRendererString(gl) : null,
      glVersion: gl ? String(gl.getParameter(gl.VERSION)) : null,
    };
  },

  /** Create the renderer, fetch and parse the GLB, build the environment (PMREM) and the key light. */
  async load(o) {
    const t0 = performance.now();
    const canvas = document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 64;
    document.body.appendChild(canvas);
    const renderer = new THREE.WebGLRenderer({ canvas, antialias: false, alpha: true, premultipliedAlpha: true, preserveDrawingBuffer: true, powerPreference: 'high-performance' });
    renderer.setPixelRatio(1);
    renderer.outputColorSpace = THREE.SRGBColorSpace;
    renderer.toneMapping = THREE.NeutralToneMapping;
    renderer.toneMappingExposure = 1;
    renderer.setClearColor(new THREE.Color(o.background), 1);
    const t1 = performance.now();
    const [glb, env] = await Promise.all(
      [o.glbUrl, o.envUrl].map(async (url) => {
        const res = await fetch(url);
        if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
        return res.arrayBuffer();
      }),
    );
    const t2 = performance.now();
    const loader = new GLTFLoader();
    loader.setDRACOLoader(new DRACOLoader().setDecoderPath('/three/examples/jsm/libs/draco/gltf/'));
    const gltf = await loader.parseAsync(glb, '');
    const t3 = performance.now();
    const scene = new THREE.Scene();
    scene.add(gltf.scene);
    const envTexture = new THREE.DataTexture(new Float32Array(env), o.envWidth, o.envHeight, THREE.RGBAFormat, THREE.FloatType);
    envTexture.mapping = THREE.EquirectangularReflectionMapping;
    envTexture.colorSpace = THREE.LinearSRGBColorSpace;
    envTexture.magFilter = THREE.LinearFilter;
    envTexture.minFilter = THREE.LinearFilter;
    envTexture.generateMipmaps = false;
    envTexture.needsUpdate = true;
    const pmrem = new THREE.PMREMGenerator(renderer);
    const envTarget = pmrem.fromEquirectangular(envTexture);
    pmrem.dispose();
    envTexture.dispose();
    scene.environment = envTarget.texture;
    let light = null;
    if (o.keyLight) {
      light = new THREE.DirectionalLight(0xffffff, o.keyLightIntensity);
      scene.add(light, light.target);
    }
    let mixer = null;
    let action = null;
    const clip = gltf.animations[0];
    if (clip) {
      mixer = new THREE.AnimationMixer(gltf.scene);
      action = mixer.clipAction(clip);
      action.setLoop(THREE.LoopOnce, 1);
      action.clampWhenFinished = true;
      action.play();
    }
    const camera = new THREE.PerspectiveCamera();
    Object.assign(state, { canvas, renderer, scene, light, mixer, action, camera, pixels: null });
    const t4 = performance.now();
    return { loadMs: t4 - t0, contextMs: t1 - t0, fetchMs: t2 - t1, parseMs: t3 - t2, envMs: t4 - t3 };
  },

  /** One frame: pose, render, readPixels (what makes the frame finish), PNG encode with canvas.toBlob. */
  async frame(o) {
    const { canvas } = state;
    const t0 = performance.now();
    const t1 = draw(o);
    const gl = state.renderer.getContext();
    readPixels(o);
    const t2 = performance.now();
    const blob = await toBlob(canvas);
    const t3 = performance.now();
    const error = gl.getError();
    return {
      submitMs: t1 - t0,
      readPixelsMs: t2 - t1,
      encodeMs: t3 - t2,
      totalMs: t3 - t0,
      pngBytes: blob.size,
      glError: error,
      png: o.wantPng ? await toBase64(blob) : undefined,
    };
  },

  /**
   * A whole animation, overlapped as far as the page allows: frame N+1 is posed, drawn and read back while
   * frame N's canvas.toBlob PNG encode is pending (at most one waits), as Tessera pipelines its own.
   */
  async animation(o) {
    const t0 = performance.now();
    let previous = Promise.resolve(0);
    let bytes = 0;
    for (const time of o.times) {
      draw({ ...o, time });
      readPixels(o);
      const blob = toBlob(state.canvas).then((b) => b.size);
      bytes += await previous;
      previous = blob;
    }
    bytes += await previous;
    const ms = performance.now() - t0;
    return { ms, fps: (o.times.length * 1000) / ms, bytes, glError: state.renderer.getContext().getError() };
  },

  dispose() {
    state.renderer?.dispose();
    state.renderer?.forceContextLoss();
  },
};
