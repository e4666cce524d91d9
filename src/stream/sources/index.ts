/**
 * Opens a source by the name a user gives (`serve --source`, or `source` in a `start` message).
 */
import { existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { UserError, errorMessage } from '../../common/errors.js';
import { fashionMnistDir, loadFashionMnist } from '../fashion-mnist.js';
import { readDatasetFile, DATASET_MAGIC } from '../dataset-file.js';
import { pairImagesAndLabels, readIdxFile } from '../idx.js';
import { openFolderSource } from './folder.js';
import { memorySource } from './memory.js';
import type { CameraSourceOptions, FrameSource, OpenCameraSource, VideoSourceOptions } from './source.js';
import { VIDEO_FILE_EXTENSION, openVideoFileSource } from './video-file.js';
import { VIDEO_STREAM_URL, openVideoStreamSource } from './video-stream.js';

export type {
  CameraSourceOptions,
  FrameSource,
  SourceFrame,
  SourceInfo,
  FrameIteratorOptions,
  VideoSourceOptions,
} from './source.js';

export const BUILTIN_SOURCES = ['fashion-mnist-test', 'fashion-mnist-train'] as const;
export const DEFAULT_SOURCE = 'fashion-mnist-test';

export interface OpenSourceOptions {
  fashionMnistDir?: string;
  camera?: CameraSourceOptions;
  video?: VideoSourceOptions;
}

const DEFAULT_VIDEO_OPTIONS: VideoSourceOptions = { stallTimeoutSeconds: 10 };

async function startsWithMagic(file: string, magic: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(magic.length);
    const { bytesRead } = await handle.read(head, 0, magic.length, 0);
    return bytesRead === magic.length && head.toString('ascii') === magic;
  } finally {
    await handle.close();
  }
}

/** The labels file beside an images IDX file (`x-images-idx3-ubyte[.gz]` → `x-labels-idx1-ubyte[.gz]`). */
function labelsBeside(imagesFile: string): string | undefined {
  const base = path.basename(imagesFile);
  if (!base.includes('images-idx3')) return undefined;
  const stem = path.join(
    path.dirname(imagesFile),
    base.replace('images-idx3', 'labels-idx1').replace(/\.gz$/, ''),
  );
  return [stem + '.gz', stem].find((candidate) => existsSync(candidate));
}

async function openIdxSource(file: string, name: string): Promise<FrameSource> {
  const images = await readIdxFile(file, 3);
  const labelsFile = labelsBeside(file);
  const labels = labelsFile ? await readIdxFile(labelsFile, 1) : undefined;
  return memorySource(name, pairImagesAndLabels(images, labels, file, labelsFile ?? ''));
}

async function openCamera(options: CameraSourceOptions | undefined): Promise<FrameSource> {
  // Imported by path at run time: the camera source lives in its own module and loads only when asked for.
  const modulePath = './camera.js';
  let openCameraSource: OpenCameraSource | undefined;
  try {
    ({ openCameraSource } = (await import(modulePath)) as { openCameraSource?: OpenCameraSource });
  } catch (err) {
    throw new UserError(`--source camera: the camera source is not available (${errorMessage(err)})`);
  }
  if (typeof openCameraSource !== 'function') {
    throw new UserError('--source camera: the camera module exports no openCameraSource');
  }
  return openCameraSource(options ?? { timeoutSeconds: 5, imagesPerSecond: 5 });
}

/**
 * Opens `spec`: `fashion-mnist-test`, `fashion-mnist-train`, `camera`, a dataset file written by
 * `dataset create`, an IDX images file (labels read from the sibling labels file when present), a folder
 * of images, a video file (by extension: .mp4, .avi, .mkv, .webm, …) or an rtsp:// / http(s):// video
 * stream. Throws UserError naming `spec` and what was expected.
 */
export async function openSource(spec: string, options: OpenSourceOptions = {}): Promise<FrameSource> {
  if (spec === 'fashion-mnist-test' || spec === 'fashion-mnist-train') {
    const split = spec === 'fashion-mnist-test' ? 'test' : 'train';
    return memorySource(spec, await loadFashionMnist(split, fashionMnistDir(options.fashionMnistDir, split)));
  }
  if (spec === 'camera') return openCamera(options.camera);
  if (VIDEO_STREAM_URL.test(spec)) return openVideoStreamSource(spec, options.video ?? DEFAULT_VIDEO_OPTIONS);
  if (!existsSync(spec)) {
    throw new UserError(
      `source "${spec}": expected fashion-mnist-test, fashion-mnist-train, camera, a dataset/IDX file, an image folder, a video file or an rtsp:// / http(s):// stream`,
    );
  }
  if (statSync(spec).isDirectory()) return openFolderSource(spec, spec);
  if (VIDEO_FILE_EXTENSION.test(spec))
    return openVideoFileSource(spec, options.video ?? DEFAULT_VIDEO_OPTIONS);
  if (await startsWithMagic(spec, DATASET_MAGIC)) {
    return memorySource(spec, await readDatasetFile(spec));
  }
  return openIdxSource(spec, spec);
}
