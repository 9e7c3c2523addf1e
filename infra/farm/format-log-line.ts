const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every pino line has that the farm's prefix and layout already show. */
const SHOWN = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

/**
 * One line of a farm part's output, readable: a pino JSON line becomes `12:00:01.234 INFO msg key=value …`;
 * any other line is kept as it is. `loggerName` is the pino logger's name, left out since the prefix says it.
 */
export function formatLogLine(line: string, opts: { loggerName?: string } = {}): string {
  if (!line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof rec !== 'object' || rec === null || !('level' in rec)) return line;
  const time = typeof rec.time === 'number' ? new Date(rec.time).toTimeString().slice(0, 8) + '.' + String(rec.time % 1000).padStart(3, '0') : '';
  const level = (typeof rec.level === 'number' ? LEVELS[rec.level] : String(rec.level)) ?? String(rec.level);
  const fields = Object.entries(rec)
    // The logger's own name repeats the prefix; a `name` field of the message (a node's name, say) stays.
    .filter(([k, v]) => !SHOWN.has(k) && !(k === 'name' && v === opts.loggerName))
    .map(([k, v]) => `${k}=${showValue(v)}`);
  return [time, level.padEnd(5), String(rec.msg ?? ''), ...fields].filter(Boolean).join(' ');
}

function showValue(v: unknown): string {
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v;
  // pino's error serializer: the message says enough in a combined log.
  if (v && typeof v === 'object' && 'message' in v && 'stack' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}
