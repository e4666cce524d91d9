/**
 * `framesift index` over a folder that holds a video (opencv-doc's vtest.avi, a real street camera) and a
 * photo, on both stores: one frame every --every seconds is an entry with the video and its time; search
 * (CLI table and JSON, REST, the frame served as JPEG) names it "<video> at 00:00:20"; a changed video
 * replaces its frames, a deleted one takes them with it.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, unlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { indexInto } from '../../../src/commands/index-images.js';
import { startPhotoEmbedder, type PhotoEmbedder } from '../../../src/commands/photo-embedder.js';
import { mountSearchApi } from '../../../src/commands/search-api.js';
import { startHttpServer } from '../../../src/common/http.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { Searcher, openStore } from '../../../src/search/index.js';
import { videoFrameAt } from '../../../src/stream/index.js';
import { itOn, searchBackends } from '../../helpers/search-backends.js';
import { opencvVideo, skipVideoTests, vtestClip } from '../../helpers/video.js';

const run = promisify(execFile);
const skipVideo = skipVideoTests();
const CALTECH = path.join(PROJECT_ROOT, 'tests', 'fixtures', 'photos', 'caltech-resize');
const tmp = await mkdtemp(path.join(tmpdir(), 'framesift-video-index-'));
const backends = searchBackends(tmp);
let embedder: PhotoEmbedder;

beforeAll(async () => {
  if (skipVideo) return;
  embedder = await startPhotoEmbedder({ modelsDir: path.join(PROJECT_ROOT, 'models'), workers: 2 });
  await backends.start();
}, 120_000);

afterAll(async () => {
  await embedder?.close();
  await backends.stop();
  await rm(tmp, { recursive: true, force: true });
});

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'cli.js'), ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  return stdout;
}

describe.skipIf(skipVideo).each(backends.list)('video index on $name', (backend) => {
  const maybe = itOn(backend);

  maybe(
    'frames every --every seconds are found as "<video> at <time>"; re-index replaces or removes them',
    async () => {
      const dir = path.join(tmp, `${backend.name}-folder`);
      await mkdir(dir, { recursive: true });
      const video = path.join(dir, 'street.avi');
      await copyFile(opencvVideo('vtest.avi'), video);
      const photo = (await readdir(CALTECH)).find((f) => f.endsWith('.jpg'))!;
      await copyFile(path.join(CALTECH, photo), path.join(dir, photo));
      const db = await backend.create('video');
      const annFile = path.join(tmp, `${backend.name}.hnsw`);
      const config = { db, annFile, every: 20 };
      const options = { embedder, quiet: true };

      const first = await indexInto(dir, config, options);
      expect(first).toMatchObject({ files: 2, videos: 1, videoFrames: 4, added: 2, embedded: 5, total: 5 });
      expect(first.corrupt).toEqual([]);

      const store = await openStore(db);
      try {
        const frames = (await store.files(dir)).filter((f) => f.video);
        expect(frames.map((f) => [f.path, f.video])).toEqual(
          [0, 20, 40, 60].map((s) => [`${video}#t=${s}.000`, { path: video, timeMs: s * 1000 }]),
        );
        const at20 = frames[1]!.id;

        // The frame the API cuts at 00:00:20 is the indexed one: its embedding finds it at distance ~0.
        const jpeg = await videoFrameAt(video, 20_000);
        expect(await sharp(jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 768, height: 576 });
        const [embedding] = await embedder.embedEncoded([jpeg]);
        const searcher = new Searcher(store, annFile);
        const [top] = await searcher.searchVector((embedding as { vector: Float32Array }).vector, { k: 1 });
        expect(top!.id).toBe(at20);
        expect(top!.distance).toBeLessThan(1e-3);

        // CLI: the table names the video and the time; JSON carries them as fields.
        const text = await cli('search', String(at20), '--db', db, '--ann-file', annFile, '-k', '3');
        expect(text).toContain(`${video} at 00:00:20`);
        const json = JSON.parse(
          await cli('search', String(at20), '--db', db, '--ann-file', annFile, '-k', '3', '--json'),
        ) as { hits: Array<{ id: number; path: string; video: unknown }> };
        expect(json.hits[0]).toMatchObject({
          id: at20,
          path: `${video}#t=20.000`,
          video: { path: video, timeMs: 20_000, time: '00:00:20' },
        });
        expect(json.hits.find((h) => h.path.endsWith('.jpg'))?.video ?? null).toBeNull();

        // REST: the record says which video and when; /file is the frame as JPEG.
        const http = await startHttpServer({ host: '127.0.0.1', port: 0, what: 'test search' });
        try {
          mountSearchApi(http, { searcher, maxUploadBytes: 1 << 20 });
          const record = (await (await fetch(`${http.url}/api/images/${at20}`)).json()) as Record<
            string,
            unknown
          >;
          expect(record).toMatchObject({
            name: 'street.avi at 00:00:20',
            video: { path: video, timeMs: 20_000, time: '00:00:20' },
          });
          const file = await fetch(`${http.url}/api/images/${at20}/file`);
          expect(file.headers.get('content-type')).toBe('image/jpeg');
          const served = Buffer.from(await file.arrayBuffer());
          expect(await sharp(served).metadata()).toMatchObject({ width: 768, height: 576 });
          const hood = (await (
            await fetch(`${http.url}/api/images/${at20}/neighbours?k=2&exact=1`)
          ).json()) as { neighbours: Array<{ name: string }> };
          expect(hood.neighbours[0]!.name).toBe('street.avi at 00:00:20');
        } finally {
          await http.close();
        }

        // Nothing changed: nothing decoded or embedded.
        const again = await indexInto(dir, config, options);
        expect(again).toMatchObject({ unchanged: 2, embedded: 0, videoFrames: 0, total: 5 });

        // The video changes (now 25 s long): its frames at 0 and 20 s are rewritten with their ids, 40
        // and 60 s are gone; all in one transaction.
        const rev = await store.revision();
        await copyFile(await vtestClip(path.join(tmp, 'clips'), 250), video);
        await utimes(video, new Date(), new Date(Date.now() + 10_000));
        const changed = await indexInto(dir, config, options);
        expect(changed).toMatchObject({ changed: 1, videoFrames: 2, unchanged: 1, total: 3 });
        const after = (await store.files(dir)).filter((f) => f.video);
        expect(after.map((f) => f.id)).toEqual([frames[0]!.id, at20]);
        expect(await store.removedSince(rev)).toEqual([frames[2]!.id, frames[3]!.id]);
        expect(await store.revision()).toBe(rev + 1);

        // The video is deleted: its frames go with it.
        await unlink(video);
        const removed = await indexInto(dir, config, options);
        expect(removed).toMatchObject({ removed: 2, files: 1, total: 1 });
        expect((await store.files(dir)).map((f) => path.basename(f.path))).toEqual([photo]);
      } finally {
        await store.close();
      }
    },
    240_000,
  );

  maybe('a file named .mp4 that is not a video is listed as unreadable, the rest is indexed', async () => {
    const dir = path.join(tmp, `${backend.name}-bad`);
    await mkdir(dir, { recursive: true });
    const photo = (await readdir(CALTECH)).find((f) => f.endsWith('.jpg'))!;
    await copyFile(path.join(CALTECH, photo), path.join(dir, photo));
    await writeFile(path.join(dir, 'clip.mp4'), 'this is text, not a video\n'.repeat(50));
    const db = await backend.create('bad');
    const report = await indexInto(
      dir,
      { db, annFile: path.join(tmp, `${backend.name}-bad.hnsw`), every: 5 },
      { embedder, quiet: true },
    );
    expect(report).toMatchObject({ files: 2, videos: 1, added: 1, total: 1 });
    expect(report.corrupt).toHaveLength(1);
    expect(report.corrupt[0]!.file).toBe('clip.mp4');
    expect(report.corrupt[0]!.reason).toMatch(/video|ffmpeg|decod/i);
  });
});
