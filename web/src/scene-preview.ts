/**
 * The live 3D preview of a dropped scene: three.js (the project's pinned r162) on the page's WebGL 2, the
 * scene's own cameras or an orbit camera, its animation playing, studio lighting from RoomEnvironment.
 * It is a preview, not the render: the farm renders with its own pipeline; what the preview gives the job is
 * the scene's cameras and clips, and the orbit camera's current view as an explicit eye/target.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { DRACOLoader } from 'three/examples/jsm/loaders/DRACOLoader.js';
import { GLTFLoader, type GLTF } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { MeshoptDecoder } from 'three/examples/jsm/libs/meshopt_decoder.module.js';
import { RoomEnvironment } from 'three/examples/jsm/environments/RoomEnvironment.js';
import dracoWrapperUrl from 'three/examples/jsm/libs/draco/gltf/draco_wasm_wrapper.js?url';
import dracoWasmUrl from 'three/examples/jsm/libs/draco/gltf/draco_decoder.wasm?url';
import { normalizePath } from './pack-files.ts';

export interface SceneInfo {
  cameras: { index: number; name: string }[];
  clips: { index: number; name: string; duration: number }[];
}

/** The orbit camera's view, as a job's explicit (`look`) camera takes it. */
export interface PreviewView {
  position: [number, number, number];
  target: [number, number, number];
  fov: number;
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

export class ScenePreview {
  private readonly renderer: THREE.WebGLRenderer;
  private readonly scene = new THREE.Scene();
  private readonly orbit: THREE.PerspectiveCamera;
  private readonly controls: OrbitControls;
  private readonly resize: ResizeObserver;
  /** When the last frame was drawn (ms): the animation's time step (three's Clock is deprecated in the current three). */
  private lastTick = performance.now();
  private gltf?: GLTF;
  private mixer?: THREE.AnimationMixer;
  private active: THREE.Camera;
  private blobUrls: string[] = [];
  private frame = 0;
  playing = true;

  constructor(private readonly canvas: HTMLCanvasElement) {
    // preserveDrawingBuffer: the preview can be read back (screenshots, tests) at a small cost per frame.
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(Math.min(devicePixelRatio, 2));
    this.renderer.toneMapping = THREE.NeutralToneMapping;
    const pmrem = new THREE.PMREMGenerator(this.renderer);
    this.scene.environment = pmrem.fromScene(new RoomEnvironment(this.renderer), 0.04).texture;
    pmrem.dispose();
    this.orbit = new THREE.PerspectiveCamera(40, 1, 0.01, 1000);
    this.orbit.position.set(3, 2, 3);
    this.active = this.orbit;
    this.controls = new OrbitControls(this.orbit, canvas);
    this.controls.enableDamping = true;
    // Arrow keys pan the orbit camera while the canvas has focus (it is tabbable).
    this.controls.listenToKeyEvents(canvas);
    this.resize = new ResizeObserver(() => this.fitCanvas());
    this.resize.observe(canvas);
    this.fitCanvas();
    const tick = () => {
      this.frame = requestAnimationFrame(tick);
      const now = performance.now();
      const dt = (now - this.lastTick) / 1000;
      this.lastTick = now;
      if (this.playing) this.mixer?.update(dt);
      if (this.active === this.orbit) this.controls.update();
      this.renderer.render(this.scene, this.active);
    };
    tick();
  }

  /** Load a scene from its files (`main` is the .gltf or .glb among them). */
  async load(main: string, files: Map<string, Uint8Array>): Promise<SceneInfo> {
    this.clear();
    const manager = new THREE.LoadingManager();
    const urls = new Map<string, string>();
    for (const [path, bytes] of files) {
      const url = URL.createObjectURL(new Blob([bytes as BlobPart]));
      this.blobUrls.push(url);
      urls.set(path, url);
    }
    manager.setURLModifier((url) => {
      if (url.startsWith('data:') || url.startsWith('blob:')) return url;
      if (url.endsWith('draco_wasm_wrapper.js')) return dracoWrapperUrl;
      if (url.endsWith('draco_decoder.wasm')) return dracoWasmUrl;
      return urls.get(normalizePath(decodeURIComponent(url))) ?? url;
    });
    const loader = new GLTFLoader(manager);
    const draco = new DRACOLoader(manager).setDecoderPath('/');
    loader.setDRACOLoader(draco);
    loader.setMeshoptDecoder(MeshoptDecoder);
    const bytes = files.get(main)!;
    const data = /\.glb$/i.test(main) ? bytes.slice().buffer : new TextDecoder().decode(bytes);
    try {
      this.gltf = await new Promise<GLTF>((resolve, reject) => loader.parse(data, '', resolve, reject));
    } finally {
      draco.dispose();
    }
    this.scene.add(this.gltf.scene);
    this.frameOrbit();
    const clips = this.gltf.animations.map((a, index) => ({ index, name: a.name || `clip ${index}`, duration: a.duration }));
    if (this.gltf.animations.length) {
      this.mixer = new THREE.AnimationMixer(this.gltf.scene);
      this.mixer.clipAction(this.gltf.animations[0]).play();
    }
    const cameras = this.gltf.cameras.map((c, index) => ({ index, name: c.name || `camera ${index}` }));
    return { cameras, clips };
  }

  /** Look through a glTF camera (by index) or the orbit camera (`orbit`). */
  useCamera(which: number | 'orbit'): void {
    const cam = which === 'orbit' ? undefined : this.gltf?.cameras[which];
    this.active = cam ?? this.orbit;
    this.controls.enabled = this.active === this.orbit;
    this.fitCanvas();
  }

  /** Play one clip (by index), every clip (`all`) or none (rest pose). */
  playClip(which: number | 'all' | 'none'): void {
    if (!this.gltf || !this.mixer) return;
    this.mixer.stopAllAction();
    const clips = which === 'all' ? this.gltf.animations : which === 'none' ? [] : [this.gltf.animations[which]].filter(Boolean);
    for (const clip of clips) this.mixer.clipAction(clip).reset().play();
    if (which === 'none') this.mixer.update(0);
  }

  /** The orbit camera's current view. */
  view(): PreviewView {
    const p = this.orbit.position;
    const t = this.controls.target;
    return { position: [round(p.x), round(p.y), round(p.z)], target: [round(t.x), round(t.y), round(t.z)], fov: round(this.orbit.fov) };
  }

  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.controls.dispose();
    this.clear();
    this.renderer.dispose();
  }

  private clear(): void {
    if (this.gltf) this.scene.remove(this.gltf.scene);
    this.gltf = undefined;
    this.mixer = undefined;
    this.active = this.orbit;
    for (const url of this.blobUrls) URL.revokeObjectURL(url);
    this.blobUrls = [];
  }

  /** Put the orbit camera where the whole scene is in view. */
  private frameOrbit(): void {
    const box = new THREE.Box3().setFromObject(this.gltf!.scene);
    if (box.isEmpty()) return;
    const center = box.getCenter(new THREE.Vector3());
    const radius = box.getBoundingSphere(new THREE.Sphere()).radius || 1;
    const distance = radius / Math.sin(THREE.MathUtils.degToRad(this.orbit.fov / 2));
    const dir = new THREE.Vector3(Math.sin(Math.PI / 6), Math.sin(Math.PI / 12), Math.cos(Math.PI / 6)).normalize();
    this.orbit.position.copy(center).addScaledVector(dir, distance);
    this.orbit.near = distance / 100;
    this.orbit.far = distance * 100;
    this.orbit.updateProjectionMatrix();
    this.controls.target.copy(center);
    this.controls.update();
  }

  private fitCanvas(): void {
    const w = this.canvas.clientWidth || 1;
    const h = this.canvas.clientHeight || 1;
    this.renderer.setSize(w, h, false);
    for (const cam of [this.orbit, this.active]) {
      if (cam instanceof THREE.PerspectiveCamera) {
        cam.aspect = w / h;
        cam.updateProjectionMatrix();
      }
    }
  }
}
