import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchDeduper, groupKeyFunction, listImageFiles, type Feature } from '../../../src/dedupe/index.js';

const hash = (h: bigint): Feature => ({ kind: 'hash', hash: h });

describe('batch decisions', () => {
  it('decides in file order whatever order the features arrive in', () => {
    const files = ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg'];
    const features = [hash(0n), hash(1n), hash(0xffffn), new Error('e.jpg: truncated'), hash(0xfffen)];
    const decide = (order: number[]) => {
      const d = new BatchDeduper(files, () => '', {
        method: 'phash',
        metric: 'cosine',
        threshold: 2,
        approximateAbove: 0,
        model: null,
      });
      for (const i of order) d.offer(i, features[i]!);
      return d.outcome();
    };
    const inOrder = decide([0, 1, 2, 3, 4]);
    expect(decide([4, 2, 3, 0, 1])).toEqual(inOrder);
    expect(inOrder.groups).toEqual([
      { kept: 'a.jpg', duplicates: [{ file: 'b.jpg', distance: 1 }] },
      { kept: 'c.jpg', duplicates: [{ file: 'e.jpg', distance: 1 }] },
    ]);
    expect(inOrder.corrupt).toEqual(['d.jpg']);
    expect(inOrder.corruptReasons['d.jpg']).toMatch(/truncated/);
    // Close calls: the decisions nearest the threshold, with what they were compared with.
    expect(inOrder.closeCalls.map((c) => [c.file, c.other, c.duplicate])).toContainEqual([
      'b.jpg',
      'a.jpg',
      true,
    ]);
  });

  it('refuses an outcome while files are undecided', () => {
    const d = new BatchDeduper(['a', 'b'], () => '', {
      method: 'phash',
      metric: 'cosine',
      threshold: 2,
      approximateAbove: 0,
      model: null,
    });
    d.offer(1, hash(0n));
    expect(d.decided).toBe(0);
    expect(() => d.outcome()).toThrow(/2 files still undecided/);
  });

  it('groups by the first capture group; files that do not match share one group', () => {
    const key = groupKeyFunction('^(cam\\d+)/');
    expect(key('cam1/x.jpg')).toBe('cam1');
    expect(key('other/x.jpg')).toBe('');
    expect(groupKeyFunction(undefined)('anything')).toBe('');
    expect(() => groupKeyFunction('[')).toThrow(/expected a regular expression/);
  });
});

describe('listing a folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'framesift-list-'));
    await mkdir(path.join(dir, 'b', 'deep'), { recursive: true });
    await mkdir(path.join(dir, 'out'));
    for (const f of ['z.JPG', 'a.png', 'b/deep/c.jpeg', 'b/x.webp', 'notes.txt', 'out/report.png', 'B.Jpg']) {
      await writeFile(path.join(dir, f), 'x');
    }
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('walks recursively in code-point name order, images only (any case), skipping given folders', async () => {
    expect(await listImageFiles(dir, [path.join(dir, 'out')])).toEqual([
      'B.Jpg',
      'a.png',
      'b/deep/c.jpeg',
      'b/x.webp',
      'z.JPG',
    ]);
    await expect(listImageFiles(path.join(dir, 'missing'))).rejects.toThrow(/expected a readable folder/);
  });
});
