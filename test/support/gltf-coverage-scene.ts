/**
 * A compact glTF (built in memory, never written to scenes/) with features of models we do not make ourselves
 * (Khronos glTF-Sample-Assets style) that Tessera once drew wrongly on headless-gl (three 0.162, WebGL 1).
 * Everything is unlit (KHR_materials_unlit), so with tone mapping 'none' every colour is exact. Camera 0 "front" is
 * orthographic, xmag = ymag = 4, at (0,0,10) looking down -Z: 16 pixels per unit at 128×128, pixel
 * (x, y) = ((X + 4) × 16, (4 − Y) × 16). Orange is (1, 0.5, 0) linear, (255, 188, 0) in sRGB.
 * - "morph-16" (MorphStressTest): 16 squares (0.6 wide) collapsed to their centres in the base shape, two rows of 8
 *   at Y = 3.2 and 2.4, X = −3.5 … 3.5; morph target k opens square k (row-major). Weights all 1, so all 16 show.
 *   Clip "close-even" (1 s, LINEAR) takes the even targets' weights to 0: at t = 1 only the odd squares show.
 *   (three 0.162 morphs at most 8 targets per draw on WebGL 1 and silently dropped the others.)
 * - "morph-16-again": the same mesh on a second node at Y − 2 (rows at 1.2 and 0.4) with node weights: only
 *   targets 0 and 15 at 1 (its first and last square).
 * - "morph-normals-6": 6 squares at Y = −0.6, X = −3.5 … 1.5, whose targets also carry NORMAL deltas (zero), weights 1:
 *   all 6 show (WebGL 1 allows only 4 targets with normals).
 * - "morph-colour": a 0.8 square at (3, −0.6) with black COLOR_0 and one target adding (0, 1, 0) to it, weight 1:
 *   green (WebGL 1 morphs no colours; three r187 threw on colour targets without position targets).
 * - "webp": a 2×2 square at (−2.5, −2.6), an EXT_texture_webp (required) 2×2-cell checker, blue (0,0,255) in its
 *   top-left and bottom-right cells, yellow (255,255,0) in the others (GLTFLoader probed WebP with a DOM Image: the
 *   scene failed to load on Node).
 * - "exif-jpeg": a 2×2 square at (1, −2.6), a 24×12 JPEG (so it is resized: to 16×32 once upright) whose pixels hold red top-left, green top-right and blue
 *   along the bottom half, with EXIF orientation 6 (rotate 90° clockwise to display), which browsers (and so three.js viewers
 *   and the Chromium backend) apply: blue on the left half, red top-right, green bottom-right.
 * - "avif": a 1.2 square at (3.2, −2.6) whose texture has an EXT_texture_avif (optional) source, a 16×16 AVIF with
 *   red (255,0,0) on its left half and green (0,255,0) on its right, and a PNG fallback: magenta (255,0,255) left, cyan
 *   (0,255,255) right. Both backends decode AVIF (sharp on Node, the browser in Chromium), so they draw the AVIF, as the
 *   glTF spec prefers (GLTFLoader's AVIF probe needed a DOM Image: the scene failed to load on Node; before AVIF was
 *   decoded, the upload dropped the AVIF source and the fallback was drawn).
 * Scene 1 "skinned-z-up" (CesiumMan, BrainStem: Z-up geometry stood up by the skeleton): an unlit green 0.6 × 0.6 × 4
 * column skinned to one joint "root"; its bind-pose geometry lies along +Z from z = 0 to 4, the joint turns it −90°
 * about X, so it stands from y = 0 to 4 (the mesh node itself is not transformed). An auto camera must frame the
 * standing column (auto framing used the bind-pose bounds: it aimed at (0, 0, 2) and cut the column's top half off).
 */
import { Document, Format } from '@gltf-transform/core';
import { EXTTextureWebP, KHRMaterialsUnlit } from '@gltf-transform/extensions';
import sharp from 'sharp';
import { ViewSpec } from '../../api/protocol/render-spec.ts';
import { packGlb } from '../../scenes/lib/glb-pack.ts';
import { createIO } from '../../scenes/lib/io.ts';
import { box } from '../../scenes/lib/box.ts';
import { gridPlane } from '../../scenes/lib/grid-plane.ts';
import { createAccessor, primitiveFromData } from '../../scenes/lib/primitive-from-data.ts';

export const COVERAGE_SIZE = 128;
/** The view the scene is made for: camera "front", no tone mapping (exact unlit colours), grey background. */
export const COVERAGE_VIEW = ViewSpec.parse({
  width: COVERAGE_SIZE,
  height: COVERAGE_SIZE,
  camera: { kind: 'gltf', name: 'front' },
  toneMapping: 'none',
  background: '#808080',
});
/** Pixel of scene point (X, Y) in the 128×128 "front" view. */
export const coveragePixel = (x: number, y: number): [number, number] => [Math.round((x + 4) * 16), Math.round((4 - y) * 16)];
/** Centres of the squares of "morph-16" (k = 0 … 15), in the scene. */
export const MORPH16_SQUARES = Array.from({ length: 16 }, (_, k) => [-3.5 + (k % 8), 3.2 - 0.8 * Math.floor(k / 8)] as const);
export const MORPH_NORMALS_SQUARES = Array.from({ length: 6 }, (_, k) => [-3.5 + k, -0.6] as const);

/** Squares collapsed to their centres, target k opening square k; with zero NORMAL deltas when `normals`. */
function collapsedSquares(doc: Document, name: string, centres: readonly (readonly [number, number])[], half: number, normals: boolean) {
  const pos: number[] = [];
  const nrm: number[] = [];
  const idx: number[] = [];
  const deltas: number[][] = centres.map(() => []);
  centres.forEach(([cx, cy], q) => {
    const b = pos.length / 3;
    for (const [dx, dy] of [[-half, -half], [half, -half], [half, half], [-half, half]]) {
      pos.push(cx, cy, 0);
      nrm.push(0, 0, 1);
      centres.forEach((_, t) => deltas[t].push(t === q ? dx : 0, t === q ? dy : 0, 0));
    }
    idx.push(b, b + 1, b + 2, b, b + 2, b + 3);
  });
  const data = { attributes: { POSITION: new Float32Array(pos), NORMAL: new Float32Array(nrm) }, indices: new Uint16Array(idx) };
  const prim = primitiveFromData(doc, name, data);
  deltas.forEach((d, t) => {
    const target = doc.createPrimitiveTarget(`${name}-${t}`).setAttribute('POSITION', createAccessor(doc, `${name}:${t}:POSITION`, new Float32Array(d), 3));
    if (normals) target.setAttribute('NORMAL', createAccessor(doc, `${name}:${t}:NORMAL`, new Float32Array(d.length), 3));
    prim.addTarget(target);
  });
  return prim;
}

/** A `size` square facing +Z centred at (x, y), UVs 0..1 upright. */
function square(doc: Document, name: string, x: number, y: number, size: number) {
  return primitiveFromData(doc, name, gridPlane({ width: size, height: size, facing: 'front', center: [x, y, 0] }));
}

async function rgbImage(width: number, height: number, colour: (x: number, y: number) => number[]) {
  const px = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) px.set(colour(i % width, Math.floor(i / width)), i * 3);
  return sharp(px, { raw: { width, height, channels: 3 } });
}

export async function buildCoverageScene(): Promise<Document> {
  const doc = new Document();
  const scene = doc.createScene('coverage');
  const unlitExt = doc.createExtension(KHRMaterialsUnlit);
  doc.createExtension(EXTTextureWebP).setRequired(true);
  const unlit = (name: string, rgb: [number, number, number]) =>
    doc.createMaterial(name).setBaseColorFactor([...rgb, 1]).setExtension('KHR_materials_unlit', unlitExt.createUnlit());
  const orange = unlit('orange', [1, 0.5, 0]);
  const white = unlit('white', [1, 1, 1]);

  const m16 = doc.createMesh('morph-16').addPrimitive(collapsedSquares(doc, 'morph-16', MORPH16_SQUARES, 0.3, false).setMaterial(orange));
  m16.setWeights(MORPH16_SQUARES.map(() => 1));
  const n16 = doc.createNode('morph-16').setMesh(m16);
  const again = doc.createNode('morph-16-again').setMesh(m16).setTranslation([0, -2, 0]).setWeights(MORPH16_SQUARES.map((_, k) => (k === 0 || k === 15 ? 1 : 0)));
  const mn = doc.createMesh('morph-normals-6').addPrimitive(collapsedSquares(doc, 'morph-normals-6', MORPH_NORMALS_SQUARES, 0.3, true).setMaterial(orange));
  mn.setWeights(MORPH_NORMALS_SQUARES.map(() => 1));

  const colourData = gridPlane({ width: 0.8, height: 0.8, facing: 'front', center: [3, -0.6, 0] });
  const count = colourData.attributes.POSITION.length / 3;
  colourData.attributes.COLOR_0 = new Float32Array(count * 3);
  const colourPrim = primitiveFromData(doc, 'morph-colour', colourData, { material: white });
  const green = new Float32Array(count * 3);
  for (let i = 0; i < count; i++) green[i * 3 + 1] = 1;
  colourPrim.addTarget(doc.createPrimitiveTarget('green').setAttribute('COLOR_0', createAccessor(doc, 'morph-colour:0:COLOR_0', green, 3)));
  const mc = doc.createMesh('morph-colour').addPrimitive(colourPrim).setWeights([1]);

  const webpBytes = await (await rgbImage(32, 32, (x, y) => ((x < 16) === (y < 16) ? [0, 0, 255] : [255, 255, 0]))).webp({ lossless: true }).toBuffer();
  const webp = doc.createTexture('checker-webp').setImage(new Uint8Array(webpBytes)).setMimeType('image/webp');
  const webpMat = unlit('webp', [1, 1, 1]).setBaseColorTexture(webp);
  const jpegBytes = await (await rgbImage(24, 12, (x, y) => (y >= 6 ? [0, 0, 255] : x < 12 ? [255, 0, 0] : [0, 255, 0])))
    .jpeg({ quality: 95 })
    .withMetadata({ orientation: 6 })
    .toBuffer();
  const jpeg = doc.createTexture('quadrants-exif').setImage(new Uint8Array(jpegBytes)).setMimeType('image/jpeg');
  const jpegMat = unlit('exif-jpeg', [1, 1, 1]).setBaseColorTexture(jpeg);

  const halvesPng = await (await rgbImage(16, 16, (x) => (x < 8 ? [255, 0, 255] : [0, 255, 255]))).png().toBuffer();
  const avif = doc.createTexture(AVIF_FALLBACK).setImage(new Uint8Array(halvesPng)).setMimeType('image/png');
  const avifMat = unlit('avif', [1, 1, 1]).setBaseColorTexture(avif);

  scene
    .addChild(doc.createNode('avif').setMesh(doc.createMesh('avif').addPrimitive(square(doc, 'avif', 3.2, -2.6, 1.2).setMaterial(avifMat))))
    .addChild(n16)
    .addChild(again)
    .addChild(doc.createNode('morph-normals-6').setMesh(mn))
    .addChild(doc.createNode('morph-colour').setMesh(mc))
    .addChild(doc.createNode('webp').setMesh(doc.createMesh('webp').addPrimitive(square(doc, 'webp', -2.5, -2.6, 2).setMaterial(webpMat))))
    .addChild(doc.createNode('exif-jpeg').setMesh(doc.createMesh('exif-jpeg').addPrimitive(square(doc, 'exif-jpeg', 1, -2.6, 2).setMaterial(jpegMat))));

  // Clip "close-even": the even targets of the first node go from 1 to 0 over 1 s.
  const input = createAccessor(doc, 'close-even:input', new Float32Array([0, 1]), 1);
  const output = createAccessor(doc, 'close-even:output', new Float32Array([...MORPH16_SQUARES.map(() => 1), ...MORPH16_SQUARES.map((_, k) => k % 2)]), 1);
  const sampler = doc.createAnimationSampler().setInput(input).setOutput(output).setInterpolation('LINEAR');
  doc.createAnimation('close-even').addSampler(sampler).addChannel(doc.createAnimationChannel().setTargetNode(n16).setTargetPath('weights').setSampler(sampler));

  const zUp = doc.createScene('skinned-z-up');
  const column = box({ size: [0.6, 0.6, 4], center: [0, 0, 2] });
  const vertices = column.attributes.POSITION.length / 3;
  column.attributes.JOINTS_0 = new Uint8Array(vertices * 4);
  column.attributes.WEIGHTS_0 = new Float32Array(vertices * 4).map((_, i) => (i % 4 === 0 ? 1 : 0));
  const columnPrim = primitiveFromData(doc, 'skinned-column', column, { material: unlit('green', [0, 1, 0]) });
  const root = doc.createNode('root').setRotation([-Math.SQRT1_2, 0, 0, Math.SQRT1_2]);
  zUp.addChild(root).addChild(doc.createNode('skinned-column').setMesh(doc.createMesh('skinned-column').addPrimitive(columnPrim)).setSkin(doc.createSkin('column').addJoint(root)));

  const camera = doc.createCamera('front').setType('orthographic').setXMag(4).setYMag(4).setZNear(0.1).setZFar(20);
  scene.addChild(doc.createNode('front').setCamera(camera).setTranslation([0, 0, 10]));
  doc.getRoot().setDefaultScene(scene);
  return doc;
}

const AVIF_FALLBACK = 'halves-png-fallback';

/** The coverage scene as GLB bytes (the AVIF source is added here: glTF-Transform writes no fallbacks). */
export async function coverageGlb(): Promise<Uint8Array> {
  const io = await createIO();
  const written = await io.writeJSON(await buildCoverageScene(), { format: Format.GLB });
  const json = written.json;
  const halves = await (await rgbImage(16, 16, (x) => (x < 8 ? [255, 0, 0] : [0, 255, 0]))).avif({ lossless: true }).toBuffer();
  const images = (json.images ??= []);
  const fallback = images.findIndex((i) => i.name === AVIF_FALLBACK);
  images.push({ name: 'halves-avif', mimeType: 'image/avif', uri: `data:image/avif;base64,${halves.toString('base64')}` });
  const texture = json.textures!.find((t) => t.source === fallback)!;
  texture.extensions = { EXT_texture_avif: { source: images.length - 1 } };
  json.extensionsUsed = [...(json.extensionsUsed ?? []), 'EXT_texture_avif'];
  return packGlb(written);
}
