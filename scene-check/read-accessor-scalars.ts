/**
 * Reads the values of a SCALAR accessor (or of sparse indices) straight from buffer bytes into a
 * typed array, honouring byteStride and unaligned offsets. Bounds were checked beforehand.
 */

export type ScalarArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Uint32Array | Float32Array;

interface ScalarArrayConstructor {
  new (buffer: ArrayBuffer): ScalarArray;
  new (length: number): ScalarArray;
  BYTES_PER_ELEMENT: number;
}

const ARRAYS: Record<number, ScalarArrayConstructor> = {
  5120: Int8Array,
  5121: Uint8Array,
  5122: Int16Array,
  5123: Uint16Array,
  5125: Uint32Array,
  5126: Float32Array,
};

/**
 * `data` is the whole buffer; `byteOffset` is where the first value starts in it; `stride` is the
 * distance between values (undefined: tightly packed).
 */
export function readAccessorScalars(
  data: Uint8Array,
  byteOffset: number,
  count: number,
  componentType: number,
  stride?: number,
): ScalarArray {
  const Ctor = ARRAYS[componentType];
  const size = Ctor.BYTES_PER_ELEMENT;
  if (stride === undefined || stride === size) {
    const copy = data.slice(byteOffset, byteOffset + count * size); // aligned, own buffer
    return new Ctor(copy.buffer);
  }
  const out = new Ctor(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let i = 0, at = byteOffset; i < count; i++, at += stride) {
    switch (componentType) {
      case 5120:
        out[i] = view.getInt8(at);
        break;
      case 5121:
        out[i] = view.getUint8(at);
        break;
      case 5122:
        out[i] = view.getInt16(at, true);
        break;
      case 5123:
        out[i] = view.getUint16(at, true);
        break;
      case 5125:
        out[i] = view.getUint32(at, true);
        break;
      default:
        out[i] = view.getFloat32(at, true);
    }
  }
  return out;
}
