/**
 * Seeded randomness shared by the emulators and the fault suite, so a seed replays the same decisions.
 *
 * @module
 */

export type Random = () => number;

/** mulberry32: a tiny seeded PRNG with a uniform output in [0, 1). */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX_DIGIT_CODES = [..."0123456789abcdef"].map((digit) => digit.charCodeAt(0));

/** Hex digits, eight per 32-bit draw; built from char codes so a million ids are flat strings, not ropes. */
export function randomHex(random: Random, length: number): string {
  const codes = new Array<number>(length);
  let bits = 0;
  for (let i = 0; i < length; i++) {
    if (i % 8 === 0) bits = Math.floor(random() * 0x100000000);
    codes[i] = HEX_DIGIT_CODES[bits & 15];
    bits >>>= 4;
  }
  return String.fromCharCode(...codes);
}

export function pick<T>(random: Random, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

function shuffleInPlace<T>(random: Random, items: T[], from: number, to: number): void {
  for (let i = to - 1; i > from; i--) {
    const j = from + Math.floor(random() * (i - from + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** Permutes each run of consecutive items with equal `time` in place: an order a server does not promise. */
export function shuffleRuns(random: Random, items: { time: number }[]): void {
  let runStart = 0;
  for (let i = 1; i <= items.length; i++) {
    if (i === items.length || items[i].time !== items[runStart].time) {
      shuffleInPlace(random, items, runStart, i);
      runStart = i;
    }
  }
}
