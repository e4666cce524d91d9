import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { gzipSync, gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/common/errors.js';
import { encodeIdx, loadFashionMnist, parseIdx, readIdxFile } from '../../../src/stream/index.js';

const DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const IMAGES = path.join(DIR, 't10k-images-idx3-ubyte.gz');
const LABELS = path.join(DIR, 't10k-labels-idx1-ubyte.gz');
let temp: string;

beforeAll(async () => {
  temp = await mkdtemp(path.join(os.tmpdir(), 'framesift-idx-'));
});

describe('IDX reader on the real Fashion-MNIST files', () => {
  it('reads the gzipped test images and labels with their dimensions', async () => {
    const images = await readIdxFile(IMAGES, 3);
    expect(images.dims).toEqual([10_000, 28, 28]);
    const labels = await readIdxFile(LABELS, 1);
    expect(labels.dims).toEqual([10_000]);
    // The same bytes as the file minus its header, i.e. the upstream content (sha256 as in scripts/fetch-fashion-mnist.mjs).
    const raw = gunzipSync(readFileSync(IMAGES));
    expect(createHash('sha256').update(raw).digest('hex')).toBe(
      '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
    );
    expect(Buffer.from(images.data).equals(raw.subarray(16))).toBe(true);
    expect([...labels.data.subarray(0, 10)]).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  });

  it('reads a plain (uncompressed) copy the same as the gzipped one', async () => {
    const plain = path.join(temp, 't10k-labels-idx1-ubyte');
    await writeFile(plain, gunzipSync(readFileSync(LABELS)));
    const a = await readIdxFile(plain, 1);
    const b = await readIdxFile(LABELS, 1);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('loads both splits with labels 0-9', async () => {
    const test = await loadFashionMnist('test', DIR);
    expect([test.count, test.width, test.height]).toEqual([10_000, 28, 28]);
    const counts = new Array<number>(10).fill(0);
    for (const label of test.labels) counts[label]!++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const train = await loadFashionMnist('train', DIR);
    expect(train.count).toBe(60_000);
  });
});

describe('IDX reader on damaged copies', () => {
  const raw = () => gunzipSync(readFileSync(LABELS));

  async function failure(name: string, bytes: Uint8Array, dims = 1): Promise<string> {
    const file = path.join(temp, name);
    await writeFile(file, bytes);
    const error = await readIdxFile(file, dims).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message.startsWith(file + ':')).toBe(true);
    return message;
  }

  it('names a truncated plain file and the expected length', async () => {
    const bytes = raw();
    expect(await failure('short-labels', bytes.subarray(0, bytes.byteLength - 7))).toContain(
      '9993 bytes of data after the header, expected 10000 (truncated file?)',
    );
  });

  it('names a truncated gzip file', async () => {
    const gz = readFileSync(LABELS);
    expect(await failure('cut.gz', gz.subarray(0, gz.byteLength >> 1))).toContain(
      'corrupt or truncated gzip data',
    );
  });

  it('names a corrupt gzip stream', async () => {
    const gz = Buffer.from(readFileSync(LABELS));
    for (let i = 100; i < 200; i++) gz[i] = gz[i]! ^ 0xff;
    expect(await failure('corrupt.gz', gz)).toContain('corrupt or truncated gzip data');
  });

  it('names a wrong magic (labels read as images) and a file too short for a header', async () => {
    expect(await failure('labels-as-images', raw(), 3)).toContain(
      'IDX magic 0x00000801, expected 0x00000803',
    );
    expect(await failure('tiny', Uint8Array.of(0, 0, 8))).toContain('3 bytes, too short for an IDX header');
    expect(await failure('header-cut', Uint8Array.of(0, 0, 8, 3, 0, 0, 0, 1), 3)).toContain(
      'too short for an IDX header of 16 bytes',
    );
  });

  it('names extra trailing bytes and a zero dimension', async () => {
    const bytes = Buffer.concat([raw(), Buffer.from([1, 2])]);
    expect(await failure('long', bytes)).toContain('10002 bytes of data after the header, expected 10000');
    expect(await failure('zero', encodeIdx([0], new Uint8Array(0)))).toContain('dimension 0 is 0');
  });

  it('reads what encodeIdx writes, gzipped or not', () => {
    const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
    const encoded = encodeIdx([2, 3, 4], data);
    const parsed = parseIdx(encoded, 'x', 3);
    expect(parsed.dims).toEqual([2, 3, 4]);
    expect([...parsed.data]).toEqual([...data]);
    expect(gunzipSync(gzipSync(encoded)).equals(encoded)).toBe(true);
  });

  it('a missing file is a UserError naming it', async () => {
    await expect(readIdxFile(path.join(temp, 'absent.gz'), 1)).rejects.toThrow(
      /absent\.gz: cannot read IDX file/,
    );
    await expect(loadFashionMnist('test', temp)).rejects.toThrow(
      /t10k-images-idx3-ubyte\(\.gz\) not found: set FASHION_MNIST_DIR/,
    );
  });
});
