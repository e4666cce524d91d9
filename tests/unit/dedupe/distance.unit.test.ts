import { describe, expect, it } from 'vitest';
import { hashToHex, hexToHash, l2Normalize } from '../../../src/dedupe/index.js';
import {
  cosineDistance,
  embeddingDistance,
  hammingDistance,
  l2Distance,
  meanSquaredError,
  rmseDistance,
} from '../../../src/dedupe/distance.js';
import { perceptualHash } from '../../../src/dedupe/hash.js';

describe('distances', () => {
  it('normalises to unit length and leaves a zero vector at zero', () => {
    const n = l2Normalize(Float32Array.of(3, 4));
    expect(Array.from(n)).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    expect(Array.from(l2Normalize(Float32Array.of(0, 0)))).toEqual([0, 0]);
  });

  it('cosine, l2 and rmse agree with their definitions', () => {
    const a = Float32Array.of(1, 0);
    const b = Float32Array.of(0, 2);
    expect(cosineDistance(a, b)).toBeCloseTo(1, 9);
    expect(l2Distance(a, b)).toBeCloseTo(Math.SQRT2, 9);
    expect(rmseDistance(a, b)).toBeCloseTo(Math.sqrt((1 + 4) / 2), 9);
    expect(embeddingDistance('cosine', a, Float32Array.of(5, 0))).toBe(0);
    expect(meanSquaredError(Uint8Array.of(0, 10), Uint8Array.of(2, 10))).toBe(2);
    expect(() => cosineDistance(a, Float32Array.of(1))).toThrow(/lengths differ/);
  });

  it('hamming distance counts differing bits of 64-bit hashes', () => {
    expect(hammingDistance(0n, 0n)).toBe(0);
    expect(hammingDistance(0n, (1n << 64n) - 1n)).toBe(64);
    expect(hammingDistance(0b1011n, 0b0001n)).toBe(2);
    expect(hexToHash(hashToHex(0xdeadbeef01234567n))).toBe(0xdeadbeef01234567n);
    expect(() => hexToHash('xyz')).toThrow(/16-digit hex/);
  });

  it('the perceptual hash sets half the bits and ignores brightness offsets', () => {
    const gray = Float64Array.from({ length: 1024 }, (_, i) => ((i % 32) * 8 + Math.floor(i / 32) * 3) % 256);
    const hash = perceptualHash(gray);
    const ones = hashToHex(hash)
      .split('')
      .reduce((t, d) => t + parseInt(d, 16).toString(2).replace(/0/g, '').length, 0);
    expect(ones).toBeGreaterThan(20);
    expect(ones).toBeLessThanOrEqual(32);
    const brighter = gray.map((v) => v + 20);
    expect(hammingDistance(hash, perceptualHash(brighter))).toBe(0);
    expect(() => perceptualHash(new Float64Array(10))).toThrow(/32×32/);
  });
});
