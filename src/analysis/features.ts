/**
 * Main-thread side of the images task: frame i of a batch result as the dedupe feature its method compares.
 * (The workers return flat typed arrays; the unique store takes one feature per frame, in seq order.)
 */
import { hexToHash, type Feature, type Method } from '../dedupe/features.js';
import { LAYOUT_SIZE, type ImagesResult } from './tasks/images.js';

export function featureOf(result: ImagesResult, i: number, method: Method): Feature {
  switch (method) {
    case 'cnn': {
      const vector = result.embeddings!.slice(i * result.embeddingDim, (i + 1) * result.embeddingDim);
      const n = LAYOUT_SIZE * LAYOUT_SIZE;
      return result.layouts
        ? { kind: 'embedding', vector, layout: result.layouts.slice(i * n, (i + 1) * n) }
        : { kind: 'embedding', vector };
    }
    case 'mse': {
      const n = result.thumbnails!.length / result.count;
      return { kind: 'thumbnail', pixels: result.thumbnails!.slice(i * n, (i + 1) * n) };
    }
    case 'phash':
      return { kind: 'hash', hash: hexToHash(result.hashes![i]!) };
    case 'change':
      return { kind: 'gray', image: result.grays![i]! };
  }
}
