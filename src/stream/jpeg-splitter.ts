/**
 * Splits a byte stream of concatenated JPEG files (ffmpeg's `-f image2pipe -c:v mjpeg`, or an MJPEG body)
 * into whole files. Marker segments are skipped by their lengths and entropy-coded data is scanned for the
 * next real marker (FF followed by neither 00 nor RSTn), so bytes that happen to look like EOI inside a
 * segment never cut a frame short. Bytes before a SOI are discarded.
 */
export class JpegSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Parse position inside `pending` (the current frame starts at 0). */
  private pos = 0;
  private inScan = false;
  /** Bytes skipped because they were not inside a JPEG file (counted for diagnostics). */
  discarded = 0;

  /** Adds `chunk` and returns the JPEG files it completed, in order (views of fresh buffers). */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const end = this.frameEnd();
      if (end === undefined) break;
      out.push(this.pending.subarray(0, end));
      this.pending = this.pending.subarray(end);
      this.pos = 0;
      this.inScan = false;
    }
    // A finished frame shares the chunk's memory; copy the remainder so that frame can be freed on its own.
    if (out.length && this.pending.length) this.pending = Buffer.from(this.pending);
    return out;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.pending.length;
  }

  /** The end offset of the frame at the start of `pending`, or undefined when more bytes are needed. */
  private frameEnd(): number | undefined {
    const buf = this.pending;
    if (this.pos === 0) {
      const soi = findSoi(buf);
      if (soi < 0) {
        // Keep a trailing FF: it may be the first byte of the next SOI.
        const keep = buf.length && buf[buf.length - 1] === 0xff ? 1 : 0;
        this.discarded += buf.length - keep;
        this.pending = buf.subarray(buf.length - keep);
        return undefined;
      }
      if (soi > 0) {
        this.discarded += soi;
        this.pending = buf.subarray(soi);
        return this.frameEnd();
      }
      this.pos = 2;
    }
    let i = this.pos;
    for (;;) {
      if (this.inScan) {
        // Entropy-coded data: FF 00 is a stuffed byte, FF D0-D7 a restart marker; any other FF xx ends it.
        for (;;) {
          const ff = buf.indexOf(0xff, i);
          if (ff < 0 || ff + 1 >= buf.length) {
            this.pos = ff < 0 ? buf.length : ff;
            return undefined;
          }
          const next = buf[ff + 1]!;
          if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
            i = ff + (next === 0xff ? 1 : 2);
            continue;
          }
          i = ff;
          this.inScan = false;
          break;
        }
      }
      if (i + 2 > buf.length) break;
      if (buf[i] !== 0xff) {
        // Not a marker where one must be: resynchronise on the next SOI.
        this.discarded += i;
        this.pending = buf.subarray(i);
        this.pos = 0;
        return this.frameEnd();
      }
      const marker = buf[i + 1]!;
      if (marker === 0xff) {
        i++; // fill byte
        continue;
      }
      if (marker === 0xd9) return i + 2;
      if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
        i += 2;
        continue;
      }
      if (i + 4 > buf.length) break;
      const length = (buf[i + 2]! << 8) | buf[i + 3]!;
      if (i + 2 + length > buf.length) break;
      i += 2 + length;
      if (marker === 0xda) this.inScan = true;
    }
    this.pos = i;
    return undefined;
  }
}

function findSoi(buf: Buffer): number {
  let i = buf.indexOf(0xff);
  while (i >= 0 && i + 1 < buf.length) {
    if (buf[i + 1] === 0xd8) return i;
    i = buf.indexOf(0xff, i + 1);
  }
  return -1;
}
