/**
 * The frame message header (docs/design.md, "Wire protocol"): 24 bytes, little-endian, then the payload.
 * Shared by the frame server (which encodes) and the listener (which decodes), so neither end reaches
 * into the other.
 */

import { z } from 'zod/v4';
import { FramesiftError } from '../errors.js';

export const FRAME_MAGIC = 'FSF1';
export const FRAME_HEADER_BYTES = 24;

export const FrameEncoding = { raw: 0, jpeg: 1, png: 2 } as const;
export type FrameEncodingName = keyof typeof FrameEncoding;
export type FrameEncodingCode = (typeof FrameEncoding)[FrameEncodingName];

/**
 * Where each header field sits, little-endian: the codec below reads and writes by these offsets, and the
 * published schema (schemas/frame-header.schema.json) states them, so the two cannot disagree.
 */
export const FRAME_HEADER_LAYOUT = {
  magic: { offset: 0, size: 4, type: 'ascii' },
  seq: { offset: 4, size: 4, type: 'uint32' },
  width: { offset: 8, size: 2, type: 'uint16' },
  height: { offset: 10, size: 2, type: 'uint16' },
  channels: { offset: 12, size: 1, type: 'uint8' },
  encoding: { offset: 13, size: 1, type: 'uint8' },
  reserved: { offset: 14, size: 2, type: 'uint16' },
  sentAt: { offset: 16, size: 8, type: 'float64' },
} as const;
const AT = {
  magic: FRAME_HEADER_LAYOUT.magic.offset,
  seq: FRAME_HEADER_LAYOUT.seq.offset,
  width: FRAME_HEADER_LAYOUT.width.offset,
  height: FRAME_HEADER_LAYOUT.height.offset,
  channels: FRAME_HEADER_LAYOUT.channels.offset,
  encoding: FRAME_HEADER_LAYOUT.encoding.offset,
  reserved: FRAME_HEADER_LAYOUT.reserved.offset,
  sentAt: FRAME_HEADER_LAYOUT.sentAt.offset,
};

const field = (name: keyof typeof FRAME_HEADER_LAYOUT) => ({
  'x-offset': FRAME_HEADER_LAYOUT[name].offset,
  'x-size': FRAME_HEADER_LAYOUT[name].size,
  'x-type': FRAME_HEADER_LAYOUT[name].type,
});

/** The decoded header, with each field's place in the 24 bytes (the `x-*` keywords of the published schema). */
export const frameHeaderSchema = z
  .object({
    magic: z
      .literal(FRAME_MAGIC)
      .meta({ ...field('magic'), description: 'ASCII "FSF1" (bytes 46 53 46 31).' }),
    seq: z
      .number()
      .int()
      .min(0)
      .max(0xffff_ffff)
      .meta({ ...field('seq'), description: '0-based within the session, consecutive: 0, 1, 2, … sent-1.' }),
    width: z.number().int().min(1).max(0xffff).meta(field('width')),
    height: z.number().int().min(1).max(0xffff).meta(field('height')),
    channels: z.literal([1, 3]).meta({ ...field('channels'), description: '1 gray, 3 RGB.' }),
    encoding: z.literal([FrameEncoding.raw, FrameEncoding.jpeg, FrameEncoding.png]).meta({
      ...field('encoding'),
      description:
        '0 raw: uint8 pixels, row-major, HWC, exactly width×height×channels bytes; 1 JPEG file; 2 PNG file (non-empty).',
    }),
    reserved: z.literal(0).meta({ ...field('reserved'), description: 'Always 0.' }),
    sentAt: z
      .number()
      .meta({ ...field('sentAt'), description: 'When the server sent the frame, ms since the Unix epoch.' }),
  })
  .meta({
    id: 'frame-header',
    title: 'framesift frame header',
    description:
      'One binary WebSocket message per frame on the frame socket: this 24-byte little-endian header (fields at x-offset, x-size bytes, x-type), then the payload. The JSON form is the decoded header.',
    'x-byteOrder': 'little-endian',
    'x-headerBytes': FRAME_HEADER_BYTES,
  });

/** The decoded header as the codec returns it (magic and reserved are checked, not returned). */
export type FrameHeader = Omit<z.infer<typeof frameHeaderSchema>, 'magic' | 'reserved'>;

/** Why a frame message was rejected: stable codes, used as the `reason` label of invalid-frame metrics. */
export type FrameRejectReason =
  | 'short-message'
  | 'bad-magic'
  | 'bad-dimensions'
  | 'bad-channels'
  | 'bad-encoding'
  | 'bad-reserved'
  | 'bad-payload-length'
  | 'empty-payload';

/** A frame message that breaks the wire format; `code` is its reason. */
export class FrameFormatError extends FramesiftError {
  constructor(
    readonly reason: FrameRejectReason,
    message: string,
  ) {
    super(message, reason);
  }
}

const MAGIC_U32 = Buffer.from(FRAME_MAGIC, 'ascii').readUInt32LE(0);

export function encodeFrameHeader(
  header: FrameHeader,
  target = Buffer.allocUnsafe(FRAME_HEADER_BYTES),
): Buffer {
  target.writeUInt32LE(MAGIC_U32, AT.magic);
  target.writeUInt32LE(header.seq, AT.seq);
  target.writeUInt16LE(header.width, AT.width);
  target.writeUInt16LE(header.height, AT.height);
  target.writeUInt8(header.channels, AT.channels);
  target.writeUInt8(header.encoding, AT.encoding);
  target.writeUInt16LE(0, AT.reserved);
  target.writeDoubleLE(header.sentAt, AT.sentAt);
  return target;
}

/** One frame message: header followed by payload, in a single buffer. */
export function encodeFrame(header: FrameHeader, payload: Uint8Array): Buffer {
  const message = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.byteLength);
  encodeFrameHeader(header, message);
  message.set(payload, FRAME_HEADER_BYTES);
  return message;
}

export interface DecodedFrame {
  header: FrameHeader;
  /** A view into the message, not a copy. */
  payload: Uint8Array;
}

/**
 * Decodes and validates a frame message. Throws FrameFormatError naming what was wrong; a valid result
 * has a payload of exactly width×height×channels bytes when raw, and a non-empty payload otherwise.
 */
export function decodeFrame(message: Uint8Array): DecodedFrame {
  if (message.byteLength < FRAME_HEADER_BYTES) {
    throw new FrameFormatError(
      'short-message',
      `frame message of ${message.byteLength} bytes: expected at least the ${FRAME_HEADER_BYTES}-byte header`,
    );
  }
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  if (view.getUint32(AT.magic, true) !== MAGIC_U32) {
    const got = Buffer.from(message.subarray(0, 4)).toString('hex');
    throw new FrameFormatError('bad-magic', `frame magic 0x${got}: expected ASCII "${FRAME_MAGIC}"`);
  }
  const seq = view.getUint32(AT.seq, true);
  const width = view.getUint16(AT.width, true);
  const height = view.getUint16(AT.height, true);
  const channels = view.getUint8(AT.channels);
  const encoding = view.getUint8(AT.encoding);
  const reserved = view.getUint16(AT.reserved, true);
  const sentAt = view.getFloat64(AT.sentAt, true);
  if (width === 0 || height === 0) {
    throw new FrameFormatError('bad-dimensions', `frame ${seq}: size ${width}x${height}, expected both > 0`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new FrameFormatError('bad-channels', `frame ${seq}: channels ${channels}, expected 1 or 3`);
  }
  if (encoding !== FrameEncoding.raw && encoding !== FrameEncoding.jpeg && encoding !== FrameEncoding.png) {
    throw new FrameFormatError(
      'bad-encoding',
      `frame ${seq}: encoding ${encoding}, expected 0 raw, 1 JPEG or 2 PNG`,
    );
  }
  if (reserved !== 0) {
    throw new FrameFormatError('bad-reserved', `frame ${seq}: reserved bytes ${reserved}, expected 0`);
  }
  const payload = message.subarray(FRAME_HEADER_BYTES);
  if (encoding === FrameEncoding.raw) {
    const expected = width * height * channels;
    if (payload.byteLength !== expected) {
      throw new FrameFormatError(
        'bad-payload-length',
        `frame ${seq}: raw payload of ${payload.byteLength} bytes, expected ${width}x${height}x${channels} = ${expected}`,
      );
    }
  } else if (payload.byteLength === 0) {
    throw new FrameFormatError('empty-payload', `frame ${seq}: empty ${encodingName(encoding)} payload`);
  }
  return {
    header: { seq, width, height, channels, encoding: encoding as FrameEncodingCode, sentAt },
    payload,
  };
}

export function encodingName(code: number): string {
  const entry = Object.entries(FrameEncoding).find(([, value]) => value === code);
  return entry ? entry[0] : `unknown(${code})`;
}
