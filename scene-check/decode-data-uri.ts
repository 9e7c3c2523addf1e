/**
 * Decodes an RFC 2397 `data:` URI (base64 or percent-encoded) into bytes, refusing malformed
 * payloads instead of silently skipping bad characters as `Buffer.from(..., 'base64')` would.
 */
import { malformed } from './gltf-fields.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64_BAD = /[^A-Za-z0-9+/=]|=(?=[^=])/;

/** Whether `uri` is a data: URI (scheme names are case-insensitive). */
export function isDataUri(uri: string): boolean {
  return /^data:/i.test(uri);
}

/** `what` names the owner for messages, e.g. `buffer 0`. */
export function decodeDataUri(uri: string, what: string): Uint8Array {
  const comma = uri.indexOf(',');
  if (comma === -1) throw malformed(`${what}: data: URI has no ',' before its data`);
  const header = uri.slice(5, comma);
  const payload = uri.slice(comma + 1);
  if (/;base64$/i.test(header)) {
    if (!BASE64.test(payload) || payload.length % 4 === 1) {
      const bad = BASE64_BAD.exec(payload);
      const detail = bad ? `bad character ${JSON.stringify(bad[0])} at offset ${bad.index}` : 'bad length';
      throw malformed(`${what}: data: URI is not valid base64 (${detail})`);
    }
    const buf = Buffer.from(payload, 'base64');
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return percentDecode(payload, what);
}

function percentDecode(text: string, what: string): Uint8Array {
  const out: number[] = [];
  const encoder = new TextEncoder();
  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw malformed(`${what}: data: URI has a bad percent-escape at offset ${i}`);
      out.push(parseInt(hex, 16));
      i += 3;
    } else if (c < 0x80) {
      out.push(c);
      i++;
    } else {
      const cp = text.codePointAt(i)!;
      for (const b of encoder.encode(String.fromCodePoint(cp))) out.push(b);
      i += cp > 0xffff ? 2 : 1;
    }
  }
  return Uint8Array.from(out);
}
