/**
 * Image-folder and dataset-file sources streamed end to end: real JPEGs from the caltech-resize set, and a
 * `dataset create` subset served with `--source FILE`.
 */
import { copyFile, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FrameEncoding } from '../../../src/common/wire/header.js';
import { datasetCreateCommand } from '../../../src/commands/dataset.js';
import { readDatasetFile } from '../../../src/stream/dataset-file.js';
import {
  ControlClient,
  FASHION_MNIST_DIR,
  receiveFrames,
  startTestServer,
  streamSession,
  tempDir,
} from './helpers.js';
import { CALTECH, IMAGEDEDUP } from '../../test-data.js';

const testImages = gunzipSync(
  readFileSync(path.join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')),
).subarray(16);
const testLabels = gunzipSync(
  readFileSync(path.join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz')),
).subarray(8);

describe('image folder source', () => {
  it('streams the real JPEGs sorted by name with their real width, height and channels', async () => {
    const files = (await readdir(CALTECH)).filter((f) => /\.jpe?g$/i.test(f)).sort();
    expect(files.length).toBe(82);
    const server = await startTestServer({ source: CALTECH });
    try {
      const { session, end, received } = await streamSession(server, { count: 20, fps: 0 });
      const first = await sharp(path.join(CALTECH, files[0]!)).metadata();
      expect(session).toMatchObject({ source: CALTECH, count: 20, width: first.width, height: first.height });
      expect(end.sent).toBe(20);
      for (const [i, frame] of received.frames.entries()) {
        const bytes = await readFile(path.join(CALTECH, files[i]!));
        const meta = await sharp(bytes).metadata();
        expect(frame.header).toMatchObject({
          seq: i,
          encoding: FrameEncoding.jpeg,
          width: meta.width,
          height: meta.height,
          channels: meta.channels,
        });
        expect(Buffer.from(frame.payload).equals(bytes)).toBe(true);
      }
      // The whole folder when count is omitted.
      const whole = await streamSession(server, { fps: 0 });
      expect(whole.session.count).toBe(82);
      expect(whole.received.frames).toHaveLength(82);
    } finally {
      await server.close();
    }
  });

  it('converts WebP and alpha PNG to PNG frames, keeps gray JPEG gray, matches any case, skips corrupt files', async () => {
    const dir = await tempDir('framesift-folder-');
    const [a, b] = (await readdir(CALTECH)).filter((f) => f.endsWith('.jpg')).sort();
    await sharp(path.join(CALTECH, a!)).webp().toFile(path.join(dir, '1-photo.webp'));
    await sharp(path.join(CALTECH, b!)).ensureAlpha().png().toFile(path.join(dir, '2-alpha.png'));
    // A real single-channel JPEG from the imagededup test set, under an upper-case extension.
    await copyFile(path.join(IMAGEDEDUP, 'ukbench00120_gray.jpg'), path.join(dir, '3-gray.JPG'));
    await copyFile(path.join(CALTECH, b!), path.join(dir, '4-copy.JpEg'));
    await writeFile(path.join(dir, '5-corrupt.jpg'), Buffer.from('not an image at all'));
    await writeFile(path.join(dir, '6-notes.txt'), 'ignored');
    const server = await startTestServer({ source: dir });
    try {
      const { received, end } = await streamSession(server, { fps: 0 });
      expect(end.sent).toBe(4);
      const headers = received.frames.map((f) => f.header);
      expect(headers.map((h) => [h.encoding, h.channels])).toEqual([
        [FrameEncoding.png, 3],
        [FrameEncoding.png, 3],
        [FrameEncoding.jpeg, 1],
        [FrameEncoding.jpeg, 3],
      ]);
      // The converted frames decode to the size of their files.
      for (const [i, name] of ['1-photo.webp', '2-alpha.png'].entries()) {
        const meta = await sharp(path.join(dir, name)).metadata();
        const decoded = await sharp(received.frames[i]!.payload).metadata();
        expect([decoded.format, decoded.width, decoded.height, decoded.channels]).toEqual([
          'png',
          meta.width,
          meta.height,
          3,
        ]);
      }
    } finally {
      await server.close();
    }
  });

  it('fails a session cleanly when an image disappears mid-stream: error internal, socket 1011, server lives on', async () => {
    const dir = await tempDir('framesift-vanish-');
    const names = (await readdir(CALTECH))
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, 3);
    for (const name of names) await copyFile(path.join(CALTECH, name), path.join(dir, name));
    const server = await startTestServer({ source: dir });
    try {
      await rm(path.join(dir, names[1]!));
      const control = await ControlClient.connect(server);
      const session = await control.request({ type: 'start', fps: 0 }, 'session');
      expect(session.count).toBe(3);
      const received = await receiveFrames(session.framesUrl as string).done;
      const error = await control.nextOfType('error');
      expect(error).toMatchObject({ code: 'internal', sessionId: session.sessionId });
      expect(error.message).toMatch(/source failed after 1 frames .*no such file/i);
      expect(received.frames).toHaveLength(1);
      expect(received.closeCode).toBe(1011);
      expect(server.sessions().find((s) => s.sessionId === session.sessionId)?.state).toBe('failed');
      const status = await control.request({ type: 'status' }, 'status');
      expect(status.type).toBe('status');
      control.close();
    } finally {
      await server.close();
    }
  });

  it('refuses a folder with no images, naming it', async () => {
    const dir = await tempDir('framesift-empty-');
    await expect(startTestServer({ source: dir })).rejects.toThrow(
      `${dir}: no readable .png/.jpg/.jpeg/.webp images`,
    );
  });
});

describe('dataset create → serve --source FILE', () => {
  it('writes a seeded subset that streams the drawn images and scores with the drawn labels', async () => {
    const dir = await tempDir('framesift-dataset-');
    const file = path.join(dir, 'subset.fsds');
    await datasetCreateCommand({
      count: 64,
      split: 'test',
      seed: 7,
      datasetOut: file,
      fashionMnistDir: FASHION_MNIST_DIR,
      logLevel: 'error',
    });
    // Deterministic: the same seed gives the same bytes, another seed another subset.
    const again = path.join(dir, 'again.fsds');
    await datasetCreateCommand({
      count: 64,
      split: 'test',
      seed: 7,
      datasetOut: again,
      fashionMnistDir: FASHION_MNIST_DIR,
      logLevel: 'error',
    });
    const other = path.join(dir, 'other.fsds');
    await datasetCreateCommand({
      count: 64,
      split: 'test',
      seed: 8,
      datasetOut: other,
      fashionMnistDir: FASHION_MNIST_DIR,
      logLevel: 'error',
    });
    expect((await readFile(file)).equals(await readFile(again))).toBe(true);
    expect((await readFile(file)).equals(await readFile(other))).toBe(false);

    const { header } = await readDatasetFile(file);
    expect(header).toMatchObject({ format: 'framesift-dataset/1', split: 'test', seed: 7, count: 64 });
    expect(new Set(header.indices).size).toBe(64);

    const server = await startTestServer({ source: file });
    try {
      const control = await ControlClient.connect(server);
      const status = await control.request({ type: 'status' }, 'status');
      expect(status.sources).toEqual([file, 'fashion-mnist-test', 'fashion-mnist-train']);
      const session = await control.request({ type: 'start', fps: 0 }, 'session');
      expect(session).toMatchObject({ source: file, count: 64, width: 28, height: 28, channels: 1 });
      const received = await receiveFrames(session.framesUrl as string).done;
      await control.nextOfType('end');
      expect(received.frames).toHaveLength(64);
      for (const [i, frame] of received.frames.entries()) {
        const index = header.indices[i]!;
        expect(Buffer.from(frame.payload).equals(testImages.subarray(index * 784, (index + 1) * 784))).toBe(
          true,
        );
      }
      const seqs = [...Array(64).keys()];
      const scored = await control.request(
        {
          type: 'submit',
          sessionId: session.sessionId,
          results: {
            format: 'framesift-results/1',
            framesiftVersion: '0.1.0',
            sessionId: session.sessionId,
            mode: 'classify',
            source: { name: file },
            model: null,
            counts: { sent: 64, received: 64, processed: 64, dropped: {}, invalid: {}, missing: 0 },
            reconciliation: { reconciled: true, missingRanges: [] },
            predictions: {
              seq: seqs,
              label: seqs.map((s) => testLabels[header.indices[s]!]!),
              confidence: seqs.map(() => 1),
            },
            samples: [],
            summary: { predicted: 64, perClass: [] },
            timings: {},
          },
        },
        'scored',
      );
      expect(scored).toMatchObject({ accuracy: 1, correct: 64, reconciled: true });
      control.close();
    } finally {
      await server.close();
    }
  });

  it('names the file and the problem for a truncated or foreign dataset file', async () => {
    const dir = await tempDir('framesift-dataset-bad-');
    const file = path.join(dir, 'subset.fsds');
    await datasetCreateCommand({
      count: 10,
      split: 'test',
      seed: 1,
      datasetOut: file,
      fashionMnistDir: FASHION_MNIST_DIR,
      logLevel: 'error',
    });
    const bytes = await readFile(file);
    const truncated = path.join(dir, 'truncated.fsds');
    await writeFile(truncated, bytes.subarray(0, bytes.byteLength - 100));
    await expect(readDatasetFile(truncated)).rejects.toThrow(
      new RegExp(`${truncated}: \\d+ bytes, expected \\d+ for 10 images of 28x28 \\(truncated\\?\\)`),
    );
    const garbled = path.join(dir, 'garbled.fsds');
    const copy = Buffer.from(bytes);
    copy.write('{{{{', 8, 'ascii');
    await writeFile(garbled, copy);
    await expect(readDatasetFile(garbled)).rejects.toThrow(`${garbled}: bad dataset header`);
    await expect(
      datasetCreateCommand({
        count: 10_001,
        split: 'test',
        seed: 0,
        datasetOut: file,
        fashionMnistDir: FASHION_MNIST_DIR,
        logLevel: 'error',
      }),
    ).rejects.toThrow('--count 10001: the split has only 10000 images');
  });
});
