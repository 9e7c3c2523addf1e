/**
 * Reads a zip upload without trusting anything it declares. The central directory is only a claim: every
 * entry's local header must agree with it (name, method, sizes, CRC), entries may not overlap or share data,
 * and each entry is inflated in small chunks with fflate's streaming `Inflate`, counting the bytes actually
 * produced: the read stops as soon as an entry produces more than it declared or the files together pass the
 * cap, so a zip bomb costs at most one chunk's worth of output past the cap. Between chunks it yields to the
 * event loop whenever it has run for `sliceMs`, so a large upload never stalls other requests. Runtime-free
 * (Node and Workers).
 */
import { Inflate } from 'fflate';

export interface ZipReadOptions {
  /** Most entries (files) the zip may hold; directories and `__MACOSX/` entries count too. */
  maxEntries: number;
  /** Most bytes all entries may produce together, counted as they inflate. */
  maxUnpackedBytes: number;
  /** Bytes of compressed input pushed per inflate step (each step produces at most ~1032× that). */
  chunkBytes?: number;
  /** Run at most this long between yields to the event loop. */
  sliceMs?: number;
  /** Whether to read an entry's bytes (false: skipped entries such as directories); default all. */
  include?: (name: string) => boolean;
}

export const ZIP_READ_DEFAULTS = { chunkBytes: 4096, sliceMs: 4 } as const;

/** Why a zip was refused: `limit` (a cap was passed) or `malformed` (it lies or is broken). */
export class ZipRejected extends Error {
  constructor(
    readonly reason: 'limit' | 'malformed',
    message: string,
  ) {
    super(message);
    this.name = 'ZipRejected';
  }
}

const EOCD_SIG = 0x06054b50;
const CDIR_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const DESCRIPTOR_SIG = 0x08074b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;

interface CentralEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

const malformed = (message: string) => new ZipRejected('malformed', message);

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}

const decoder = new TextDecoder();

/** The end-of-central-directory record: searched backwards over the comment (at most 64 KiB). */
function findEocd(view: DataView): number {
  const min = Math.max(0, view.byteLength - 22 - 0xffff);
  for (let i = view.byteLength - 22; i >= min; i--) {
    if (view.getUint32(i, true) === EOCD_SIG && i + 22 + view.getUint16(i + 20, true) === view.byteLength) return i;
  }
  throw malformed('it has no end-of-central-directory record (not a zip, or truncated)');
}

function readCentralDirectory(bytes: Uint8Array, view: DataView, maxEntries: number): { entries: CentralEntry[]; cdStart: number } {
  const eocd = findEocd(view);
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === ZIP64_LOCATOR_SIG) throw malformed('it is a ZIP64 archive, which scene uploads do not need');
  const disk = view.getUint16(eocd + 4, true);
  const cdDisk = view.getUint16(eocd + 6, true);
  const onDisk = view.getUint16(eocd + 8, true);
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdStart = view.getUint32(eocd + 16, true);
  if (disk !== 0 || cdDisk !== 0 || onDisk !== count) throw malformed('it spans several disks');
  if (count > maxEntries) throw new ZipRejected('limit', `it holds ${count} entries, more than the ${maxEntries} allowed`);
  if (cdStart + cdSize !== eocd) throw malformed('its central directory does not end where the end record says');
  const entries: CentralEntry[] = [];
  let p = cdStart;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || view.getUint32(p, true) !== CDIR_SIG) throw malformed(`central directory entry ${i} is not where it should be`);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > eocd) throw malformed(`central directory entry ${i} runs past the directory`);
    const entry: CentralEntry = {
      flags: view.getUint16(p + 8, true),
      method: view.getUint16(p + 10, true),
      crc: view.getUint32(p + 16, true),
      compressedSize: view.getUint32(p + 20, true),
      size: view.getUint32(p + 24, true),
      localOffset: view.getUint32(p + 42, true),
      name: decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen)),
    };
    if (entry.compressedSize === 0xffffffff || entry.size === 0xffffffff || entry.localOffset === 0xffffffff) {
      throw malformed(`entry "${entry.name.slice(0, 200)}" uses ZIP64 sizes`);
    }
    entries.push(entry);
    p = end;
  }
  if (p !== eocd) throw malformed('its central directory holds more than the end record counts');
  return { entries, cdStart };
}

/** Where an entry's compressed data starts and its whole record (header, data, descriptor) ends. */
function checkLocalHeader(bytes: Uint8Array, view: DataView, e: CentralEntry, cdStart: number): { dataStart: number; end: number } {
  const at = e.localOffset;
  const label = `entry "${e.name.slice(0, 200)}"`;
  if (at + 30 > cdStart || view.getUint32(at, true) !== LOCAL_SIG) throw malformed(`${label} has no local header where the central directory points`);
  const flags = view.getUint16(at + 6, true);
  const method = view.getUint16(at + 8, true);
  const nameLen = view.getUint16(at + 26, true);
  const extraLen = view.getUint16(at + 28, true);
  const dataStart = at + 30 + nameLen + extraLen;
  if (flags & 1) throw malformed(`${label} is encrypted`);
  if (method !== e.method || (flags & 8) !== (e.flags & 8)) throw malformed(`${label}'s local header and central directory disagree on how it is stored`);
  if (decoder.decode(bytes.subarray(at + 30, at + 30 + nameLen)) !== e.name) throw malformed(`${label}'s local header names another file`);
  const dataEnd = dataStart + e.compressedSize;
  if (dataEnd > cdStart) throw malformed(`${label}'s data runs into the central directory`);
  let end = dataEnd;
  if (flags & 8) {
    // Sizes follow the data in a descriptor (optionally signed); the local header's may be zero or must agree.
    const localSizes = [view.getUint32(at + 14, true), view.getUint32(at + 18, true), view.getUint32(at + 22, true)];
    if (localSizes.some((v) => v !== 0) && (localSizes[0] !== e.crc || localSizes[1] !== e.compressedSize || localSizes[2] !== e.size)) {
      throw malformed(`${label}'s local header and central directory disagree on its size`);
    }
    let d = dataEnd;
    if (d + 4 <= cdStart && view.getUint32(d, true) === DESCRIPTOR_SIG) d += 4;
    if (d + 12 > cdStart) throw malformed(`${label}'s data descriptor is missing`);
    if (view.getUint32(d, true) !== e.crc || view.getUint32(d + 4, true) !== e.compressedSize || view.getUint32(d + 8, true) !== e.size) {
      throw malformed(`${label}'s data descriptor and central directory disagree on its size`);
    }
    end = d + 12;
  } else if (view.getUint32(at + 14, true) !== e.crc || view.getUint32(at + 18, true) !== e.compressedSize || view.getUint32(at + 22, true) !== e.size) {
    throw malformed(`${label}'s local header and central directory disagree on its size`);
  }
  return { dataStart, end };
}

/** Entries must not share bytes: two directory entries pointing at one file is how the biggest bombs work. */
function checkNoOverlap(ranges: { start: number; end: number; name: string }[]): void {
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].start < sorted[i - 1].end) {
      throw malformed(`entries "${sorted[i - 1].name.slice(0, 100)}" and "${sorted[i].name.slice(0, 100)}" overlap`);
    }
  }
}

/**
 * Read every entry of a zip into memory, after checking its structure, counting bytes as they are produced.
 * Throws `ZipRejected` for anything that lies, is broken, or passes a cap.
 */
export async function readZip(bytes: Uint8Array, options: ZipReadOptions): Promise<Map<string, Uint8Array>> {
  const chunkBytes = options.chunkBytes ?? ZIP_READ_DEFAULTS.chunkBytes;
  const sliceMs = options.sliceMs ?? ZIP_READ_DEFAULTS.sliceMs;
  if (bytes.length < 22) throw malformed('it is too short to be a zip');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { entries, cdStart } = readCentralDirectory(bytes, view, options.maxEntries);
  const located = entries.map((e) => ({ e, ...checkLocalHeader(bytes, view, e, cdStart) }));
  checkNoOverlap(located.map(({ e, end }) => ({ start: e.localOffset, end, name: e.name })));
  for (const { e } of located) {
    if (e.method !== 0 && e.method !== 8) throw malformed(`entry "${e.name.slice(0, 200)}" uses compression method ${e.method}; only stored and deflate are read`);
    if (e.method === 0 && e.compressedSize !== e.size) throw malformed(`entry "${e.name.slice(0, 200)}" is stored, yet its sizes differ`);
  }
  // Declared sizes are claims, but a declared total over the cap is refused before any work.
  const declared = located.reduce((sum, { e }) => sum + (options.include?.(e.name) === false ? 0 : e.size), 0);
  if (declared > options.maxUnpackedBytes) {
    throw new ZipRejected('limit', `it unpacks to more than ${options.maxUnpackedBytes} bytes`);
  }

  let sliceStart = Date.now();
  const maybeYield = async () => {
    if (Date.now() - sliceStart < sliceMs) return;
    await new Promise((r) => setTimeout(r, 0));
    sliceStart = Date.now();
  };

  const files = new Map<string, Uint8Array>();
  let total = 0;
  for (const { e, dataStart } of located) {
    if (options.include?.(e.name) === false) continue;
    if (files.has(e.name)) throw malformed(`it holds "${e.name.slice(0, 200)}" twice`);
    const label = `entry "${e.name.slice(0, 200)}"`;
    const data = bytes.subarray(dataStart, dataStart + e.compressedSize);
    const out = new Uint8Array(e.size);
    let produced = 0;
    let crc = -1;
    const accept = (chunk: Uint8Array) => {
      if (produced + chunk.length > e.size) throw malformed(`${label} inflates to more than the ${e.size} bytes it declares`);
      if (total + chunk.length > options.maxUnpackedBytes) throw new ZipRejected('limit', `it unpacks to more than ${options.maxUnpackedBytes} bytes`);
      out.set(chunk, produced);
      produced += chunk.length;
      total += chunk.length;
      crc = crc32Update(crc, chunk);
    };
    if (e.method === 0) {
      for (let off = 0; off < data.length; off += chunkBytes * 64) {
        accept(data.subarray(off, Math.min(data.length, off + chunkBytes * 64)));
        await maybeYield();
      }
    } else {
      let ended = false;
      const inflate = new Inflate((chunk, final) => {
        accept(chunk);
        if (final) ended = true;
      });
      try {
        if (data.length === 0) inflate.push(new Uint8Array(0), true);
        for (let off = 0; off < data.length; off += chunkBytes) {
          const last = off + chunkBytes >= data.length;
          inflate.push(data.subarray(off, Math.min(data.length, off + chunkBytes)), last);
          await maybeYield();
        }
      } catch (err) {
        if (err instanceof ZipRejected) throw err;
        throw malformed(`${label} does not inflate: ${(err as Error).message}`);
      }
      if (!ended) throw malformed(`${label}'s deflate stream does not end`);
    }
    if (produced !== e.size) throw malformed(`${label} inflates to ${produced} bytes, not the ${e.size} it declares`);
    if ((crc ^ -1) >>> 0 !== e.crc) throw malformed(`${label}'s CRC-32 does not match its data`);
    files.set(e.name, out);
  }
  return files;
}
