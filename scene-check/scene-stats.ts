/** What a scene contains and costs, for API responses; everything comes from checks readScene runs anyway. */
export interface SceneStats {
  /** Bytes read: the scene file plus any external .bin and image files (the input, not the normalized GLB). */
  bytes: number;
  scenes: number;
  nodes: number;
  meshes: number;
  primitives: number;
  /** Sum of the POSITION accessor counts of all primitives. */
  vertices: number;
  /** Triangles drawn by triangle, strip and fan primitives, once per primitive (instancing not multiplied). */
  triangles: number;
  materials: number;
  textures: number;
  /** Sum of width × height over all images, from their headers. */
  texturePixels: number;
  animations: number;
  /** Length of the longest animation, in seconds. */
  animationSeconds: number;
  cameras: number;
  /** KHR_lights_punctual lights. */
  lights: number;
  /** As listed by the input file. */
  extensionsUsed: string[];
  /** As listed by the input file. */
  extensionsRequired: string[];
}
