/**
 * Why a received frame was not processed. Every reason is a stable code: it labels the
 * `framesift_frames_dropped_total` / `framesift_frames_invalid_total` metrics and keys the results
 * document's `counts.dropped` / `counts.invalid` (docs/pipeline.md lists them).
 */
import type { FrameRejectReason } from '../wire/header.js';

/** A valid frame the client chose not to analyse. */
export type DropReason =
  /** drop-oldest ring policy: the oldest frame not yet dispatched made room for a newer one. */
  | 'ring-full'
  /** The worker batch holding the frame failed. */
  | 'worker-error'
  /** Received after a stop, still held back behind a full ring: not waited for. */
  | 'stopped'
  | BusDropReason;

/**
 * Bus mode: frames the NATS bus refused at publish, so no worker ever saw them — its backlog was full,
 * the frame was above the server's max_payload, or publishing kept failing (cluster unreachable).
 */
export type BusDropReason = 'bus-full' | 'bus-too-large' | 'bus-publish-failed';

/** A frame message that could not be analysed, or whose seq cannot be trusted. */
export type InvalidReason =
  | FrameRejectReason
  /** A text message on the (binary) frame socket. */
  | 'text-message'
  /** A seq already received in this session. */
  | 'duplicate-seq'
  /** A seq at or beyond the session's announced `count` (or, when none was announced, its final `sent`). */
  | 'seq-out-of-range'
  /** The payload does not decode as the image its header announces (found on a worker). */
  | 'undecodable';

export const DROP_REASONS: readonly DropReason[] = [
  'ring-full',
  'worker-error',
  'stopped',
  'bus-full',
  'bus-too-large',
  'bus-publish-failed',
];

export const INVALID_REASONS: readonly InvalidReason[] = [
  'short-message',
  'bad-magic',
  'bad-dimensions',
  'bad-channels',
  'bad-encoding',
  'bad-reserved',
  'bad-payload-length',
  'empty-payload',
  'text-message',
  'duplicate-seq',
  'seq-out-of-range',
  'undecodable',
];

/**
 * Invalid reasons of messages that name no frame of the session: no readable seq (text, short, bad
 * magic), or a seq that is not a new one in [0, sent). Such a message is counted as received and invalid,
 * but it stands for none of the frames the server sent; every other outcome belongs to exactly one seq.
 */
export const UNATTRIBUTED_REASONS: ReadonlySet<string> = new Set<InvalidReason>([
  'short-message',
  'bad-magic',
  'text-message',
  'duplicate-seq',
  'seq-out-of-range',
]);
