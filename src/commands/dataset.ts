/**
 * `framesift dataset create`: writes a seeded, deterministic N-image Fashion-MNIST subset to one file that
 * `serve --source FILE` streams (format in src/stream/dataset-file.ts and docs/protocol.md).
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetConfig } from '../common/config.js';
import { ConfigError } from '../common/errors.js';
import { humanLogger, loggerFor } from '../common/logger.js';
import {
  drawIndices,
  encodeDatasetFile,
  fashionMnistDir,
  loadFashionMnist,
  writeDatasetFile,
} from '../stream/index.js';

const log = loggerFor('dataset');

export async function datasetCreateCommand(config: DatasetConfig): Promise<void> {
  if (config.count === undefined)
    throw new ConfigError('--count is required: the number of images in the subset');
  if (config.datasetOut === undefined) throw new ConfigError('--out is required: the subset file to write');
  const split = config.split ?? 'test';
  const seed = config.seed ?? 0;
  const set = await loadFashionMnist(split, fashionMnistDir(config.fashionMnistDir, split));
  const indices = drawIndices(set.count, config.count, seed);
  const bytes = encodeDatasetFile(set, { source: `fashion-mnist-${split}`, split, seed }, indices);
  await mkdir(path.dirname(path.resolve(config.datasetOut)), { recursive: true });
  await writeDatasetFile(config.datasetOut, bytes);
  const written = { file: config.datasetOut, count: indices.length, split, seed, bytes: bytes.byteLength };
  log.info('dataset written', written);
  humanLogger.info(config.json ? JSON.stringify(written) : config.datasetOut);
}
