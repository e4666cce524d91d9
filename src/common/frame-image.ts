/** One frame's pixels as they came off the wire: raw HWC bytes, or an encoded JPEG/PNG file. */
export interface FrameImage {
  width: number;
  height: number;
  /** 1 gray, 3 RGB. */
  channels: number;
  /** 0 raw uint8 row-major HWC, 1 JPEG, 2 PNG (the wire encodings). */
  encoding: 0 | 1 | 2;
  data: Uint8Array;
}
