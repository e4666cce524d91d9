/**
 * The 64-bit perceptual hash (pHash): a 32×32 gray thumbnail, its 2-D DCT, the 8×8 lowest frequencies
 * compared with their median. Robust to resizing, re-encoding and mild colour changes; not to rotations,
 * flips or heavy crops (those move the low frequencies).
 */

/** Side of the gray thumbnail the hash is computed from. */
export const PHASH_INPUT_SIZE = 32;
const LOW = 8;

// DCT-II basis for N = 32, computed once: COS[k * N + n] = cos(pi / N * (n + 0.5) * k).
const N = PHASH_INPUT_SIZE;
const COS = new Float64Array(N * N);
for (let k = 0; k < N; k++) {
  for (let n = 0; n < N; n++) COS[k * N + n] = Math.cos((Math.PI / N) * (n + 0.5) * k);
}

/**
 * The low-frequency 8×8 block of the 2-D DCT-II of a 32×32 gray image (row-major, any numeric scale).
 * Only the 8 lowest rows/columns are computed: the rest would be thrown away.
 */
export function lowFrequencyDct(gray: ArrayLike<number>): Float64Array {
  if (gray.length !== N * N) throw new Error(`pHash needs a ${N}×${N} gray image, got ${gray.length} pixels`);
  // Rows first: rowDct[y * LOW + u] = sum_x gray[y, x] cos(u, x)
  const rowDct = new Float64Array(N * LOW);
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < LOW; u++) {
      let sum = 0;
      for (let x = 0; x < N; x++) sum += gray[y * N + x]! * COS[u * N + x]!;
      rowDct[y * LOW + u] = sum;
    }
  }
  const out = new Float64Array(LOW * LOW);
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      let sum = 0;
      for (let y = 0; y < N; y++) sum += rowDct[y * LOW + u]! * COS[v * N + y]!;
      out[v * LOW + u] = sum;
    }
  }
  return out;
}

/** The 64-bit pHash of a 32×32 gray image: bit i set when low-frequency coefficient i exceeds the median. */
export function perceptualHash(gray: ArrayLike<number>): bigint {
  const coefficients = lowFrequencyDct(gray);
  const sorted = Array.from(coefficients).sort((a, b) => a - b);
  const median = (sorted[31]! + sorted[32]!) / 2;
  let hash = 0n;
  for (let i = 0; i < 64; i++) {
    if (coefficients[i]! > median) hash |= 1n << BigInt(63 - i);
  }
  return hash;
}

/** 16 lowercase hex digits, the form hashes take in JSON. */
export function hashToHex(hash: bigint): string {
  return BigInt.asUintN(64, hash).toString(16).padStart(16, '0');
}

export function hexToHash(hex: string): bigint {
  if (!/^[0-9a-f]{16}$/i.test(hex))
    throw new Error(`expected a 16-digit hex hash, got ${JSON.stringify(hex)}`);
  return BigInt('0x' + hex);
}
