/**
 * A source over a folder of images (png/jpg/jpeg/webp, any case, top level only, sorted by name). JPEG and
 * PNG files with 1 or 3 channels are sent as they are (encoding 1/2); anything else (WebP, alpha, CMYK) is
 * converted to PNG once per frame, so the client only ever decodes JPEG or PNG with the real size.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { UserError, errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { FrameEncoding } from '../../common/wire/header.js';
import type { FrameIteratorOptions, FrameSource, SourceFrame, SourceInfo } from './source.js';

const log = loggerFor('stream.folder');
const IMAGE_EXTENSION = /\.(png|jpe?g|webp)$/i;

interface Probed {
  file: string;
  width: number;
  height: number;
  channels: 1 | 3;
  /** Sent as is (JPEG/PNG with 1 or 3 channels), else converted. */
  encoding: typeof FrameEncoding.jpeg | typeof FrameEncoding.png | 'convert';
}

async function probe(file: string): Promise<Probed> {
  const meta = await sharp(file).metadata();
  if (!meta.width || !meta.height) throw new Error('no image size in the file');
  if (meta.width > 65535 || meta.height > 65535) throw new Error(`${meta.width}x${meta.height} is too large`);
  const channels = meta.channels ?? 3;
  const gray = meta.space === 'b-w' || channels <= 2;
  const native =
    (meta.format === 'jpeg' || meta.format === 'png') &&
    (channels === 1 || channels === 3) &&
    meta.space !== 'cmyk';
  return {
    file,
    width: meta.width,
    height: meta.height,
    channels: gray ? 1 : 3,
    encoding: native ? (meta.format === 'jpeg' ? FrameEncoding.jpeg : FrameEncoding.png) : 'convert',
  };
}

async function load(image: Probed): Promise<SourceFrame> {
  if (image.encoding !== 'convert') {
    const payload = await readFile(image.file);
    return { ...image, encoding: image.encoding, payload, file: path.basename(image.file) };
  }
  let pipeline = sharp(image.file).rotate().removeAlpha();
  pipeline = image.channels === 1 ? pipeline.toColourspace('b-w') : pipeline.toColourspace('srgb');
  const { data, info } = await pipeline.png().toBuffer({ resolveWithObject: true });
  return {
    width: info.width,
    height: info.height,
    channels: image.channels,
    encoding: FrameEncoding.png,
    payload: data,
    file: path.basename(image.file),
  };
}

/**
 * Lists and probes the folder (image headers only). Unreadable files are left out with a warning, so the
 * source's length is the number of frames it will really send.
 */
export async function openFolderSource(dir: string, name = dir): Promise<FrameSource> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && IMAGE_EXTENSION.test(entry.name))
      .map((entry) => entry.name)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (err) {
    throw new UserError(`${dir}: cannot list image folder (${errorMessage(err)})`);
  }
  const images: Probed[] = [];
  for (const entry of entries) {
    const file = path.join(dir, entry);
    try {
      images.push(await probe(file));
    } catch (err) {
      log.warn('skipping unreadable image', { file, error: errorMessage(err) });
    }
  }
  if (images.length === 0) {
    throw new UserError(`${dir}: no readable .png/.jpg/.jpeg/.webp images in the folder`);
  }
  const first = images[0]!;
  const info: SourceInfo = {
    name,
    length: images.length,
    width: first.width,
    height: first.height,
    channels: first.channels,
    labelled: false,
    selfPaced: false,
  };
  return {
    info,
    async *frames({ count, signal }: FrameIteratorOptions): AsyncIterableIterator<SourceFrame> {
      const total = Math.min(count ?? images.length, images.length);
      for (let i = 0; i < total && !signal.aborted; i++) {
        yield await load(images[i]!);
      }
    },
    async close() {},
  };
}
