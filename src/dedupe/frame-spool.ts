/**
 * Every frame of a session kept on disk, for saves of all frames (`--save-frames all`): frames are appended
 * to one file in a private temp folder as they arrive (a synchronous append to the page cache, so memory
 * stays bounded whatever the session's length), with a small in-memory index (seq, time, size, encoding,
 * offset). The folder is removed on close() and, at the latest, when the process exits.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { KeptImage } from './save.js';

export interface SpooledFrame {
  seq: number;
  /** Index of the frame's stream in the caller's list of stream ids. */
  stream: number;
  sourceTimeMs?: number;
  width: number;
  height: number;
  channels: number;
  encoding: 0 | 1 | 2;
  offset: number;
  bytes: number;
}

const openSpools = new Set<FrameSpool>();
let exitHook = false;

export class FrameSpool {
  readonly dir: string;
  private readonly fd: number;
  private size = 0;
  private closed = false;
  readonly frames: SpooledFrame[] = [];

  constructor(parent = os.tmpdir()) {
    this.dir = mkdtempSync(path.join(parent, 'framesift-spool-'));
    this.fd = openSync(path.join(this.dir, 'frames.bin'), 'w+');
    openSpools.add(this);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => {
        for (const spool of openSpools) spool.close();
      });
    }
  }

  /** Appends a copy of the frame's bytes (the ring slot is reused after this returns). */
  add(seq: number, image: KeptImage, sourceTimeMs?: number, stream = 0): void {
    if (this.closed) return;
    const data = image.data;
    let written = 0;
    while (written < data.byteLength) {
      written += writeSync(this.fd, data, written, data.byteLength - written, this.size + written);
    }
    this.frames.push({
      seq,
      stream,
      ...(sourceTimeMs !== undefined ? { sourceTimeMs } : {}),
      width: image.width,
      height: image.height,
      channels: image.channels,
      encoding: image.encoding,
      offset: this.size,
      bytes: data.byteLength,
    });
    this.size += data.byteLength;
  }

  /** The frame's image, read back from disk. */
  read(frame: SpooledFrame): KeptImage {
    const data = Buffer.allocUnsafe(frame.bytes);
    let read = 0;
    while (read < frame.bytes) {
      const n = readSync(this.fd, data, read, frame.bytes - read, frame.offset + read);
      if (n === 0) throw new Error(`frame spool: frame ${frame.seq} is truncated`);
      read += n;
    }
    return {
      width: frame.width,
      height: frame.height,
      channels: frame.channels,
      encoding: frame.encoding,
      data,
    };
  }

  /** Bytes spooled so far. */
  get bytes(): number {
    return this.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    openSpools.delete(this);
    closeSync(this.fd);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
