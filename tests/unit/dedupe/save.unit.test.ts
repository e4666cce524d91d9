import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StreamDeduper } from '../../../src/dedupe/index.js';
import { type UniquesManifest } from '../../../src/dedupe/save.js';
import { CALTECH } from '../../test-data.js';

let out: string;
beforeEach(async () => {
  out = await mkdtemp(path.join(tmpdir(), 'framesift-save-'));
});
afterEach(async () => {
  await rm(out, { recursive: true, force: true });
});

function deduper() {
  return new StreamDeduper({
    method: 'phash',
    metric: 'cosine',
    threshold: 4,
    approximateAbove: 0,
    outDir: out,
    imageSaveQuality: 90,
    model: null,
  });
}

describe('saving uniques', () => {
  it('writes every unique and a manifest of uniques and duplicates; a second save gets _1', async () => {
    const d = deduper();
    const gray = {
      width: 4,
      height: 2,
      channels: 1,
      encoding: 0 as const,
      data: Uint8Array.from({ length: 8 }, (_, i) => i * 30),
    };
    const jpeg = await readFile(path.join(CALTECH, '020f816e-0f23-4c14-a8e7-dde8afbc573e.jpg'));
    const rgb = {
      width: 2,
      height: 2,
      channels: 3,
      encoding: 0 as const,
      data: new Uint8Array(12).fill(200),
    };
    d.accept({ streamId: 's', seq: 0, feature: { kind: 'hash', hash: 0n }, image: gray });
    d.accept({ streamId: 's', seq: 1, feature: { kind: 'hash', hash: 1n }, image: gray });
    d.accept({
      streamId: 's',
      seq: 3,
      feature: { kind: 'hash', hash: 0xffffn },
      image: { width: 1, height: 1, channels: 3, encoding: 1, data: jpeg },
    });
    d.accept({ streamId: 't', seq: 0, feature: { kind: 'hash', hash: 0n }, image: rgb });
    expect(() =>
      d.accept({ streamId: 's', seq: 3, feature: { kind: 'hash', hash: 0n }, image: gray }),
    ).toThrow(/seq order/);

    const first = await d.save('4711');
    expect(first.folder).toBe(path.join(out, 'uniques', '4711'));
    const second = await d.save('4711');
    expect(second.folder).toBe(path.join(out, 'uniques', '4711_1'));
    await expect(d.save('../x')).rejects.toThrow(/not allowed/);

    const files = (await readdir(first.folder)).sort();
    expect(files).toEqual(['00001-seq0.png', '00002-seq3.jpg', '00003-seq0.jpg', 'manifest.json']);
    expect((await readdir(path.join(out, 'uniques'))).filter((f) => f.startsWith('.'))).toEqual([]);
    const manifest = JSON.parse(
      await readFile(path.join(first.folder, 'manifest.json'), 'utf8'),
    ) as UniquesManifest;
    expect(manifest).toMatchObject({
      name: '4711',
      method: 'phash',
      metric: null,
      threshold: 4,
      model: null,
    });
    expect(manifest.counts).toEqual({ frames: 4, uniques: 3, duplicates: 1 });
    const s = manifest.streams.find((x) => x.streamId === 's')!;
    expect(s.uniques.map((u) => [u.seq, u.image])).toEqual([
      [0, '00001-seq0.png'],
      [3, '00002-seq3.jpg'],
    ]);
    expect(s.duplicates).toEqual([{ seq: 1, unique: 0, distance: 1 }]);
    for (const u of s.uniques) {
      const bytes = await readFile(path.join(first.folder, u.image));
      expect(u.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(u.method).toBe('phash');
    }
    // Encoded frames keep their bytes; raw gray frames become PNG with the same pixels.
    expect(await readFile(path.join(first.folder, '00002-seq3.jpg'))).toEqual(jpeg);
    const png = await sharp(path.join(first.folder, '00001-seq0.png')).extractChannel(0).raw().toBuffer();
    expect(Array.from(png)).toEqual(Array.from(gray.data));
    const rgbMeta = await sharp(path.join(first.folder, '00003-seq0.jpg')).metadata();
    expect(rgbMeta).toMatchObject({ format: 'jpeg', width: 2, height: 2 });

    expect(d.status()).toMatchObject({
      frames: 4,
      uniques: 3,
      duplicates: 1,
      saves: [{ name: '4711' }, { name: '4711_1' }],
    });
    expect(d.uniques().find((u) => u.streamId === 's' && u.seq === 0)?.duplicates).toBe(1);
  });

  it('keeps a copy of a unique: later writes to the frame buffer do not change it', async () => {
    const d = deduper();
    const buffer = new Uint8Array(4).fill(7);
    d.accept({
      streamId: 's',
      seq: 0,
      feature: { kind: 'hash', hash: 0n },
      image: { width: 2, height: 2, channels: 1, encoding: 0, data: buffer },
    });
    buffer.fill(99);
    const saved = await d.save('copy');
    const png = await sharp(path.join(saved.folder, '00001-seq0.png')).extractChannel(0).raw().toBuffer();
    expect(Array.from(png)).toEqual([7, 7, 7, 7]);
  });
});
