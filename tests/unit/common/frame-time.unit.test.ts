import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { formatMediaTime, sourceTimeOf, withSourceTime } from '../../../src/common/wire/frame-time.js';

const PHOTOS = path.join('tests', 'fixtures', 'photos', 'imagehash', 'forest');
const jpeg = readFileSync(
  path.join(
    PHOTOS,
    readdirSync(PHOTOS)
      .filter((f) => f.endsWith('.jpg'))
      .sort()[0]!,
  ),
);

describe('frame time in a JPEG comment', () => {
  it('round-trips the time and leaves a JPEG that decodes to the same pixels', async () => {
    for (const ms of [0, 1300, 83_400.5, 1_795_322_453_408]) {
      const timed = withSourceTime(jpeg, ms);
      expect(sourceTimeOf(timed)).toBe(ms);
      expect(timed.length).toBe(jpeg.length + 4 + `framesift:t=${ms}`.length);
    }
    const timed = withSourceTime(jpeg, 1300);
    const [a, b] = await Promise.all([sharp(jpeg).raw().toBuffer(), sharp(timed).raw().toBuffer()]);
    expect(a.equals(b)).toBe(true);
  });

  it('is absent from other frames', async () => {
    expect(sourceTimeOf(jpeg)).toBeUndefined();
    expect(sourceTimeOf(await sharp(jpeg).png().toBuffer())).toBeUndefined();
    expect(sourceTimeOf(new Uint8Array(784))).toBeUndefined();
    expect(() => withSourceTime(new Uint8Array(10), 1)).toThrow('not a JPEG');
  });

  it('formats media times', () => {
    expect(formatMediaTime(0)).toBe('00:00:00.000');
    expect(formatMediaTime(83_400)).toBe('00:01:23.400');
    expect(formatMediaTime(3_723_004)).toBe('01:02:03.004');
  });
});
