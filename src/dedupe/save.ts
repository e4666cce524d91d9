/**
 * Writing a save: `<out>/uniques/<name>/` (`_1`, `_2`… appended when it exists) holding every unique image
 * and `manifest.json`. Everything is written into a hidden temp folder beside it first and renamed into
 * place, so a crash never leaves a half-written save folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import type { Metric } from './distance.js';
import type { Method } from './methods.js';
import { sanitizeSaveName } from '../common/save-name.js';
import { SaveRefused } from './save-limits.js';

/** A kept frame's pixels, copied out of the frame ring (raw HWC) or its encoded file. */
export interface KeptImage {
  width: number;
  height: number;
  channels: number;
  /** 0 raw uint8 HWC, 1 JPEG, 2 PNG (the wire encodings). */
  encoding: 0 | 1 | 2;
  data: Uint8Array;
}

export interface ModelInfo {
  name: string;
  file: string;
  sha256: string;
}

export interface SavedUnique {
  seq?: number;
  /** The frame's time in its video source, ms (video sources only). */
  sourceTimeMs?: number;
  file?: string;
  image: string;
  sha256: string;
  width: number;
  height: number;
  method: Method;
  model: string | null;
}

export interface SavedDuplicate {
  seq?: number;
  sourceTimeMs?: number;
  file?: string;
  /** The seq (stream) or file (folder) of the unique it duplicates. */
  unique: number | string;
  distance: number;
}

export interface UniquesManifest {
  format: 'framesift-uniques/1';
  name: string;
  createdAt: string;
  method: Method;
  metric: Metric | null;
  threshold: number;
  model: ModelInfo | null;
  counts: { frames: number; uniques: number; duplicates: number };
  streams: { streamId: string; uniques: SavedUnique[]; duplicates: SavedDuplicate[] }[];
}

export interface UniqueToSave {
  streamId: string;
  seq?: number;
  sourceTimeMs?: number;
  file?: string;
  image: KeptImage;
}

export interface SaveRequest {
  outDir: string;
  name: string;
  method: Method;
  metric: Metric | null;
  threshold: number;
  model: ModelInfo | null;
  imageSaveQuality: number;
  uniques: UniqueToSave[];
  /** Duplicates per stream id. */
  duplicates: Map<string, SavedDuplicate[]>;
  /** Most bytes this save may write (images and manifest); past it the save is refused and removed. */
  maxBytes?: number;
}

export interface SaveResult {
  name: string;
  folder: string;
  uniques: number;
  duplicates: number;
  /** Bytes written (images and manifest). */
  bytes: number;
}

/** Encoded bytes and extension of a kept image: encoded frames keep their bytes (no second lossy pass). */
export async function encodeKeptImage(
  image: KeptImage,
  quality: number,
): Promise<{ bytes: Buffer; ext: string }> {
  if (image.encoding === 1) return { bytes: Buffer.from(image.data), ext: 'jpg' };
  if (image.encoding === 2) return { bytes: Buffer.from(image.data), ext: 'png' };
  const raw = sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels as 1 | 3 | 4 },
  });
  if (image.channels === 1) return { bytes: await raw.png().toBuffer(), ext: 'png' };
  return { bytes: await raw.jpeg({ quality }).toBuffer(), ext: 'jpg' };
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

function imageBaseName(index: number, unique: UniqueToSave): string {
  const n = String(index + 1).padStart(5, '0');
  if (unique.seq !== undefined) return `${n}-seq${unique.seq}`;
  const stem = path
    .basename(unique.file ?? 'image', path.extname(unique.file ?? ''))
    .replace(/[^\w.-]+/g, '_');
  return `${n}-${stem.slice(0, 60)}`;
}

/**
 * Renames the finished temp folder to `<root>/<name>`, or `<name>_1`, `_2`… when that exists: a save never
 * overwrites another. Rename fails (ENOTEMPTY/EEXIST) if another save took the name meanwhile: next one.
 */
export async function moveIntoFreeFolder(
  temp: string,
  root: string,
  name: string,
): Promise<{ name: string; folder: string }> {
  for (let attempt = 0; ; attempt++) {
    const folderName = attempt === 0 ? name : `${name}_${attempt}`;
    const folder = path.join(root, folderName);
    if (await exists(folder)) continue;
    try {
      await rename(temp, folder);
      return { name: folderName, folder };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  }
}

/** A hidden temp folder under `<outDir>/uniques/` that a save is written into before it is renamed. */
export async function saveTempFolder(outDir: string): Promise<{ root: string; temp: string }> {
  const root = path.join(outDir, 'uniques');
  await mkdir(root, { recursive: true });
  const temp = path.join(root, `.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(temp);
  return { root, temp };
}

export async function writeUniquesFolder(request: SaveRequest): Promise<SaveResult> {
  const name = sanitizeSaveName(request.name);
  const { root, temp } = await saveTempFolder(request.outDir);
  try {
    const streams = new Map<string, { uniques: SavedUnique[]; duplicates: SavedDuplicate[] }>();
    const streamOf = (id: string) => {
      let s = streams.get(id);
      if (!s) {
        s = { uniques: [], duplicates: request.duplicates.get(id) ?? [] };
        streams.set(id, s);
      }
      return s;
    };
    let written = 0;
    const count = (bytes: number): void => {
      written += bytes;
      if (request.maxBytes !== undefined && written > request.maxBytes) {
        throw new SaveRefused(
          507,
          'save-bytes',
          `save refused: the saves under --out would pass the limit of --max-save-bytes (${request.maxBytes} bytes left)`,
        );
      }
    };
    for (const [index, unique] of request.uniques.entries()) {
      const { bytes, ext } = await encodeKeptImage(unique.image, request.imageSaveQuality);
      count(bytes.length);
      const file = `${imageBaseName(index, unique)}.${ext}`;
      await writeFile(path.join(temp, file), bytes);
      streamOf(unique.streamId).uniques.push({
        ...(unique.seq !== undefined ? { seq: unique.seq } : {}),
        ...(unique.sourceTimeMs !== undefined ? { sourceTimeMs: unique.sourceTimeMs } : {}),
        ...(unique.file !== undefined ? { file: unique.file } : {}),
        image: file,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        width: unique.image.width,
        height: unique.image.height,
        method: request.method,
        model: request.model?.name ?? null,
      });
    }
    for (const id of request.duplicates.keys()) streamOf(id);
    let duplicates = 0;
    for (const s of streams.values()) duplicates += s.duplicates.length;
    const manifest: UniquesManifest = {
      format: 'framesift-uniques/1',
      name,
      createdAt: new Date().toISOString(),
      method: request.method,
      metric: request.metric,
      threshold: request.threshold,
      model: request.model,
      counts: { frames: request.uniques.length + duplicates, uniques: request.uniques.length, duplicates },
      streams: [...streams.entries()].map(([streamId, s]) => ({ streamId, ...s })),
    };
    const manifestText = JSON.stringify(manifest, null, 1) + '\n';
    count(Buffer.byteLength(manifestText));
    await writeFile(path.join(temp, 'manifest.json'), manifestText);
    const placed = await moveIntoFreeFolder(temp, root, name);
    return {
      name: placed.name,
      folder: placed.folder,
      uniques: request.uniques.length,
      duplicates,
      bytes: written,
    };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
