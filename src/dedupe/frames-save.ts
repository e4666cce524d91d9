/**
 * Saves of a session's frames beyond the classic uniques folder: as a video (kept frames or all frames),
 * or all frames as images. Written like every save: into a hidden temp folder under `<out>/uniques/`, then
 * renamed to `<name>` (`_1`, `_2`… when taken), holding the video or images and `manifest.json`, which
 * lists every frame in order with its seq, whether it was kept, its time in the source video and its
 * time in the written video.
 */
import { createHash } from 'node:crypto';
import { rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatMediaTime } from '../common/wire/frame-time.js';
import type { Metric } from './distance.js';
import type { Method } from './methods.js';
import { sanitizeSaveName } from '../common/save-name.js';
import {
  encodeKeptImage,
  moveIntoFreeFolder,
  saveTempFolder,
  type KeptImage,
  type ModelInfo,
} from './save.js';
import { encodeVideo, videoCodecSpec, type EncodedVideo } from './video-export.js';

export type SaveAs = 'images' | 'video';
export type SaveFrames = 'kept' | 'all';

export interface FrameToSave {
  streamId: string;
  seq: number;
  /** True when the unique store kept it (not a duplicate). */
  unique: boolean;
  sourceTimeMs?: number;
  width: number;
  height: number;
  /** The frame's pixels (from memory, or read back from the spool). */
  load(): KeptImage;
}

export interface FramesSaveRequest {
  outDir: string;
  name: string;
  saveAs: SaveAs;
  frames: SaveFrames;
  list: FrameToSave[];
  videoCodec: string;
  videoFps: number;
  imageSaveQuality: number;
  method: Method;
  metric: Metric | null;
  threshold: number;
  model: ModelInfo | null;
}

export interface SavedFrame {
  index: number;
  streamId: string;
  seq: number;
  unique: boolean;
  width: number;
  height: number;
  /** ms in the source video, and the same as 00:01:23.400 (video sources only). */
  sourceTimeMs?: number;
  sourceTime?: string;
  /** When the frame shows in the written video, ms (video saves). */
  videoTimeMs?: number;
  /** Its image file (image saves). */
  image?: string;
  sha256?: string;
}

export interface FramesManifest {
  format: 'framesift-frames/1';
  name: string;
  createdAt: string;
  saveAs: SaveAs;
  frames: SaveFrames;
  method: Method;
  metric: Metric | null;
  threshold: number;
  model: ModelInfo | null;
  counts: { frames: number; uniques: number; duplicates: number };
  video?: Omit<EncodedVideo, 'file'> & { file: string; bytes: number; durationSeconds: number };
  items: SavedFrame[];
}

export interface FramesSaveResult {
  name: string;
  folder: string;
  saveAs: SaveAs;
  frames: SaveFrames;
  uniques: number;
  duplicates: number;
  /** The video file (video saves). */
  video?: string;
}

export async function writeFramesSave(request: FramesSaveRequest): Promise<FramesSaveResult> {
  const name = sanitizeSaveName(request.name);
  if (request.saveAs === 'video') videoCodecSpec(request.videoCodec); // a bad codec fails before any work
  const { root, temp } = await saveTempFolder(request.outDir);
  try {
    const items: SavedFrame[] = request.list.map((f, index) => ({
      index,
      streamId: f.streamId,
      seq: f.seq,
      unique: f.unique,
      width: f.width,
      height: f.height,
      ...(f.sourceTimeMs !== undefined
        ? { sourceTimeMs: f.sourceTimeMs, sourceTime: formatMediaTime(f.sourceTimeMs) }
        : {}),
    }));
    let video: FramesManifest['video'];
    if (request.saveAs === 'video') {
      const spec = videoCodecSpec(request.videoCodec);
      const file = `${name.replace(/[^\p{L}\p{N}_.#-]+/gu, '_')}.${spec.extension}`;
      const list = request.list;
      const encoded = await encodeVideo({
        frames: (function* () {
          for (const f of list) yield f.load();
        })(),
        sizes: list,
        codec: request.videoCodec,
        fps: request.videoFps,
        file: path.join(temp, file),
      });
      items.forEach((item) => (item.videoTimeMs = Math.round((item.index * 1000) / request.videoFps)));
      video = {
        ...encoded,
        file,
        bytes: (await stat(encoded.file)).size,
        durationSeconds: encoded.frames / request.videoFps,
      };
    } else {
      for (const [i, f] of request.list.entries()) {
        const { bytes, ext } = await encodeKeptImage(f.load(), request.imageSaveQuality);
        const file = `${String(i + 1).padStart(5, '0')}-seq${f.seq}.${ext}`;
        await writeFile(path.join(temp, file), bytes);
        items[i]!.image = file;
        items[i]!.sha256 = createHash('sha256').update(bytes).digest('hex');
      }
    }
    const uniques = items.filter((i) => i.unique).length;
    const manifest: FramesManifest = {
      format: 'framesift-frames/1',
      name,
      createdAt: new Date().toISOString(),
      saveAs: request.saveAs,
      frames: request.frames,
      method: request.method,
      metric: request.metric,
      threshold: request.threshold,
      model: request.model,
      counts: { frames: items.length, uniques, duplicates: items.length - uniques },
      ...(video ? { video } : {}),
      items,
    };
    await writeFile(path.join(temp, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
    const placed = await moveIntoFreeFolder(temp, root, name);
    return {
      name: placed.name,
      folder: placed.folder,
      saveAs: request.saveAs,
      frames: request.frames,
      uniques,
      duplicates: items.length - uniques,
      ...(video ? { video: path.join(placed.folder, video.file) } : {}),
    };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}
