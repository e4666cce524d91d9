/**
 * The source's own frame time, carried inside a JPEG frame (an optional part of the wire protocol that
 * leaves the 24-byte header untouched). A video source writes a JPEG comment segment (COM, FF FE)
 * `framesift:t=<ms>` right after SOI/APP0: the frame's presentation time in the video, in milliseconds
 * from the stream's start. The payload stays a valid JPEG file; a client that does not know the comment
 * decodes it as usual, one that does reads the time with `sourceTimeOf`.
 */

const COM_PREFIX = 'framesift:t=';
/** Segments are only looked for before the first SOS; headers are never this long. */
const MAX_HEADER_SCAN = 64 * 1024;

function isJpeg(data: Uint8Array): boolean {
  return data.length >= 4 && data[0] === 0xff && data[1] === 0xd8;
}

/** `jpeg` with a `framesift:t=<ms>` comment segment added after SOI (and APP0, when there is one). */
export function withSourceTime(jpeg: Uint8Array, timeMs: number): Buffer {
  if (!isJpeg(jpeg)) throw new Error('withSourceTime: payload is not a JPEG (no SOI marker)');
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0 && jpeg.length >= 6) at = 4 + ((jpeg[4]! << 8) | jpeg[5]!);
  const text = Buffer.from(COM_PREFIX + String(Math.round(timeMs * 1000) / 1000), 'ascii');
  const segment = Buffer.allocUnsafe(4 + text.length);
  segment[0] = 0xff;
  segment[1] = 0xfe;
  segment.writeUInt16BE(text.length + 2, 2);
  text.copy(segment, 4);
  return Buffer.concat([jpeg.subarray(0, at), segment, jpeg.subarray(at)]);
}

/** The `framesift:t=` time of a JPEG frame, or undefined (not a JPEG, or no such comment). */
export function sourceTimeOf(data: Uint8Array): number | undefined {
  if (!isJpeg(data)) return undefined;
  const end = Math.min(data.length, MAX_HEADER_SCAN);
  let i = 2;
  while (i + 4 <= end) {
    if (data[i] !== 0xff) return undefined;
    const marker = data[i + 1]!;
    if (marker === 0xda || marker === 0xd9) return undefined; // start of scan / end: no more headers
    const length = (data[i + 2]! << 8) | data[i + 3]!;
    if (marker === 0xfe && length > 2 + COM_PREFIX.length && i + 2 + length <= data.length) {
      const text = Buffer.from(data.buffer, data.byteOffset + i + 4, length - 2).toString('latin1');
      if (text.startsWith(COM_PREFIX)) {
        const value = Number(text.slice(COM_PREFIX.length));
        return Number.isFinite(value) ? value : undefined;
      }
    }
    i += 2 + length;
  }
  return undefined;
}

/** A media time as `00:01:23.400` (hours:minutes:seconds.milliseconds), for manifests, reports and logs. */
export function formatMediaTime(ms: number): string {
  const total = Math.max(0, ms) / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(3).padStart(6, '0')}`;
}
