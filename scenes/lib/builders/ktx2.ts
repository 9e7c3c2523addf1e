import { Document, TextureInfo } from '@gltf-transform/core';
import { KHRTextureBasisu } from '@gltf-transform/extensions';
import { encodeToKTX2 } from 'ktx2-encoder';
import sharp from 'sharp';
import { box } from '../box.ts';
import { meshFromData } from '../primitive-from-data.ts';
import { checkerboard, roughnessStripes } from '../procedural-textures.ts';
import { makeRaster } from '../raster.ts';
import { pngTexture } from '../texture.ts';

const { REPEAT } = TextureInfo.WrapMode;

/** 8-bit sRGB color as 0..1 floats. */
const rgb = (r: number, g: number, b: number): number[] => [r / 255, g / 255, b / 255];

/** 4x4 cells cycling red, green, blue, yellow along each row (shifted by one per row), with thin white lines between cells. */
function colorCells(size: number): ReturnType<typeof makeRaster> {
  const colors = [rgb(220, 30, 30), rgb(30, 180, 60), rgb(30, 70, 220), rgb(245, 210, 30)];
  return makeRaster(size, size, 3, (x, y) => {
    const cx = Math.floor(x * 4);
    const cy = Math.floor(y * 4);
    const fx = x * 4 - cx;
    const fy = y * 4 - cy;
    if (fx < 0.04 || fx > 0.96 || fy < 0.04 || fy > 0.96) return [1, 1, 1];
    return colors[(cx + cy) % 4];
  });
}

/** How each texture of the PNG twin is encoded as KTX2 (texture name → ktx2-encoder options). */
const ENCODINGS: Record<string, { isUASTC: boolean; needSupercompression: boolean; srgb: boolean }> = {
  // Colour data in ETC1S (BasisLZ), as KHR_texture_basisu advises.
  'cells-etc1s': { isUASTC: false, needSupercompression: false, srgb: true },
  // Colour data in UASTC with Zstandard supercompression.
  'checker-uastc-zstd': { isUASTC: true, needSupercompression: true, srgb: true },
  // Non-colour data (roughness) in plain UASTC, linear.
  'roughness-uastc': { isUASTC: true, needSupercompression: false, srgb: false },
};

/**
 * The KTX2 sample's geometry and materials with PNG textures: two 1.8 cubes, the left one with a colour-cell
 * base colour, the right one with an orange checker and a roughness-stripe metallicRoughness map. It is what
 * scenes/ktx2.glb must look like (test/ktx2.test.ts renders both).
 */
export async function buildKtx2Png(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('ktx2');
  const cells = await pngTexture(doc, 'cells-etc1s', colorCells(256));
  const checker = await pngTexture(doc, 'checker-uastc-zstd', checkerboard(256, 8, rgb(250, 140, 20), rgb(25, 25, 35)));
  const rough = await pngTexture(doc, 'roughness-uastc', roughnessStripes(128, 4));
  const repeat = (info: TextureInfo | null) => info!.setWrapS(REPEAT).setWrapT(REPEAT);

  const left = doc.createMaterial('cells').setBaseColorTexture(cells).setMetallicFactor(0).setRoughnessFactor(0.6);
  repeat(left.getBaseColorTextureInfo());
  const right = doc.createMaterial('checker').setBaseColorTexture(checker).setMetallicRoughnessTexture(rough).setMetallicFactor(1).setRoughnessFactor(1);
  repeat(right.getBaseColorTextureInfo());
  repeat(right.getMetallicRoughnessTextureInfo());

  const cube = box({ size: [1.8, 1.8, 1.8] });
  scene.addChild(doc.createNode('etc1s-cube').setMesh(meshFromData(doc, 'etc1s-cube', cube, { material: left })).setTranslation([-1.3, 0, 0]));
  scene.addChild(doc.createNode('uastc-cube').setMesh(meshFromData(doc, 'uastc-cube', cube, { material: right })).setTranslation([1.3, 0, 0]));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}

async function rgba(png: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(png).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/**
 * scenes/ktx2.glb: buildKtx2Png with every texture re-encoded as KTX2 (Basis Universal, full mip chain) by
 * ktx2-encoder (basis_universal's encoder as wasm) and referenced through KHR_texture_basisu, which is required:
 * there is no PNG fallback, so a renderer that cannot transcode shows nothing.
 */
export async function buildKtx2(): Promise<Document> {
  const doc = await buildKtx2Png();
  doc.createExtension(KHRTextureBasisu).setRequired(true);
  for (const texture of doc.getRoot().listTextures()) {
    const encoding = ENCODINGS[texture.getName()];
    if (!encoding) throw new Error(`no KTX2 encoding for texture ${texture.getName()}`);
    const png = texture.getImage();
    if (!png) throw new Error(`texture ${texture.getName()} has no image`);
    const ktx2 = await encodeToKTX2(png, {
      isUASTC: encoding.isUASTC,
      needSupercompression: encoding.needSupercompression,
      isSetKTX2SRGBTransferFunc: encoding.srgb,
      isPerceptual: encoding.srgb,
      generateMipmap: true,
      qualityLevel: 255,
      imageDecoder: rgba,
    });
    texture.setImage(ktx2).setMimeType('image/ktx2');
  }
  return doc;
}
