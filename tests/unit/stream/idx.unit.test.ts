import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { gzipSync, gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/common/errors.js';
import { fashionMnistDir, loadFashionMnist } from '../../../src/stream/index.js';
import { encodeIdx, parseIdx, readIdxFile } from '../../../src/stream/idx.js';
import {
  FASHION_MNIST_DIR as DIR,
  FASHION_MNIST_TEST_IMAGES as IMAGES,
  FASHION_MNIST_TEST_LABELS as LABELS,
} from '../../test-data.js';
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

  it('loads the shipped test split with 1,000 images of each label 0-9', async () => {
    const test = await loadFashionMnist('test', DIR);
    expect([test.count, test.width, test.height]).toEqual([10_000, 28, 28]);
    const counts = new Array<number>(10).fill(0);
    for (const label of test.labels) counts[label]!++;
    expect(counts).toEqual(new Array(10).fill(1000));
  });
});

describe('where a Fashion-MNIST split is found', () => {
  /** A folder holding a tiny but valid `split` (3 images), as FASHION_MNIST_DIR or Debian's folder would. */
  async function folderWith(split: 'test' | 'train'): Promise<string> {
    const dir = await mkdtemp(path.join(temp, `${split}-`));
    const stem = split === 'test' ? 't10k' : 'train';
    const images = encodeIdx([3, 28, 28], new Uint8Array(3 * 28 * 28).fill(7));
    await writeFile(path.join(dir, `${stem}-images-idx3-ubyte.gz`), gzipSync(images));
    await writeFile(path.join(dir, `${stem}-labels-idx1-ubyte`), encodeIdx([3], new Uint8Array([1, 2, 3])));
    return dir;
  }

  it('FASHION_MNIST_DIR first, then the shipped copy for the test split, then the system folder', async () => {
    const configured = await folderWith('test');
    const system = await folderWith('train');
    const empty = await mkdtemp(path.join(temp, 'empty-'));
    expect(fashionMnistDir(configured, 'test', system)).toBe(configured);
    expect(fashionMnistDir(undefined, 'test', system)).toBe(DIR);
    // A configured folder without the split is passed over (with a warning), not trusted blindly.
    expect(fashionMnistDir(empty, 'test', system)).toBe(DIR);
    expect(fashionMnistDir(empty, 'train', system)).toBe(system);
    const train = await loadFashionMnist('train', fashionMnistDir(undefined, 'train', system));
    expect([train.count, [...train.labels]]).toEqual([3, [1, 2, 3]]);
  });

  it('no folder with the split is one line naming every place looked at', () => {
    const empty = path.join(temp, 'nowhere');
    const message = (() => {
      try {
        fashionMnistDir(empty, 'train', path.join(temp, 'no-system'));
      } catch (err) {
        expect(err).toBeInstanceOf(UserError);
        return (err as Error).message;
      }
      return 'no error';
    })();
    expect(message.split('\n')).toHaveLength(1);
    expect(message).toContain(
      'Fashion-MNIST train split (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz])',
    );
    expect(message).toContain(`${empty} (FASHION_MNIST_DIR)`);
    expect(message).toContain(`${DIR} (the project's copy)`);
    expect(message).toContain(`${path.join(temp, 'no-system')} (Debian's dataset-fashion-mnist)`);
    expect(message).toContain('npm run data');
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
