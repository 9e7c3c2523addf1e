/** jpeg-js's decoder alone (api/edge/edge-image-comparer.ts), without its encoder: its CommonJS `module.exports = decode`. */
declare module 'jpeg-js/lib/decoder.js' {
  const decode: (
    jpegData: Uint8Array,
    opts: { useTArray: true; formatAsRGBA?: boolean; colorTransform?: boolean; tolerantDecoding?: boolean; maxResolutionInMP?: number; maxMemoryUsageInMB?: number },
  ) => { width: number; height: number; data: Uint8Array };
  export default decode;
}
