/**
 * The processing stage: the client end of the wire. The client session (control connection, frame
 * socket, how the session ended), ingest (frame listener → shared frame ring → micro-batches), and the
 * client's Prometheus metrics. Frame counts live in the session ledger (src/common/session).
 */
export { ClientSession, type SessionFinish, type StartRequest } from './client-session.js';
export { ControlClient, type ControlClientOptions } from './control-client.js';
export { createIngest, type Ingest, type IngestOptions } from './ingest.js';
export { FrameListener, type FrameListenerOptions, type RingPolicy } from './frame-listener.js';
export { MicroBatcher, type Batch, type MicroBatcherOptions } from './batcher.js';
export * as pipelineMetrics from './metrics.js';
