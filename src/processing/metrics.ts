/**
 * The client pipeline's Prometheus metrics (framesift_*), on the shared registry. Created once per process;
 * tests that run several sessions in one process read deltas.
 */
import { metric, metricsRegistry, prom } from '../common/metrics.js';
import type { LedgerObserver } from '../common/session/index.js';

export const framesReceived = metric(
  'framesift_frames_received_total',
  () =>
    new prom.Counter({
      name: 'framesift_frames_received_total',
      help: 'Frame messages received on the frame socket (valid or not).',
      registers: [metricsRegistry],
    }),
);

export const framesProcessed = metric(
  'framesift_frames_processed_total',
  () =>
    new prom.Counter({
      name: 'framesift_frames_processed_total',
      help: 'Frames analysed by a worker and handed to the results stage.',
      registers: [metricsRegistry],
    }),
);

export const framesDropped = metric(
  'framesift_frames_dropped_total',
  () =>
    new prom.Counter({
      name: 'framesift_frames_dropped_total',
      help: 'Valid frames the client decided not to analyse, by reason (ring-full, worker-error, stopped).',
      labelNames: ['reason'],
      registers: [metricsRegistry],
    }),
);

export const framesInvalid = metric(
  'framesift_frames_invalid_total',
  () =>
    new prom.Counter({
      name: 'framesift_frames_invalid_total',
      help: 'Frame messages rejected, by reason (header codes of the wire format, duplicate-seq, undecodable).',
      labelNames: ['reason'],
      registers: [metricsRegistry],
    }),
);

export const oversizeFrames = metric(
  'framesift_ring_oversize_frames_total',
  () =>
    new prom.Counter({
      name: 'framesift_ring_oversize_frames_total',
      help: 'Frames larger than a ring slot, carried on the side path (a shared buffer of their own).',
      registers: [metricsRegistry],
    }),
);

export const ringDepth = metric(
  'framesift_ring_depth',
  () =>
    new prom.Gauge({
      name: 'framesift_ring_depth',
      help: 'Frame ring slots in use (pending + in flight).',
      registers: [metricsRegistry],
    }),
);

export const batchesInFlight = metric(
  'framesift_batches_in_flight',
  () =>
    new prom.Gauge({
      name: 'framesift_batches_in_flight',
      help: 'Batches dispatched to workers and not yet consumed.',
      registers: [metricsRegistry],
    }),
);

export const inferenceSeconds = metric(
  'framesift_inference_latency_seconds',
  () =>
    new prom.Histogram({
      name: 'framesift_inference_latency_seconds',
      help: 'ONNX Runtime run time of one batch on a worker.',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2],
      registers: [metricsRegistry],
    }),
);

export const batchSizeFrames = metric(
  'framesift_batch_size',
  () =>
    new prom.Histogram({
      name: 'framesift_batch_size',
      help: 'Frames per dispatched batch.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: [metricsRegistry],
    }),
);

export const endToEndSeconds = metric(
  'framesift_end_to_end_latency_seconds',
  () =>
    new prom.Histogram({
      name: 'framesift_end_to_end_latency_seconds',
      help: "From the frame's sentAt (server clock) to its result reaching the results stage.",
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
      registers: [metricsRegistry],
    }),
);

/** The session ledger's counts as Prometheus counters (every outcome of every frame message). */
export const ledgerMetrics: LedgerObserver = {
  received: () => framesReceived.inc(),
  processed: (n) => framesProcessed.inc(n),
  dropped: (reason, n) => framesDropped.inc({ reason }, n),
  invalid: (reason, n) => framesInvalid.inc({ reason }, n),
};
