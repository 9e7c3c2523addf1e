/**
 * The logging port: the subset of pino's API the core uses, so the Node adapter can pass a pino logger
 * and a Workers adapter `console`-backed one, without the core importing either.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Drops everything (the default when no logger is given). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
