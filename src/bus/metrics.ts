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
