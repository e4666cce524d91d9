/**
 * The bus stage: framesift over NATS JetStream, for more cameras than one machine's cores. Publishers put
 * camera frames on `frames.<camera>` (the server maps each camera to a partition); one worker process
 * owns each partition at a time (a lease) and decides its frames with the same analysis as `run`;
 * a collector gathers the outcomes per camera session and reconciles them with what was published.
 */
export { connectBus, ensureStreams } from './connection.js';
export { FramePublisher } from './publisher.js';
export { PartitionWorker, type BusFrame, type PartitionHandler } from './partition-worker.js';
export { ResultCollector, type CollectedSession } from './collector.js';
export {
  base64ToBytes,
  base64ToFloat32,
  bytesToBase64,
  float32ToBase64,
  type DiscardReason,
  type EndMessage,
  type FrameOutcome,
} from './messages.js';
export { natsServerConfig } from './subjects.js';
