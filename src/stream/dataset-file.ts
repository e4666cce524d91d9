/**
 * The dataset subset file written by `framesift dataset create` and streamed by `serve --source FILE`.
 * One file, so a subset is moved around as one thing:
 *
 *   offset 0   4 bytes  magic, ASCII "FSDS"
 *   offset 4   4 bytes  header length H, uint32 little-endian
 *   offset 8   H bytes  header, UTF-8 JSON: { format: "framesift-dataset/1", source, split, seed, count,
 *                       width, height, channels, indices }  (indices: position of each image in the split)
 *   then               an IDX images array (count × height × width, unsigned bytes, uncompressed)
 *   then               an IDX labels array (count, unsigned bytes)
 *
 * The two IDX arrays are byte-for-byte what `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte` would hold
 * for the same images, so any IDX reader can read them out of the file.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { UserError, errorMessage } from '../common/errors.js';
import { seededRandom } from '../common/random.js';
import { encodeIdx, parseIdx, pairImagesAndLabels, type LabelledImages } from './idx.js';
import type { FashionMnistSplit } from './fashion-mnist.js';

export const DATASET_MAGIC = 'FSDS';
export const DATASET_FORMAT = 'framesift-dataset/1';

const headerSchema = z.object({
  format: z.literal(DATASET_FORMAT),
  source: z.string(),
  split: z.enum(['test', 'train']),
  seed: z.number().int().min(0),
  count: z.number().int().positive(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  channels: z.literal(1),
  indices: z.array(z.number().int().min(0)),
});
export type DatasetHeader = z.infer<typeof headerSchema>;

/** `count` distinct indices of 0..total-1 in random order (a partial Fisher-Yates shuffle). */
export function drawIndices(total: number, count: number, seed: number): number[] {
  if (count > total) throw new UserError(`--count ${count}: the split has only ${total} images`);
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  const random = seededRandom(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (total - i));
    const picked = order[j]!;
    order[j] = order[i]!;
    order[i] = picked;
  }
  return Array.from(order.subarray(0, count));
}

/** Builds the subset file's bytes: images `indices` of `set`, in that order. */
export function encodeDatasetFile(
  set: LabelledImages,
  meta: { source: string; split: FashionMnistSplit; seed: number },
  indices: readonly number[],
): Buffer {
  const pixels = set.width * set.height;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new Uint8Array(indices.length);
  indices.forEach((index, i) => {
    images.set(set.images.subarray(index * pixels, (index + 1) * pixels), i * pixels);
    labels[i] = set.labels[index]!;
  });
  const header: DatasetHeader = {
    format: DATASET_FORMAT,
    ...meta,
    count: indices.length,
    width: set.width,
    height: set.height,
    channels: 1,
    indices: [...indices],
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.write(DATASET_MAGIC, 0, 'ascii');
  prefix.writeUInt32LE(json.byteLength, 4);
  return Buffer.concat([
    prefix,
    json,
    encodeIdx([indices.length, set.height, set.width], images),
    encodeIdx([indices.length], labels),
  ]);
}

/** Writes atomically (temp file, then rename), so a reader never sees half a file. */
export async function writeDatasetFile(file: string, bytes: Uint8Array): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  await writeFile(temp, bytes);
  await rename(temp, file);
}

export function isDatasetFile(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && Buffer.from(bytes.subarray(0, 4)).toString('ascii') === DATASET_MAGIC;
}

/** Parses a subset file; every problem is a UserError naming `name`. */
export function parseDatasetFile(
  bytes: Uint8Array,
  name: string,
): LabelledImages & { header: DatasetHeader } {
  if (!isDatasetFile(bytes))
    throw new UserError(`${name}: not a framesift dataset file (magic "${DATASET_MAGIC}")`);
  if (bytes.byteLength < 8) throw new UserError(`${name}: truncated dataset header`);
  const jsonLength = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readUInt32LE(4);
  if (8 + jsonLength > bytes.byteLength) {
    throw new UserError(`${name}: header of ${jsonLength} bytes runs past the end of the file (truncated?)`);
  }
  let header: DatasetHeader;
  try {
    const json: unknown = JSON.parse(Buffer.from(bytes.subarray(8, 8 + jsonLength)).toString('utf8'));
    header = headerSchema.parse(json);
  } catch (err) {
    throw new UserError(
      `${name}: bad dataset header, expected ${DATASET_FORMAT} JSON (${errorMessage(err).split('\n')[0]})`,
    );
  }
  const imagesStart = 8 + jsonLength;
  const imagesLength = 4 + 12 + header.count * header.width * header.height;
  const labelsLength = 4 + 4 + header.count;
  if (bytes.byteLength !== imagesStart + imagesLength + labelsLength) {
    throw new UserError(
      `${name}: ${bytes.byteLength} bytes, expected ${imagesStart + imagesLength + labelsLength} for ${header.count} images of ${header.width}x${header.height} (truncated?)`,
    );
  }
  const images = parseIdx(bytes.subarray(imagesStart, imagesStart + imagesLength), `${name} (images)`, 3);
  const labels = parseIdx(bytes.subarray(imagesStart + imagesLength), `${name} (labels)`, 1);
  const set = pairImagesAndLabels(images, labels, `${name} (images)`, `${name} (labels)`);
  if (set.count !== header.count || set.width !== header.width || set.height !== header.height) {
    throw new UserError(
      `${name}: IDX dimensions ${set.count}×${set.height}×${set.width} disagree with the header`,
    );
  }
  return { ...set, header };
}

export async function readDatasetFile(file: string): Promise<LabelledImages & { header: DatasetHeader }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read dataset file (${errorMessage(err)})`);
  }
  return parseDatasetFile(bytes, file);
}
