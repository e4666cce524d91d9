/**
 * The processing stage: the client end of the wire. A control client, a frame listener that validates
 * every header and copies frames into the shared frame ring, micro-batching towards the workers, the
 * per-session accounting of every frame, and the HTTP server of /metrics and the /api routes.
 */
export { ControlClient, type ControlClientOptions } from './control-client.js';
export { FrameListener, type FrameListenerOptions, type RingPolicy } from './frame-listener.js';
export { MicroBatcher, type Batch, type MicroBatcherOptions } from './batcher.js';
export { SessionAccounting, type SessionCounts, type Reconciliation } from './accounting.js';
export {
  startHttpServer,
  sendJson,
  type HttpServer,
  type HttpServerOptions,
  type RouteHandler,
} from './http-server.js';
export * as pipelineMetrics from './metrics.js';
