import { describe, expect, it } from 'vitest';
import { parseChangeOptions } from '../../../src/dedupe/index.js';
import {
  borderCrop,
  changeScore,
  DEFAULT_CHANGE_OPTIONS,
  type GrayImage,
} from '../../../src/dedupe/change.js';

const blank = (w: number, h: number, v = 0): GrayImage => ({
  width: w,
  height: h,
  data: new Uint8Array(w * h).fill(v),
});
const options = { ...DEFAULT_CHANGE_OPTIONS, dilateIterations: 0, minAreaFraction: 0 };

describe('change score', () => {
  it('is the changed area over the image area', () => {
    const a = blank(10, 10);
    const b = blank(10, 10);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 4; x++) b.data[y * 10 + x] = 200;
    expect(changeScore(a, a, options)).toBe(0);
    expect(changeScore(a, b, options)).toBeCloseTo(0.2, 9);
  });

  it('ignores differences at or below the pixel threshold', () => {
    expect(changeScore(blank(8, 8), blank(8, 8, 25), options)).toBe(0);
    expect(changeScore(blank(8, 8), blank(8, 8, 26), options)).toBe(1);
  });

  it('drops regions smaller than the minimum area and dilation merges specks', () => {
    const a = blank(20, 20);
    const b = blank(20, 20);
    b.data[0] = 255; // one isolated pixel: noise
    for (let y = 10; y < 15; y++) for (let x = 10; x < 15; x++) b.data[y * 20 + x] = 255; // 25 px object
    expect(changeScore(a, b, { ...options, minAreaFraction: 2 / 400 })).toBeCloseTo(25 / 400, 9);
    // One dilation grows the 5×5 object to 7×7 and the speck to a 2×2 corner block.
    expect(changeScore(a, b, { ...options, dilateIterations: 1, minAreaFraction: 5 / 400 })).toBeCloseTo(
      49 / 400,
      9,
    );
  });

  it('rejects frames of different sizes and crops borders by percent', () => {
    expect(() => changeScore(blank(2, 2), blank(3, 2), options)).toThrow(/sizes differ/);
    expect(borderCrop(300, 200, 5)).toEqual({ left: 15, top: 10, width: 270, height: 180 });
  });
});

describe('--change-options', () => {
  it('overrides the defaults by key, any subset, any case', () => {
    expect(parseChangeOptions(undefined)).toEqual(DEFAULT_CHANGE_OPTIONS);
    expect(parseChangeOptions('pixel=40, minArea=0.01,resize=0')).toEqual({
      ...DEFAULT_CHANGE_OPTIONS,
      pixelThreshold: 40,
      minAreaFraction: 0.01,
      resizeWidth: 0,
    });
  });

  it('rejects unknown keys and out-of-range values with the offending part', () => {
    expect(() => parseChangeOptions('speed=3')).toThrow(/"speed=3": expected one of resize, border/);
    expect(() => parseChangeOptions('pixel=300')).toThrow(/pixel=300: expected an integer 0-255/);
    expect(() => parseChangeOptions('dilate=1.5')).toThrow(/expected an integer/);
    expect(() => parseChangeOptions('border=x')).toThrow(/border=x/);
  });
});
