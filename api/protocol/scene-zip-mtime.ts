/**
 * The timestamp every entry of a scene zip gets when the CLI or the web page packs a .gltf with its files: fixed,
 * so the same files pack to the same bytes, and the API recognizes bytes it has seen (`GET /v1/scenes/uploaded/…`).
 */
export const SCENE_ZIP_MTIME = Date.UTC(2000, 0, 1);
