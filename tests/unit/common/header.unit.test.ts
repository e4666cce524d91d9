import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES,
  FrameEncoding,
  FrameFormatError,
  decodeFrame,
  encodeFrame,
  encodeFrameHeader,
  type FrameHeader,
} from '../../../src/common/wire/header.js';

const header: FrameHeader = {
  seq: 4_000_000_001,
  width: 28,
  height: 28,
  channels: 1,
  encoding: FrameEncoding.raw,
  sentAt: 1_763_790_000_123.25,
};
const pixels = Uint8Array.from({ length: 784 }, (_, i) => i % 256);

function rejection(message: Uint8Array): FrameFormatError {
  try {
    decodeFrame(message);
  } catch (err) {
    if (err instanceof FrameFormatError) return err;
    throw err;
  }
  throw new Error('expected the frame to be rejected');
}

describe('frame header codec', () => {
  it('round-trips every field and the payload', () => {
    const message = encodeFrame(header, pixels);
    expect(message.byteLength).toBe(FRAME_HEADER_BYTES + 784);
    const decoded = decodeFrame(message);
    expect(decoded.header).toEqual(header);
    expect(Buffer.from(decoded.payload).equals(Buffer.from(pixels))).toBe(true);
  });

  it('lays the header out as DESIGN.md says (little-endian, magic FSF1)', () => {
    const bytes = encodeFrameHeader({
      seq: 1,
      width: 640,
      height: 480,
      channels: 3,
      encoding: FrameEncoding.jpeg,
      sentAt: 0,
    });
    expect(bytes.toString('hex')).toBe(
      '46534631' + '01000000' + '8002' + 'e001' + '03' + '01' + '0000' + '0000000000000000',
    );
  });

  it('round-trips JPEG and PNG frames with any non-empty payload', () => {
    for (const encoding of [FrameEncoding.jpeg, FrameEncoding.png]) {
      const decoded = decodeFrame(encodeFrame({ ...header, channels: 3, encoding }, Uint8Array.of(1, 2, 3)));
      expect(decoded.header.encoding).toBe(encoding);
      expect([...decoded.payload]).toEqual([1, 2, 3]);
    }
  });

  it('rejects short and garbled headers with a reason and a message naming the problem', () => {
    const good = encodeFrame(header, pixels);
    const garble = (write: (b: Buffer) => void) => {
      const copy = Buffer.from(good);
      write(copy);
      return rejection(copy);
    };
    expect(rejection(good.subarray(0, 23))).toMatchObject({
      reason: 'short-message',
      message: expect.stringContaining('23 bytes'),
    });
    expect(rejection(new Uint8Array(0)).reason).toBe('short-message');
    expect(garble((b) => b.write('FSF2', 0, 'ascii'))).toMatchObject({
      reason: 'bad-magic',
      message: expect.stringContaining('0x46534632'),
    });
    expect(garble((b) => b.writeUInt16LE(0, 8)).reason).toBe('bad-dimensions');
    expect(garble((b) => b.writeUInt16LE(0, 10)).reason).toBe('bad-dimensions');
    expect(garble((b) => b.writeUInt8(4, 12))).toMatchObject({
      reason: 'bad-channels',
      message: expect.stringContaining('channels 4'),
    });
    expect(garble((b) => b.writeUInt8(7, 13))).toMatchObject({
      reason: 'bad-encoding',
      message: expect.stringContaining('encoding 7'),
    });
    expect(garble((b) => b.writeUInt16LE(1, 14)).reason).toBe('bad-reserved');
    expect(rejection(good.subarray(0, good.byteLength - 1))).toMatchObject({
      reason: 'bad-payload-length',
      message: expect.stringContaining('783 bytes, expected 28x28x1 = 784'),
    });
    expect(rejection(encodeFrame({ ...header, encoding: FrameEncoding.png }, new Uint8Array(0))).reason).toBe(
      'empty-payload',
    );
  });

  it('decodes from a view with a byte offset (a slice of a larger buffer)', () => {
    const big = Buffer.alloc(FRAME_HEADER_BYTES + 784 + 10);
    encodeFrame(header, pixels).copy(big, 5);
    expect(decodeFrame(big.subarray(5, 5 + FRAME_HEADER_BYTES + 784)).header).toEqual(header);
  });
});
