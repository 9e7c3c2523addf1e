/**
 * The simulator's inputs: HOSTS.csv (`id,name,lat,lon`; lat/lon may be empty) and RTT.csv
 * (`src,dst,rtt_ms`, directed, pairs may be missing). Bad input throws a RangeError naming the file and line.
 * RTT files can be large (n² lines), so they are parsed from a stream of text chunks.
 */
import type { Host, RttSource } from './rtt-source.ts';

/** Hosts above this are stored sparsely (a dense matrix would take size² × 4 bytes). */
const DENSE_MAX_HOSTS = 8000;

/** The fields of one CSV line; double quotes may wrap a field (`""` is a quote inside one). */
function splitCsvLine(line: string, where: () => string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        if (i >= line.length) throw new RangeError(`${where()}: unterminated quoted field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') { v += '"'; i += 2; continue; }
          i++;
          break;
        }
        v += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new RangeError(`${where()}: text after a closing quote`);
      out.push(v);
      i++;
    } else {
      const end = line.indexOf(',', i);
      const stop = end < 0 ? line.length : end;
      out.push(line.slice(i, stop));
      i = stop + 1;
    }
  }
  return out;
}

function checkHeader(line: string | undefined, expected: string[], file: string): void {
  const got = (line ?? '').replace(/^\uFEFF/, '').split(',').map((x) => x.trim().toLowerCase());
  if (got.length !== expected.length || got.some((x, i) => x !== expected[i])) {
    throw new RangeError(`${file}:1: expected the header "${expected.join(',')}" (got "${(line ?? '').slice(0, 80)}")`);
  }
}

/** Parses HOSTS.csv text. */
export function parseHostsCsv(text: string, file = 'HOSTS.csv'): Host[] {
  const lines = text.split(/\r?\n/);
  checkHeader(lines[0], ['id', 'name', 'lat', 'lon'], file);
  const hosts: Host[] = [];
  const seen = new Set<string>();
  for (let l = 1; l < lines.length; l++) {
    const line = lines[l];
    if (line.trim() === '') continue;
    const where = () => `${file}:${l + 1}`;
    const f = splitCsvLine(line, where);
    if (f.length !== 4) throw new RangeError(`${where()}: expected 4 fields (id,name,lat,lon), got ${f.length}`);
    const id = f[0].trim();
    if (!id) throw new RangeError(`${where()}: empty id`);
    if (seen.has(id)) throw new RangeError(`${where()}: duplicate id "${id}"`);
    seen.add(id);
    const latText = f[2].trim();
    const lonText = f[3].trim();
    if ((latText === '') !== (lonText === '')) throw new RangeError(`${where()}: lat and lon must both be given or both be empty`);
    if (latText === '') {
      hosts.push({ id, name: f[1].trim() });
      continue;
    }
    const lat = Number(latText);
    const lon = Number(lonText);
    if (!Number.isFinite(lat) || Math.abs(lat) > 90) throw new RangeError(`${where()}: lat "${latText}" is not a latitude (-90 to 90)`);
    if (!Number.isFinite(lon) || Math.abs(lon) > 180) throw new RangeError(`${where()}: lon "${lonText}" is not a longitude (-180 to 180)`);
    hosts.push({ id, name: f[1].trim(), lat, lon });
  }
  if (hosts.length < 2) throw new RangeError(`${file}: needs at least 2 hosts (got ${hosts.length})`);
  return hosts;
}

/** What RTT.csv held besides the matrix: how many lines were read and pairs stored. */
export interface RttCsvStats {
  lines: number;
  pairs: number;
  duplicates: number;
}

/**
 * Parses RTT.csv from text chunks (any split, e.g. a file stream) into an RTT source over `hosts`'
 * indices. A pair given twice keeps its smaller RTT.
 */
export async function parseRttCsv(chunks: Iterable<string> | AsyncIterable<string>, hosts: readonly Host[], file = 'RTT.csv'): Promise<RttSource & { stats: RttCsvStats }> {
  const index = new Map<string, number>();
  hosts.forEach((h, i) => index.set(h.id, i));
  const n = hosts.length;
  const dense = n <= DENSE_MAX_HOSTS ? new Float32Array(n * n).fill(NaN) : null;
  const sparse = dense ? null : new Map<number, number>();
  const stats: RttCsvStats = { lines: 0, pairs: 0, duplicates: 0 };
  let lineNo = 0;
  let rest = '';
  const onLine = (raw: string) => {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (lineNo === 1) return checkHeader(line, ['src', 'dst', 'rtt_ms'], file);
    if (line.trim() === '') return;
    stats.lines++;
    const where = () => `${file}:${lineNo}`;
    const f = splitCsvLine(line, where);
    if (f.length !== 3) throw new RangeError(`${where()}: expected 3 fields (src,dst,rtt_ms), got ${f.length}`);
    const a = index.get(f[0].trim());
    const b = index.get(f[1].trim());
    if (a === undefined) throw new RangeError(`${where()}: src "${f[0].trim()}" is not in the hosts file`);
    if (b === undefined) throw new RangeError(`${where()}: dst "${f[1].trim()}" is not in the hosts file`);
    if (a === b) throw new RangeError(`${where()}: src and dst are the same host "${f[0].trim()}"`);
    const text = f[2].trim();
    const rtt = text === '' ? NaN : Number(text);
    if (!Number.isFinite(rtt) || rtt <= 0) throw new RangeError(`${where()}: rtt_ms "${text}" is not a positive number`);
    const key = a * n + b;
    const old = dense ? dense[key] : sparse!.get(key) ?? NaN;
    if (!Number.isNaN(old)) {
      stats.duplicates++;
      if (old <= rtt) return;
    } else stats.pairs++;
    if (dense) dense[key] = rtt;
    else sparse!.set(key, rtt);
  };
  for await (const chunk of chunks as AsyncIterable<string>) {
    let text = rest + chunk;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      onLine(text.slice(start, nl));
      start = nl + 1;
    }
    rest = text.slice(start);
    text = '';
  }
  if (rest !== '') onLine(rest);
  if (lineNo === 0) checkHeader('', ['src', 'dst', 'rtt_ms'], file);
  if (stats.pairs === 0) throw new RangeError(`${file}: no RTTs`);
  const rtt = dense ? (s: number, d: number) => dense[s * n + d] : (s: number, d: number) => sparse!.get(s * n + d) ?? NaN;
  return { size: n, rtt, stats };
}
