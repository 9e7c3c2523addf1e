import {
  Box3,
  Matrix4,
  Mesh,
  PlaneGeometry,
  ShadowMaterial,
  Vector3,
  type DirectionalLight,
  type Light,
  type Object3D,
  type OrthographicCamera,
  type PerspectiveCamera,
  type PointLight,
  type Scene,
  type SpotLight,
} from 'three';

/**
 * Shadows on WebGL 1: every mesh casts and receives, the key light and the glTF punctual lights cast PCF soft
 * shadows, each light's shadow camera fitted to the framing bounds (the union over the whole clip for animated
 * scenes, so the shadow map's texel grid does not move from frame to frame and shadow edges do not swim).
 * Bias and normal bias are set in shadow-map texels of the fitted frustum, so they hold at any scene scale.
 * The optional ground is a ShadowMaterial plane under the bounds: it shows only the shadow (a contact shadow
 * for product shots), and stays transparent elsewhere.
 */
export interface ShadowOptions {
  /** Shadow map edge for directional and spot lights, in texels. */
  mapSize: number;
  /** Shadow map edge for each face of a point light's cube. */
  pointMapSize: number;
  /** Normal offset in shadow-map texels (moves the lookup off the surface: no acne on slopes). */
  normalBiasTexels: number;
  /** Depth bias (negative: towards the light), for the flat-on case normal bias cannot help. */
  bias: number;
  /** PCF soft radius in texels. */
  radius: number;
  /** Opacity of the ground's shadow. */
  groundOpacity: number;
  /** Ground half-size, in bounding-sphere radii. */
  groundExtent: number;
}

export const SHADOW_DEFAULTS: ShadowOptions = {
  mapSize: 2048,
  pointMapSize: 1024,
  normalBiasTexels: 1.5,
  bias: -0.0004,
  radius: 2,
  groundOpacity: 0.35,
  groundExtent: 4,
};

export const GROUND_NAME = 'tessera.ground';

/** Marks every mesh of `root` as casting and receiving shadows (once per scene). */
export function enableMeshShadows(root: Object3D): void {
  root.traverse((o) => {
    if ((o as Mesh).isMesh && o.name !== GROUND_NAME) {
      o.castShadow = true;
      o.receiveShadow = true;
    }
  });
}

export function createGround(options: ShadowOptions = SHADOW_DEFAULTS): Mesh {
  const ground = new Mesh(new PlaneGeometry(2, 2), new ShadowMaterial({ opacity: options.groundOpacity, depthWrite: false }));
  ground.name = GROUND_NAME;
  ground.rotation.x = -Math.PI / 2;
  ground.receiveShadow = true;
  ground.castShadow = false;
  ground.visible = false;
  return ground;
}

/** Put the ground just under `bounds`, large enough to catch shadows cast sideways. */
export function placeGround(ground: Mesh, bounds: Box3, radius: number, options: ShadowOptions = SHADOW_DEFAULTS): void {
  const center = bounds.getCenter(new Vector3());
  const size = radius * options.groundExtent;
  ground.position.set(center.x, bounds.min.y - radius * 1e-3, center.z);
  ground.scale.set(size, size, 1);
  ground.updateMatrixWorld(true);
}

const corners = Array.from({ length: 8 }, () => new Vector3());
const view = new Matrix4();
const lightPos = new Vector3();
const targetPos = new Vector3();

/** The box's corners in the view space of a camera at `eye` looking at `at` (what three's shadow camera uses). */
function boxInView(bounds: Box3, eye: Vector3, at: Vector3, up: Vector3): Box3 {
  view.lookAt(eye, at, up).setPosition(eye).invert();
  const { min, max } = bounds;
  let i = 0;
  for (const x of [min.x, max.x]) for (const y of [min.y, max.y]) for (const z of [min.z, max.z]) corners[i++].set(x, y, z).applyMatrix4(view);
  return new Box3().setFromPoints(corners);
}

/** Fit a light's shadow camera around `bounds` (world space) and set its bias for the resulting texel size. */
export function fitShadow(light: Light, bounds: Box3, radius: number, options: ShadowOptions = SHADOW_DEFAULTS): void {
  if (bounds.isEmpty()) {
    light.castShadow = false;
    return;
  }
  light.castShadow = true;
  const shadow = light.shadow!;
  shadow.radius = options.radius;
  light.updateMatrixWorld(true);
  lightPos.setFromMatrixPosition(light.matrixWorld);
  const margin = radius * 0.02;

  if ((light as DirectionalLight).isDirectionalLight) {
    const dl = light as DirectionalLight;
    dl.target.updateMatrixWorld(true);
    targetPos.setFromMatrixPosition(dl.target.matrixWorld);
    const cam = shadow.camera as OrthographicCamera;
    const box = boxInView(bounds, lightPos, targetPos, cam.up);
    cam.left = box.min.x - margin;
    cam.right = box.max.x + margin;
    cam.bottom = box.min.y - margin;
    cam.top = box.max.y + margin;
    // View space looks down -z: near/far are distances in front of the light (a light inside the bounds is fine:
    // an orthographic camera may start behind itself).
    cam.near = -box.max.z - margin;
    cam.far = -box.min.z + margin;
    shadow.mapSize.set(options.mapSize, options.mapSize);
    const texel = Math.max(cam.right - cam.left, cam.top - cam.bottom) / options.mapSize;
    shadow.normalBias = texel * options.normalBiasTexels;
    shadow.bias = options.bias;
    cam.updateProjectionMatrix();
  } else {
    // Spot and point lights: their cameras' angles come from the light; fit the depth range to the bounds.
    const center = bounds.getCenter(new Vector3());
    const distance = lightPos.distanceTo(center);
    const cam = shadow.camera as PerspectiveCamera;
    // A tight near plane matters: perspective depth packed into RGBA8 loses precision fast as near/far shrinks.
    const gap = bounds.distanceToPoint(lightPos);
    cam.near = Math.max(radius * 0.02, gap * 0.9);
    cam.far = distance + radius * 1.2;
    const isPoint = (light as PointLight).isPointLight;
    const size = isPoint ? options.pointMapSize : options.mapSize;
    shadow.mapSize.set(size, size);
    const angle = isPoint ? Math.PI / 2 : Math.min(Math.PI * 0.95, 2 * (light as SpotLight).angle);
    const texel = (2 * distance * Math.tan(angle / 2)) / size;
    shadow.normalBias = texel * options.normalBiasTexels;
    shadow.bias = options.bias;
    cam.updateProjectionMatrix();
  }
  // three allocates a light's map once (when it is null) and never resizes it: drop one of another size (a point
  // light's map holds its six faces side by side: frame extents × mapSize).
  const extents = shadow.getFrameExtents();
  if (shadow.map && (shadow.map.width !== shadow.mapSize.x * extents.x || shadow.map.height !== shadow.mapSize.y * extents.y)) {
    shadow.map.dispose();
    shadow.map = null;
  }
  shadow.needsUpdate = true;
}

/** The punctual lights a glTF scene brought (not the renderer's own key light). */
export function sceneLights(scene: Scene, keyLight: Light): Light[] {
  const lights: Light[] = [];
  scene.traverse((o) => {
    const l = o as Light;
    if (l.isLight && l !== keyLight && ((l as DirectionalLight).isDirectionalLight || (l as SpotLight).isSpotLight || (l as PointLight).isPointLight)) {
      lights.push(l);
    }
  });
  return lights;
}
