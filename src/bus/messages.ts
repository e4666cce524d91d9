/**
 * What travels on the result subjects, as JSON. A worker publishes one `frames` message per camera per
 * batch; a publisher publishes one `end` message per session when it has sent its last frame. Both are
 * idempotent to apply: the collector keys every outcome by (camera, session, seq) and keeps the first.
 */

/** Why the bus did not deliver a frame to a worker: the stream refused it at publish. */
export type { BusDropReason as DiscardReason } from '../common/session/index.js';
import type { BusDropReason as DiscardReason } from '../common/session/index.js';

/** One frame's outcome, as the worker decided it. */
export interface FrameOutcome {
  seq: number;
  /** sentAt of the frame header (ms since the epoch); latency = decidedAt - sentAt. */
  sentAt: number;
  decidedAt: number;
  /** classify: predicted class and its probability. */
  label?: number;
  confidence?: number;
  /** dedupe: kept as a new unique, or a duplicate of unique `unique` at `distance`. */
  kept?: boolean;
  unique?: number;
  distance?: number;
  /** dedupe: set when the keypoint check made the frame a duplicate (`distance` is then above the threshold). */
  keypoints?: { inliers: number; ncc: number };
  /** dedupe, kept frames: the feature (base64 of float32 or hash bytes), to rebuild the store elsewhere. */
  feature?: string;
  /**
   * The frame itself: for kept frames (so the collector can save the uniques) and for frames of at most
   * 4 KiB (so the collector can pick annotated samples, e.g. every Fashion-MNIST frame).
   */
  image?: { width: number; height: number; channels: 1 | 3; encoding: number; data: string };
  /** The frame could not be read (bad header) or analysed (undecodable image): a typed reason. */
  invalid?: string;
  failed?: string;
}

export interface FramesMessage {
  type: 'frames';
  camera: string;
  session: string;
  partition: number;
  worker: string;
  /** The model that decided the frames (file name and verified sha256), when one did. */
  model?: { name: string; file: string; sha256: string };
  /** dedupe: the rule the worker decided with. */
  rule?: { method: 'cnn' | 'phash' | 'mse'; metric: 'cosine' | 'l2' | 'rmse'; threshold: number };
  frames: FrameOutcome[];
}

export interface EndMessage {
  type: 'end';
  camera: string;
  session: string;
  source: string;
  /** Frames the publisher tried to send; every one is in the bus or in `discarded`. */
  sent: number;
  /** Frames the bus refused, by reason, with their seqs. */
  discarded: Partial<Record<DiscardReason, number[]>>;
  /** Ground-truth labels by seq (base64 of uint8), when the source has them: the collector scores with them. */
  labels?: string;
  mode: 'classify' | 'dedupe';
}

export type ResultMessage = FramesMessage | EndMessage;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeResult(message: ResultMessage): Uint8Array {
  return encoder.encode(JSON.stringify(message));
}

export function decodeResult(data: Uint8Array): ResultMessage {
  const value = JSON.parse(decoder.decode(data)) as ResultMessage;
  if (value?.type !== 'frames' && value?.type !== 'end') {
    throw new Error(`result message of type ${JSON.stringify((value as { type?: unknown })?.type)}`);
  }
  return value;
}

export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function base64ToBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

export function float32ToBase64(vector: Float32Array): string {
  return bytesToBase64(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
}

export function base64ToFloat32(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
