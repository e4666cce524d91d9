import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FrameEncoding } from '../../../src/common/wire/header.js';
import { loadFashionMnist, openSource } from '../../../src/stream/index.js';
import { type FrameSource, type SourceFrame } from '../../../src/stream/sources/source.js';

import { FASHION_MNIST_DIR as DIR } from '../../test-data.js';

async function take(source: FrameSource, count?: number): Promise<SourceFrame[]> {
  const frames: SourceFrame[] = [];
  for await (const frame of source.frames({ count, signal: new AbortController().signal }))
    frames.push(frame);
  return frames;
}

describe('openSource', () => {
  it('opens the Fashion-MNIST test split as a labelled raw 28×28 gray source', async () => {
    const source = await openSource('fashion-mnist-test', { fashionMnistDir: DIR });
    expect(source.info).toEqual({
      name: 'fashion-mnist-test',
      length: 10_000,
      width: 28,
      height: 28,
      channels: 1,
      labelled: true,
      selfPaced: false,
    });
    const frames = await take(source, 3);
    expect(frames.map((f) => f.label)).toEqual([9, 2, 1]);
    expect(frames.every((f) => f.encoding === FrameEncoding.raw && f.payload.byteLength === 784)).toBe(true);
  });

  it('gives each iterator its own position and stops when the signal aborts', async () => {
    const source = await openSource('fashion-mnist-test', { fashionMnistDir: DIR });
    const [a, b] = await Promise.all([take(source, 5), take(source, 5)]);
    expect(a.map((f) => f.label)).toEqual(b.map((f) => f.label));
    const abort = new AbortController();
    let seen = 0;
    for await (const _frame of source.frames({ signal: abort.signal })) {
      if (++seen === 7) abort.abort();
    }
    expect(seen).toBe(7);
  });

  it('opens an IDX images file, with labels from the sibling labels file when it is there', async () => {
    const temp = await mkdtemp(path.join(os.tmpdir(), 'framesift-src-'));
    const images = path.join(temp, 't10k-images-idx3-ubyte.gz');
    await copyFile(path.join(DIR, 't10k-images-idx3-ubyte.gz'), images);
    const unlabelled = await openSource(images);
    expect(unlabelled.info).toMatchObject({ name: images, length: 10_000, labelled: false });
    expect((await take(unlabelled, 1))[0]!.label).toBeUndefined();
    await copyFile(path.join(DIR, 't10k-labels-idx1-ubyte.gz'), path.join(temp, 't10k-labels-idx1-ubyte.gz'));
    const labelled = await openSource(images);
    expect(labelled.info.labelled).toBe(true);
    const set = await loadFashionMnist('test', DIR);
    const frames = await take(labelled, 4);
    expect(frames.map((f) => f.label)).toEqual([...set.labels.subarray(0, 4)]);
    expect(Buffer.from(frames[3]!.payload).equals(Buffer.from(set.images.subarray(3 * 784, 4 * 784)))).toBe(
      true,
    );
  });

  it('names an unknown source and a file that is neither a dataset nor IDX', async () => {
    await expect(openSource('fashion-mnist-validation')).rejects.toThrow(
      'source "fashion-mnist-validation": expected fashion-mnist-test, fashion-mnist-train, camera, a dataset/IDX file, an image folder, a video file or an rtsp:// / http(s):// stream',
    );
    const temp = await mkdtemp(path.join(os.tmpdir(), 'framesift-src-'));
    const junk = path.join(temp, 'notes.txt');
    await writeFile(junk, 'hello, world');
    await expect(openSource(junk)).rejects.toThrow(`${junk}: IDX magic 0x68656c6c, expected 0x00000803`);
  });
});
