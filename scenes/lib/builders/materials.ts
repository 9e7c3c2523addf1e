import { Document, type Material } from '@gltf-transform/core';
import {
  KHRMaterialsAnisotropy,
  KHRMaterialsClearcoat,
  KHRMaterialsEmissiveStrength,
  KHRMaterialsIOR,
  KHRMaterialsIridescence,
  KHRMaterialsSheen,
  KHRMaterialsSpecular,
} from '@gltf-transform/extensions';
import { primitiveFromData } from '../primitive-from-data.ts';
import { uvSphere } from '../uv-sphere.ts';

/**
 * The KHR_materials_* family that three r162 renders on WebGL 1, one glTF scene per extension (selected with
 * `--scene NAME`): two spheres side by side, the left one without the extension (the reference) and the right
 * one the same material with it. What each must look like is in scenes/README.md and checked by
 * test/materials.test.ts.
 */
export async function buildMaterials(): Promise<Document> {
  const doc = new Document();
  doc.createBuffer();
  // One sphere's accessors, shared by every mesh (each mesh only swaps the material).
  const sphere = primitiveFromData(doc, 'sphere', uvSphere({ radius: 1, segmentsU: 64, segmentsV: 32, uvs: false }));
  // Anisotropy is oriented by the tangent frame: that pair uses a sphere with UVs and TANGENT (u runs east).
  const tangentSphere = primitiveFromData(doc, 'tangent-sphere', uvSphere({ radius: 1, segmentsU: 64, segmentsV: 32, uvs: true, tangents: true }));
  const mesh = (name: string, material: Material, shape = sphere) => doc.createMesh(name).addPrimitive(shape.clone().setMaterial(material));
  const pair = (name: string, left: Material, right: Material, shape = sphere) => {
    const scene = doc.createScene(name);
    scene.addChild(doc.createNode(`${name}-without`).setMesh(mesh(`${name}-without`, left, shape)).setTranslation([-1.2, 0, 0]));
    scene.addChild(doc.createNode(`${name}-with`).setMesh(mesh(`${name}-with`, right, shape)).setTranslation([1.2, 0, 0]));
    return scene;
  };
  const base = (name: string, color: [number, number, number], roughness: number) =>
    doc.createMaterial(name).setBaseColorFactor([...color, 1]).setMetallicFactor(0).setRoughnessFactor(roughness);

  // Clearcoat: a rough red base under a glossy coat → a sharp highlight the rough base alone lacks.
  const clearcoat = doc.createExtension(KHRMaterialsClearcoat);
  const coated = base('clearcoat-with', [0.6, 0.05, 0.05], 0.8);
  coated.setExtension('KHR_materials_clearcoat', clearcoat.createClearcoat().setClearcoatFactor(1).setClearcoatRoughnessFactor(0.05));
  const first = pair('clearcoat', base('clearcoat-without', [0.6, 0.05, 0.05], 0.8), coated);

  // Sheen: dark blue velvet → a bright rim at grazing angles.
  const sheen = doc.createExtension(KHRMaterialsSheen);
  const velvet = base('sheen-with', [0.02, 0.03, 0.15], 0.9);
  velvet.setExtension('KHR_materials_sheen', sheen.createSheen().setSheenColorFactor([1, 1, 1]).setSheenRoughnessFactor(0.4));
  pair('sheen', base('sheen-without', [0.02, 0.03, 0.15], 0.9), velvet);

  // Specular: specularFactor 0 removes the dielectric reflection → no highlight at all.
  const specular = doc.createExtension(KHRMaterialsSpecular);
  const matte = base('specular-with', [0.1, 0.3, 0.1], 0.2);
  matte.setExtension('KHR_materials_specular', specular.createSpecular().setSpecularFactor(0));
  pair('specular', base('specular-without', [0.1, 0.3, 0.1], 0.2), matte);

  // IOR: 2.4 (diamond) instead of glTF's default 1.5 → a much stronger reflection.
  const ior = doc.createExtension(KHRMaterialsIOR);
  const dense = base('ior-with', [0.05, 0.05, 0.2], 0.15);
  dense.setExtension('KHR_materials_ior', ior.createIOR().setIOR(2.4));
  pair('ior', base('ior-without', [0.05, 0.05, 0.2], 0.15), dense);

  // Iridescence: a thin film over grey → hues that change with the viewing angle.
  const iridescence = doc.createExtension(KHRMaterialsIridescence);
  const film = base('iridescence-with', [0.3, 0.3, 0.3], 0.2);
  film.setExtension(
    'KHR_materials_iridescence',
    iridescence.createIridescence().setIridescenceFactor(1).setIridescenceIOR(1.8).setIridescenceThicknessMinimum(300).setIridescenceThicknessMaximum(300),
  );
  pair('iridescence', base('iridescence-without', [0.3, 0.3, 0.3], 0.2), film);

  // Emissive strength: the same orange emission at 1 and at 4 → the right sphere glows brighter.
  const strength = doc.createExtension(KHRMaterialsEmissiveStrength);
  const glow = (name: string, s: number) => {
    const m = base(name, [0.05, 0.05, 0.05], 0.9).setEmissiveFactor([0.25, 0.08, 0.01]);
    return m.setExtension('KHR_materials_emissive_strength', strength.createEmissiveStrength().setEmissiveStrength(s));
  };
  pair('emissive-strength', glow('emissive-strength-1', 1), glow('emissive-strength-4', 4));

  // Anisotropy: brushed metal → the key light's highlight stretches into a streak across the tangent (east) direction.
  const anisotropy = doc.createExtension(KHRMaterialsAnisotropy);
  const metal = (name: string) => doc.createMaterial(name).setBaseColorFactor([0.9, 0.9, 0.9, 1]).setMetallicFactor(1).setRoughnessFactor(0.35);
  const brushed = metal('anisotropy-with');
  brushed.setExtension('KHR_materials_anisotropy', anisotropy.createAnisotropy().setAnisotropyStrength(0.9).setAnisotropyRotation(0));
  pair('anisotropy', metal('anisotropy-without'), brushed, tangentSphere);

  doc.getRoot().setDefaultScene(first);
  return doc;
}
