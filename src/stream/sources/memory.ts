/**
 * A source over labelled grayscale images held in memory: a Fashion-MNIST split, a dataset subset file or
 * an IDX file. Frames are raw (encoding 0) views into the loaded array: no per-frame copy until the
 * server builds the frame message.
 */
import { FrameEncoding } from '../../common/wire/header.js';
import type { LabelledImages } from '../idx.js';
import type { FrameIteratorOptions, FrameSource, SourceFrame, SourceInfo } from './source.js';

export function memorySource(name: string, set: LabelledImages): FrameSource {
  const labelled = set.labels.byteLength === set.count;
  const info: SourceInfo = {
    name,
    length: set.count,
    width: set.width,
    height: set.height,
    channels: 1,
    labelled,
    selfPaced: false,
  };
  const pixels = set.width * set.height;
  return {
    info,
    async *frames({ count, signal }: FrameIteratorOptions): AsyncIterableIterator<SourceFrame> {
      const total = Math.min(count ?? set.count, set.count);
      for (let i = 0; i < total && !signal.aborted; i++) {
        yield {
          width: set.width,
          height: set.height,
          channels: 1,
          encoding: FrameEncoding.raw,
          payload: set.images.subarray(i * pixels, (i + 1) * pixels),
          ...(labelled ? { label: set.labels[i]! } : {}),
        };
      }
    },
    async close() {},
  };
}
