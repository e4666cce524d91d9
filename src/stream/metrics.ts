/** The stream server's metrics, on the shared registry. */
import { metric, metricsRegistry, prom } from '../common/metrics.js';

export const serverErrors = metric(
  'framesift_server_errors_total',
  () =>
    new prom.Counter({
      name: 'framesift_server_errors_total',
      help: 'Bad requests and failures answered with an error, by error code.',
      labelNames: ['code'],
      registers: [metricsRegistry],
    }),
);

export const framesSent = metric(
  'framesift_server_frames_sent_total',
  () =>
    new prom.Counter({
      name: 'framesift_server_frames_sent_total',
      help: 'Frame messages sent on the frame port.',
      registers: [metricsRegistry],
    }),
);

export const sessionsByState = metric(
  'framesift_server_sessions',
  () =>
    new prom.Gauge({
      name: 'framesift_server_sessions',
      help: 'Sessions the server holds, by state (waiting, streaming, ended, stopped, expired, failed).',
      labelNames: ['state'],
      registers: [metricsRegistry],
    }),
);

export const sessionsExpired = metric(
  'framesift_server_sessions_expired_total',
  () =>
    new prom.Counter({
      name: 'framesift_server_sessions_expired_total',
      help: 'Sessions whose frame socket never connected within the session timeout.',
      registers: [metricsRegistry],
    }),
);

export const submissions = metric(
  'framesift_server_submissions_total',
  () =>
    new prom.Counter({
      name: 'framesift_server_submissions_total',
      help: 'Result submissions, by outcome (scored, invalid, unknown-session, not-owner, not-ready, too-many, not-persisted).',
      labelNames: ['outcome'],
      registers: [metricsRegistry],
    }),
);

export const videoFrames = metric(
  'framesift_video_frames_total',
  () =>
    new prom.Counter({
      name: 'framesift_video_frames_total',
      help: 'Frames decoded from video sources (files and network streams), by kind (file, stream).',
      labelNames: ['kind'],
      registers: [metricsRegistry],
    }),
);

export const videoErrors = metric(
  'framesift_video_errors_total',
  () =>
    new prom.Counter({
      name: 'framesift_video_errors_total',
      help: 'Video source failures, by reason (stall, failed, not-video, missing-ffmpeg).',
      labelNames: ['reason'],
      registers: [metricsRegistry],
    }),
);

export const videoReconnects = metric(
  'framesift_video_reconnects_total',
  () =>
    new prom.Counter({
      name: 'framesift_video_reconnects_total',
      help: 'Reconnections of network video streams after a stall or a drop.',
      registers: [metricsRegistry],
    }),
);
