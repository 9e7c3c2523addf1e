/**
 * Seeded pseudo-random numbers (sfc32), so that routing ties, simulations and generated topologies repeat
 * exactly for a given seed. Not for secrets.
 */

/** A source of uniform numbers in [0, 1), like Math.random. */
export type Random = () => number;

/** A seeded generator; equal seeds give equal sequences. */
export function createRandom(seed: number | string): Random {
  // Spread the seed over four 32-bit words with a string hash (splitmix-like), so seeds 1 and 2 differ at once.
  const text = String(seed);
  let h = 0x9e3779b9 ^ text.length;
  const words = [0, 0, 0, 0];
  for (let w = 0; w < 4; w++) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x5bd1e995) ^ (h >>> 13);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) + w * 0x632be5ab;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    words[w] = (h ^= h >>> 16) >>> 0;
  }
  let [a, b, c, d] = words;
  const next: Random = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Random, n: number): number {
  return Math.floor(rng() * n);
}

/** A standard normal number (Box–Muller). */
export function randomNormal(rng: Random): number {
  const u = 1 - rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** An exponential number with mean 1. */
export function randomExponential(rng: Random): number {
  return -Math.log(1 - rng());
}

/** Shuffles `items` in place (Fisher–Yates) and returns it. */
export function shuffleInPlace<T>(items: T[], rng: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = items[i];
    items[i] = items[j];
    items[j] = t;
  }
  return items;
}

/**
 * A uniform number in [0, 1) determined by two integers alone (a stateless hash): the same pair always
 * gives the same number, whatever was drawn before. Generators use it for per-pair properties.
 */
export function hashUnit(seed: number, a: number, b: number): number {
  let h = Math.imul(seed ^ 0x27d4eb2d, 0x9e3779b1) ^ Math.imul(a + 0x165667b1, 0x85ebca77);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae3d) ^ Math.imul(b + 0x27d4eb2f, 0x165667b1);
  h = Math.imul(h ^ (h >>> 13), 0x85ebca77);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return (h >>> 0) / 4294967296;
}
