/**
 * The processing stage: the client end of the wire. The client session (control connection, frame
 * socket, how the session ended), ingest (frame listener → shared frame ring → micro-batches), and the
 * client's Prometheus metrics. Frame counts live in the session ledger (src/common/session).
 */
export { ClientSession, type SessionFinish, type StartRequest } from './client-session.js';
export { ControlClient } from './control-client.js';
export { createIngest, type Ingest } from './ingest.js';
export { type Batch } from './batcher.js';
export * as pipelineMetrics from './metrics.js';
