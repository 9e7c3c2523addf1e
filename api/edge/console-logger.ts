/**
 * The Logger port on Workers: one JSON line per entry through `console` (Workers Logs and `wrangler tail`
 * index JSON fields), dropping levels below `level`.
 */
import type { Logger } from '../core/logger.ts';

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
export type LogLevel = keyof typeof LEVELS;

/** A Logger writing `{level, msg, ...fields}` lines at `level` and above. */
export function createConsoleLogger(level: string, base: Record<string, unknown> = {}): Logger {
  const min = LEVELS[level as LogLevel] ?? LEVELS.info;
  const line = (name: LogLevel, write: (s: string) => void) => (obj: object, msg?: string) => {
    if (LEVELS[name] < min) return;
    write(JSON.stringify({ level: name, time: Date.now(), ...base, ...obj, msg }, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v)));
  };
  return {
    debug: line('debug', (s) => console.debug(s)),
    info: line('info', (s) => console.log(s)),
    warn: line('warn', (s) => console.warn(s)),
    error: line('error', (s) => console.error(s)),
  };
}
