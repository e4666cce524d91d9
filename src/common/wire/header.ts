/**
 * The frame message header (docs/design.md, "Wire protocol"): 24 bytes, little-endian, then the payload.
 * Shared by the frame server (which encodes) and the listener (which decodes), so neither end reaches
 * into the other.
 */

import { FramesiftError } from '../errors.js';

export const FRAME_MAGIC = 'FSF1';
export const FRAME_HEADER_BYTES = 24;

export const FrameEncoding = { raw: 0, jpeg: 1, png: 2 } as const;
export type FrameEncodingName = keyof typeof FrameEncoding;
export type FrameEncodingCode = (typeof FrameEncoding)[FrameEncodingName];

export interface FrameHeader {
  seq: number;
  width: number;
  height: number;
  /** 1 gray, 3 RGB. */
  channels: 1 | 3;
  encoding: FrameEncodingCode;
  /** ms since the Unix epoch, when the server sent the frame. */
  sentAt: number;
}

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
  target.writeUInt32LE(MAGIC_U32, 0);
  target.writeUInt32LE(header.seq, 4);
  target.writeUInt16LE(header.width, 8);
  target.writeUInt16LE(header.height, 10);
  target.writeUInt8(header.channels, 12);
  target.writeUInt8(header.encoding, 13);
  target.writeUInt16LE(0, 14);
  target.writeDoubleLE(header.sentAt, 16);
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
  if (view.getUint32(0, true) !== MAGIC_U32) {
    const got = Buffer.from(message.subarray(0, 4)).toString('hex');
    throw new FrameFormatError('bad-magic', `frame magic 0x${got}: expected ASCII "${FRAME_MAGIC}"`);
  }
  const seq = view.getUint32(4, true);
  const width = view.getUint16(8, true);
  const height = view.getUint16(10, true);
  const channels = view.getUint8(12);
  const encoding = view.getUint8(13);
  const reserved = view.getUint16(14, true);
  const sentAt = view.getFloat64(16, true);
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
