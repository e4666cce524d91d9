// Where the per-image decode + prep time of the images task goes (one thread, sharp.concurrency(1), as on
// an analysis worker): file read, sha256, the header read, the recipe's view, the quarter turn, the layout
// thumbnail, the tensor copy, and inference at the task's chunk size. Run: node bench/decode-parts.js
// [pimmi-dir] (after npm run build). Not part of `npm run bench`: a profiling aid for docs/dedupe.md.
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import * as images from '../dist/analysis/tasks/images.js';

sharp.concurrency(1);
const dir = process.argv[2] ?? path.resolve('../shared/data/neardup/pimmi/images');
const limit = Number(process.argv[3] ?? 300);
const files = (await readdir(dir))
  .sort()
  .slice(0, limit)
  .map((f) => path.join(dir, f));

async function frames640(list) {
  const out = [];
  for (const f of list)
    out.push(await sharp(f).rotate().resize(640, 480, { fit: 'cover' }).jpeg({ quality: 85 }).toBuffer());
  return out;
}

const time = async (label, n, fn, rounds = 3) => {
  const ms = [];
  const cpu = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    await fn();
    const d = process.cpuUsage(c);
    ms.push((performance.now() - t) / n);
    cpu.push((d.user + d.system) / 1000 / n);
  }
  const median = (a) => a.sort((x, y) => x - y)[a.length >> 1];
  console.log(`${label.padEnd(58)} ${median(cpu).toFixed(3)} CPU ms/image, ${median(ms).toFixed(3)} wall`);
};

async function parts(label, bufs, withSize) {
  console.log(`-- ${label}: ${bufs.length} images`);
  const items = bufs.map((encoded) => (withSize ? { encoded, size: withSize } : { encoded }));
  const sizes = [];
  for (const it of items) sizes.push(await images.imageSize(it));
  const views = [];
  for (let i = 0; i < items.length; i++)
    views.push(await images.recipeView(items[i], images.DEFAULT_CNN_RECIPE, sizes[i]));
  const n = items.length;
  const plane = 224 * 224;
  const target = new Float32Array(3 * plane);
  await time('sha256', n, async () => {
    for (const b of bufs) createHash('sha256').update(b).digest('hex');
  });
  await time('imageSize (header size)', n, async () => {
    for (const it of items) await images.imageSize(it);
  });
  await time('raw decode only (no resize)', n, async () => {
    for (const b of bufs) await sharp(b).raw().toBuffer();
  });
  await time('view: wholeFramePixels (+ quarter turn)', n, async () => {
    for (let i = 0; i < n; i++) await images.recipeView(items[i], images.DEFAULT_CNN_RECIPE, sizes[i]);
  });
  for (const fast of [true, false])
    await time(`view, resize only, fastShrinkOnLoad ${fast}`, n, async () => {
      for (const b of bufs)
        await sharp(b)
          .rotate()
          .resize(224, 224, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: fast })
          .removeAlpha()
          .toColourspace('srgb')
          .raw()
          .toBuffer();
    });
  const wholePrep = async () => {
    for (const it of items) {
      const view = await images.recipeView(it, images.DEFAULT_CNN_RECIPE, await images.imageSize(it));
      images.layoutThumbnail(view);
      images.rgbToChw(view, target, 0, plane);
    }
  };
  await time("the task's whole prep: size + view + layout + CHW", n, wholePrep);
  sharp.cache(false);
  await time("the same with libvips' operation cache off", n, wholePrep);
  sharp.cache(true);
  const portraits = views.filter((_, i) => sizes[i].height > sizes[i].width);
  if (portraits.length > 0)
    await time(`quarterTurn (per portrait view: ${portraits.length} of ${n})`, portraits.length, async () => {
      for (const v of portraits) images.quarterTurn(v, 224);
    });
  await time('layoutThumbnail', n, async () => {
    for (const v of views) images.layoutThumbnail(v);
  });
  await time('rgbToChw', n, async () => {
    for (const v of views) images.rgbToChw(v, target, 0, plane);
  });
}

const bufs = await Promise.all(files.map((f) => readFile(f)));
await time('readFile', files.length, async () => {
  for (const f of files) await readFile(f);
});
await parts('pimmi photos', bufs);
await parts('640x480 JPEG frames (ring: size known)', await frames640(files), { width: 640, height: 480 });
