import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { JpegSplitter } from '../../../src/stream/jpeg-splitter.js';

const PHOTOS = path.join('tests', 'fixtures', 'photos', 'imagehash', 'forest');
const jpegs = readdirSync(PHOTOS)
  .filter((f) => f.endsWith('.jpg'))
  .sort()
  .slice(0, 3)
  .map((f) => readFileSync(path.join(PHOTOS, f)));

/** A JPEG whose APP segment holds bytes that look like EOI and SOI (an embedded thumbnail does this). */
async function withTrickySegment(): Promise<Buffer> {
  const small = await sharp(jpegs[0]).resize(32, 32).jpeg().toBuffer();
  const payload = Buffer.concat([Buffer.from('Exif\0\0'), Buffer.from([0xff, 0xd9, 0xff, 0xd8, 0xff, 0xd9])]);
  const app1 = Buffer.alloc(4);
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([small.subarray(0, 2), app1, payload, small.subarray(2)]);
}

describe('JpegSplitter', () => {
  it('splits back-to-back real JPEG files whatever the chunk boundaries', async () => {
    const tricky = await withTrickySegment();
    const cases: Array<[Buffer[], number[]]> = [
      // Byte-sized chunks on small files (every boundary inside every marker), larger ones on the photos.
      [
        [tricky, tricky, tricky],
        [1, 2, 3, 7],
      ],
      [
        [...jpegs, tricky],
        [64, 4096, 65536, Infinity],
      ],
    ];
    for (const [files, sizes] of cases) {
      const stream = Buffer.concat(files);
      for (const size of sizes) {
        const chunkSize = Math.min(size, stream.length);
        const splitter = new JpegSplitter();
        const out: Buffer[] = [];
        for (let i = 0; i < stream.length; i += chunkSize)
          out.push(...splitter.push(stream.subarray(i, i + chunkSize)));
        expect(out.map((b) => b.length)).toEqual(files.map((f) => f.length));
        out.forEach((b, i) => expect(b.equals(files[i]!)).toBe(true));
        expect(splitter.buffered).toBe(0);
        expect(splitter.discarded).toBe(0);
      }
    }
    // The tricky one still decodes as the image it is.
    expect((await sharp(tricky).metadata()).width).toBe(32);
  });

  it('skips bytes outside a JPEG (a multipart boundary, garbage) and keeps a partial frame', () => {
    const boundary = Buffer.from('--ffmpeg\r\nContent-type: image/jpeg\r\nContent-length: 99\r\n\r\n');
    const splitter = new JpegSplitter();
    const out = splitter.push(
      Buffer.concat([boundary, jpegs[0]!, Buffer.from('\r\n'), boundary, jpegs[1]!.subarray(0, 500)]),
    );
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(jpegs[0]!)).toBe(true);
    expect(splitter.discarded).toBe(boundary.length * 2 + 2);
    expect(splitter.buffered).toBe(500);
    const rest = splitter.push(jpegs[1]!.subarray(500));
    expect(rest).toHaveLength(1);
    expect(rest[0]!.equals(jpegs[1]!)).toBe(true);
  });
});
