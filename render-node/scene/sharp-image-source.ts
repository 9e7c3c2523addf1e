import sharp from 'sharp';
import { DataTexture, RGBAFormat, UnsignedByteType } from 'three';
import type { GLTFParser } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { isKtx2 } from '../../scene-check/read-ktx2-header.ts';
import { transcodeKtx2 } from './basis-transcoder.ts';

/** One image that failed to decode, kept so the loader can fail loudly instead of rendering untextured. */
export interface ImageFailure {
  image: number;
  name: string;
  cause: unknown;
}

export interface SharpImageSourceOptions {
  /** Largest texture edge the GL backend accepts; bigger images are scaled down. */
  maxTextureSize: number;
  /** Refuse images with more pixels than this before decoding them (decompression bombs). */
  maxPixels: number;
  failures: ImageFailure[];
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * A GLTFLoader plugin that replaces the parser's image loading (DOM Image, `self.URL`, Blob: absent in Node)
 * with sharp: each glTF image is decoded to RGBA8, scaled to power-of-two edges (WebGL 1 can only mipmap and
 * repeat those) and handed over as a DataTexture. Samplers, texture transforms and color spaces are still
 * applied by GLTFLoader itself. Failures are recorded in `options.failures`, because GLTFLoader swallows them.
 */
export function sharpImageSource(options: SharpImageSourceOptions) {
  return (parser: GLTFParser) => {
    const p = parser as GLTFParser & {
      sourceCache: Record<number, Promise<DataTexture>>;
      loadImageSource: (sourceIndex: number) => Promise<DataTexture>;
    };
    p.loadImageSource = (sourceIndex: number) => {
      const cached = p.sourceCache[sourceIndex];
      if (cached !== undefined) return cached.then((t) => t.clone() as DataTexture);
      const def = parser.json.images?.[sourceIndex] ?? {};
      const promise = (async () => {
        try {
          const bytes = await imageBytes(parser, def);
          return await decodeTexture(bytes, options);
        } catch (cause) {
          options.failures.push({ image: sourceIndex, name: def.name ?? def.uri?.slice(0, 64) ?? `image ${sourceIndex}`, cause });
          throw cause;
        }
      })();
      promise.then((t) => (t.userData.mimeType = def.mimeType ?? 'image/png')).catch(() => {});
      p.sourceCache[sourceIndex] = promise;
      return promise;
    };
    // GLTFLoader asks every plugin for a name; the image source needs no other hook.
    return { name: 'TESSERA_sharp_image_source' };
  };
}

async function imageBytes(parser: GLTFParser, def: { bufferView?: number; uri?: string }): Promise<Uint8Array> {
  if (def.bufferView !== undefined) {
    const view = (await parser.getDependency('bufferView', def.bufferView)) as ArrayBuffer;
    return new Uint8Array(view);
  }
  if (def.uri?.startsWith('data:')) {
    const comma = def.uri.indexOf(',');
    const meta = def.uri.slice(5, comma);
    const body = def.uri.slice(comma + 1);
    return meta.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'latin1');
  }
  throw new Error(`image has no embedded data (uri ${JSON.stringify(def.uri?.slice(0, 80))}); scenes are normalized to GLB before loading`);
}

/**
 * GLTFLoader's own KHR_texture_basisu plugin wants a KTX2Loader (GPU formats, a Web Worker); this one, under
 * the same name so it replaces it, sends the KTX2 source through the image source above, which transcodes it
 * to RGBA8 (basis-transcoder.ts). Samplers and the rest are applied by GLTFLoader as for any image.
 */
export function basisuTextureSource() {
  return (parser: GLTFParser) => ({
    name: 'KHR_texture_basisu',
    loadTexture(textureIndex: number) {
      const ext = parser.json.textures?.[textureIndex]?.extensions?.KHR_texture_basisu as { source?: number } | undefined;
      if (ext?.source === undefined) return null;
      return (parser as GLTFParser & { loadTextureImage(t: number, s: number, l: unknown): Promise<unknown> }).loadTextureImage(textureIndex, ext.source, null);
    },
  });
}

/** Decode an encoded image (PNG, JPEG, WebP, AVIF, or KTX2 by transcoding) to a power-of-two RGBA8 DataTexture. */
export async function decodeTexture(bytes: Uint8Array, options: Pick<SharpImageSourceOptions, 'maxTextureSize' | 'maxPixels'>): Promise<DataTexture> {
  let source = bytes;
  let raw: { width: number; height: number; channels: 4 } | undefined;
  if (isKtx2(bytes)) {
    const image = await transcodeKtx2(bytes, { maxPixels: options.maxPixels });
    source = image.data;
    raw = { width: image.width, height: image.height, channels: 4 };
  }
  const input = sharp(source, { limitInputPixels: options.maxPixels, failOn: 'error', raw });
  const meta = await input.metadata();
  if (!meta.width || !meta.height) throw new Error('image has no dimensions');
  const width = Math.min(nextPowerOfTwo(meta.width), options.maxTextureSize);
  const height = Math.min(nextPowerOfTwo(meta.height), options.maxTextureSize);
  let pipeline = input.toColourspace('srgb').ensureAlpha();
  if (width !== meta.width || height !== meta.height) pipeline = pipeline.resize(width, height, { fit: 'fill', kernel: 'lanczos3' });
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 4 || info.width !== width || info.height !== height) {
    throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×4`);
  }
  const texture = new DataTexture(new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength), width, height, RGBAFormat, UnsignedByteType);
  texture.generateMipmaps = true;
  texture.needsUpdate = true;
  return texture;
}
