/** The bus's Prometheus metrics (framesift_bus_*), registered once in the shared registry. */
import { metric, metricsRegistry, prom } from '../common/metrics.js';

export const busFramesPublished = metric(
  'framesift_bus_frames_published_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_frames_published_total',
      help: 'Frames the bus accepted from this publisher, by camera.',
      labelNames: ['camera'],
      registers: [metricsRegistry],
    }),
);

export const busFramesDiscarded = metric(
  'framesift_bus_frames_discarded_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_frames_discarded_total',
      help: 'Frames the bus refused at publish (backlog full, too large, publish failed), by reason.',
      labelNames: ['camera', 'reason'],
      registers: [metricsRegistry],
    }),
);

export const busFramesConsumed = metric(
  'framesift_bus_frames_consumed_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_frames_consumed_total',
      help: 'Frames a worker decided and acknowledged, by partition.',
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);

export const busFramesRedelivered = metric(
  'framesift_bus_frames_redelivered_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_frames_redelivered_total',
      help: 'Redelivered frames a worker had already decided (acknowledged again, not decided twice).',
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);

export const busFramesAcked = metric(
  'framesift_bus_frames_acked_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_frames_acked_total',
      help: 'Frames a worker acknowledged (decided, invalid, or redelivered and already decided), by partition.',
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);

export const busFramesInvalid = metric(
  'framesift_bus_frames_invalid_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_frames_invalid_total',
      help: 'Frames a worker could not decode (published as invalid outcomes and acknowledged), by partition and reason.',
      labelNames: ['partition', 'reason'],
      registers: [metricsRegistry],
    }),
);

export const busResultsPublished = metric(
  'framesift_bus_results_published_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_results_published_total',
      help: 'Frame outcomes a worker stored on results.<camera>.frames, by partition.',
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);

export const busPartitionOwned = metric(
  'framesift_bus_partition_owned',
  () =>
    new prom.Gauge({
      name: 'framesift_bus_partition_owned',
      help: "1 while this worker holds the partition's lease, 0 while it stands by.",
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);

export const busLeasesLost = metric(
  'framesift_bus_leases_lost_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_leases_lost_total',
      help: "Times this worker lost its partition's lease (renewals late past the TTL) and stood by again.",
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);

export const busResultImagesOmitted = metric(
  'framesift_bus_result_images_omitted_total',
  () =>
    new prom.Counter({
      name: 'framesift_bus_result_images_omitted_total',
      help: "Kept frames whose image did not fit the bus's max_payload in a result: decided and counted, not saved.",
      labelNames: ['partition'],
      registers: [metricsRegistry],
    }),
);
