import { DataTexture, RGBAFormat, UnsignedByteType } from 'three';
import type { GLTFParser } from 'three/examples/jsm/loaders/GLTFLoader.js';
import type { ImageDecoder } from './image-decoder.ts';

/** One image that failed to decode, kept so the loader can fail loudly instead of rendering untextured. */
export interface ImageFailure {
  image: number;
  name: string;
  cause: unknown;
}

export interface ImageSourceOptions {
  /** Decodes the encoded bytes (sharp on Node, createImageBitmap in a browser). */
  decoder: ImageDecoder;
  /** Largest texture edge the GL backend accepts; bigger images are scaled down. */
  maxTextureSize: number;
  /** Refuse images with more pixels than this before decoding them (decompression bombs). */
  maxPixels: number;
  failures: ImageFailure[];
}

const nextPowerOfTwo = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/**
 * A GLTFLoader plugin that replaces the parser's image loading (DOM Image, `self.URL`, Blob: absent in Node,
 * and colour-managed differently in each browser) with the injected decoder: each glTF image is decoded to
 * RGBA8, scaled to power-of-two edges (WebGL 1 can only mipmap and repeat those) and handed over as a
 * DataTexture, the same way on every runtime. Samplers, texture transforms and color spaces are still applied
 * by GLTFLoader itself. Failures are recorded in `options.failures`, because GLTFLoader swallows them.
 */
export function imageSource(options: ImageSourceOptions) {
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
    return { name: 'TESSERA_image_source' };
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
    const binary = meta.endsWith(';base64') ? atob(body) : decodeURIComponent(body);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0) & 0xff);
  }
  throw new Error(`image has no embedded data (uri ${JSON.stringify(def.uri?.slice(0, 80))}); scenes are normalized to GLB before loading`);
}

/**
 * The texture extensions whose image the injected decoder reads itself (sharp on Node, createImageBitmap in a
 * browser): KHR_texture_basisu (KTX2, transcoded to RGBA8; on Node by basis-transcoder.ts), EXT_texture_webp and
 * EXT_texture_avif (its size read from the header's ispe boxes before decoding, like any image's).
 */
export const DECODED_TEXTURE_EXTENSIONS = ['KHR_texture_basisu', 'EXT_texture_webp', 'EXT_texture_avif'] as const;

/**
 * A GLTFLoader plugin for one of DECODED_TEXTURE_EXTENSIONS, under the extension's name so it replaces GLTFLoader's
 * own: that wants a KTX2Loader (GPU formats, a Web Worker) for KTX2, and for WebP probes the browser with a DOM
 * `Image`, absent in Node (the whole scene failed to load with "Image is not defined"). This one sends the
 * extension's source through the image source above; samplers and the rest are applied by GLTFLoader as for any image.
 */
export function extensionTextureSource(name: (typeof DECODED_TEXTURE_EXTENSIONS)[number]) {
  return (parser: GLTFParser) => ({
    name,
    loadTexture(textureIndex: number) {
      const ext = parser.json.textures?.[textureIndex]?.extensions?.[name] as { source?: number } | undefined;
      if (ext?.source === undefined) return null;
      return (parser as GLTFParser & { loadTextureImage(t: number, s: number, l: unknown): Promise<unknown> }).loadTextureImage(textureIndex, ext.source, null);
    },
  });
}

/** Decode an encoded image to a power-of-two RGBA8 DataTexture. */
export async function decodeTexture(bytes: Uint8Array, options: Pick<ImageSourceOptions, 'decoder' | 'maxTextureSize' | 'maxPixels'>): Promise<DataTexture> {
  let want = { width: 0, height: 0 };
  const image = await options.decoder.decode(bytes, {
    maxPixels: options.maxPixels,
    fit: (w, h) => (want = { width: Math.min(nextPowerOfTwo(w), options.maxTextureSize), height: Math.min(nextPowerOfTwo(h), options.maxTextureSize) }),
  });
  if (image.width !== want.width || image.height !== want.height || image.data.length !== want.width * want.height * 4) {
    throw new Error(`decoded to ${image.width}×${image.height} (${image.data.length} bytes), expected ${want.width}×${want.height}×4`);
  }
  const texture = new DataTexture(image.data as Uint8Array<ArrayBuffer>, image.width, image.height, RGBAFormat, UnsignedByteType);
  texture.generateMipmaps = true;
  texture.needsUpdate = true;
  return texture;
}
