/**
 * IDX files (the format of MNIST and Fashion-MNIST): a 4-byte magic (0, 0, element type, number of
 * dimensions), one big-endian uint32 per dimension, then the elements row-major. Files may be gzipped.
 * Every check names the file, so a truncated download or a wrong file is a one-line UserError.
 */
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { UserError, errorMessage } from '../common/errors.js';

/** The only element type Fashion-MNIST uses. */
export const IDX_UBYTE = 0x08;

export interface IdxArray {
  dims: number[];
  /** The elements (a view, not a copy, of the decoded buffer). */
  data: Uint8Array;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses `bytes` when they are gzip; `name` is the file, for the error message. */
export function maybeGunzip(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new UserError(`${name}: corrupt or truncated gzip data (${errorMessage(err)})`);
  }
}

/**
 * Parses an uncompressed IDX buffer of unsigned bytes with `expectedDims` dimensions. Throws UserError naming
 * `name` when the magic, the dimensions or the length is wrong. Returns the elements as a view.
 */
export function parseIdx(bytes: Uint8Array, name: string, expectedDims: number): IdxArray {
  if (bytes.byteLength < 4) {
    throw new UserError(`${name}: ${bytes.byteLength} bytes, too short for an IDX header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const expectedMagic = (IDX_UBYTE << 8) | expectedDims;
  if (magic !== expectedMagic) {
    throw new UserError(
      `${name}: IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${expectedMagic.toString(16).padStart(8, '0')} (unsigned bytes, ${expectedDims} dimension${expectedDims === 1 ? '' : 's'})`,
    );
  }
  const headerBytes = 4 + 4 * expectedDims;
  if (bytes.byteLength < headerBytes) {
    throw new UserError(
      `${name}: ${bytes.byteLength} bytes, too short for an IDX header of ${headerBytes} bytes`,
    );
  }
  const dims: number[] = [];
  let elements = 1;
  for (let i = 0; i < expectedDims; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    if (size === 0) throw new UserError(`${name}: IDX dimension ${i} is 0, expected > 0`);
    dims.push(size);
    elements *= size;
  }
  const actual = bytes.byteLength - headerBytes;
  if (actual !== elements) {
    throw new UserError(
      `${name}: ${actual} bytes of data after the header, expected ${dims.length > 1 ? `${dims.join('×')} = ` : ''}${elements}` +
        (actual < elements ? ' (truncated file?)' : ''),
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Reads and parses an IDX file (gzip or plain). */
export async function readIdxFile(file: string, expectedDims: number): Promise<IdxArray> {
  let raw: Uint8Array;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw new UserError(`${file}: cannot read IDX file (${errorMessage(err)})`);
  }
  return parseIdx(maybeGunzip(raw, file), file, expectedDims);
}

/** Encodes an IDX array of unsigned bytes (uncompressed). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Buffer {
  const headerBytes = 4 + 4 * dims.length;
  const out = Buffer.allocUnsafe(headerBytes + data.byteLength);
  out.writeUInt32BE((IDX_UBYTE << 8) | dims.length, 0);
  dims.forEach((size, i) => out.writeUInt32BE(size, 4 + 4 * i));
  out.set(data, headerBytes);
  return out;
}

/** Labelled grayscale images as parsed from an images/labels IDX pair. */
export interface LabelledImages {
  count: number;
  width: number;
  height: number;
  /** count × height × width bytes, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
}

/** Checks an images array (3 dims) against its labels array (1 dim). */
export function pairImagesAndLabels(
  images: IdxArray,
  labels: IdxArray | undefined,
  imagesName: string,
  labelsName: string,
): LabelledImages {
  const [count, height, width] = images.dims as [number, number, number];
  if (width > 65535 || height > 65535) {
    throw new UserError(`${imagesName}: images of ${width}x${height}, expected at most 65535 per side`);
  }
  if (labels && labels.dims[0] !== count) {
    throw new UserError(
      `${labelsName}: ${labels.dims[0]} labels, expected one per image of ${imagesName} (${count})`,
    );
  }
  return {
    count,
    width,
    height,
    images: images.data,
    labels: labels ? labels.data : new Uint8Array(0),
  };
}
