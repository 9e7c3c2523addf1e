/** Helpers for KTX2 (KHR_texture_basisu) tests: the images of a GLB, a one-triangle basisu scene, byte patches. */
import { editGlb, triangleWithImageGlb } from '../hostile/glb-builder.ts';

/** The bytes of every image of a GLB (all in its BIN chunk), in image order. */
export function glbImages(glb: Uint8Array): Uint8Array[] {
  const view = new DataView(glb.buffer, glb.byteOffset, glb.byteLength);
  const jsonLength = view.getUint32(12, true);
  const json = JSON.parse(new TextDecoder().decode(glb.subarray(20, 20 + jsonLength)));
  const bin = glb.subarray(20 + jsonLength + 8);
  return json.images.map((image: { bufferView: number }) => {
    const v = json.bufferViews[image.bufferView];
    return bin.subarray(v.byteOffset ?? 0, (v.byteOffset ?? 0) + v.byteLength);
  });
}

/** A one-triangle GLB whose only texture is `image` through KHR_texture_basisu (required). */
export function basisuGlb(image: Uint8Array): Uint8Array {
  return editGlb(triangleWithImageGlb(image, 'image/ktx2'), (j) => {
    j.extensionsUsed = ['KHR_texture_basisu'];
    j.extensionsRequired = ['KHR_texture_basisu'];
    j.textures = [{ extensions: { KHR_texture_basisu: { source: 0 } } }];
  });
}

/** A copy of `bytes` with `edit` applied to a DataView of it. */
export function patched(bytes: Uint8Array, edit: (view: DataView) => void): Uint8Array {
  const out = new Uint8Array(bytes);
  edit(new DataView(out.buffer));
  return out;
}
