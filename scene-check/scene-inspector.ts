/**
 * The scene inspection port: checks and normalizes an uploaded glTF scene and lists what a job may refer
 * to (cameras, clips, scenes). The Node adapter uses the render node's readScene; the core never parses
 * glTF itself, so it stays free of runtime-specific code.
 */

/** What one upload holds: a single file (GLB, or .gltf with data: URIs), or a .gltf with its resources. */
export type SceneInput =
  | { kind: 'bytes'; bytes: Uint8Array; name?: string }
  | {
      kind: 'files';
      /** Path of the .gltf (or .glb) inside `files`. */
      main: string;
      /** Relative paths (`/`-separated, no `..`) to contents. */
      files: Map<string, Uint8Array>;
    };

/** The names a job request may use, by index, as the renderer resolves them. */
export interface SceneInfo {
  /** Camera names by camera index (null when unnamed). */
  cameras: (string | null)[];
  /** Name of the first node that holds each camera: the renderer also finds a camera by its node's name. */
  cameraNodes: (string | null)[];
  /** Animation clips by index, with their length in seconds. */
  clips: { name: string | null; duration: number }[];
  /** glTF scene names by index. */
  scenes: (string | null)[];
  /** The file's default scene index. */
  defaultScene: number;
  /**
   * Extensions the scene uses that render only on WebGL 2 (KHR_materials_transmission, KHR_materials_volume):
   * when any, its jobs and sessions go only to nodes with a WebGL 2 backend. Absent in records stored before
   * the flag existed (read as none).
   */
  webgl2?: string[];
}

export interface InspectedScene {
  /** The normalized, self-contained GLB the render nodes load. */
  glb: Uint8Array;
  /** Counts and costs, reported to the client as they are. */
  stats: Record<string, unknown>;
  info: SceneInfo;
}

export interface SceneInspector {
  /** Check and normalize a scene; throws TesseraError SCENE_* naming the problem. */
  inspect(input: SceneInput): Promise<InspectedScene>;
}
