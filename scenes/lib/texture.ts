import type { Document, Texture } from '@gltf-transform/core';
import { encodePng } from './png.ts';
import type { Raster } from './raster.ts';

/** Adds a PNG texture; `uri` is used when the document is written as .gltf with external files. */
export async function pngTexture(doc: Document, name: string, raster: Raster, uri?: string): Promise<Texture> {
  const tex = doc
    .createTexture(name)
    .setImage(await encodePng(raster))
    .setMimeType('image/png');
  if (uri) tex.setURI(uri);
  return tex;
}
