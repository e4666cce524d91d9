/**
 * The one prom-client registry of a framesift process. Stages register their own `framesift_*` metrics on
 * it (each stage's metrics live beside the code that updates them); /metrics serves it.
 */
import client from 'prom-client';

export const metricsRegistry = new client.Registry();

let defaultsCollected = false;

/** Adds Node's default process metrics (CPU, memory, event-loop lag) once per process. */
export function collectProcessMetrics(): void {
  if (defaultsCollected) return;
  defaultsCollected = true;
  client.collectDefaultMetrics({ register: metricsRegistry, prefix: 'framesift_' });
}

/**
 * Returns the metric `name` if already registered (tests start several servers in one process),
 * else creates it with `make`.
 */
export function metric<M extends client.Metric>(name: string, make: () => M): M {
  return (metricsRegistry.getSingleMetric(name) as M | undefined) ?? make();
}

export { client as prom };
