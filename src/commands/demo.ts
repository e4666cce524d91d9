/**
 * `npm start`: the embedded default in one process — serve Fashion-MNIST on free ports and run the client
 * against it, so a newcomer sees frames flow, a results folder written and a scored submission.
 * Every run option still applies (flags or their environment twins); the demo only changes two defaults
 * so that it finishes in seconds: 2,000 frames at fps 0.
 */
import type { RunConfig } from '../common/config.js';
import { loggerFor } from '../common/logger.js';
import { startStreamServer } from '../stream/index.js';
import { runPipeline } from './run.js';
import { printPipelineResult } from './run/report.js';

const log = loggerFor('demo');

export const DEMO_COUNT = 2000;

export async function demoCommand(
  config: RunConfig,
  explicit: { count: boolean; fps: boolean },
): Promise<void> {
  const server = await startStreamServer({
    host: config.host,
    framesPort: 0,
    controlPort: 0,
    resultsDir: `${config.out}/server`,
  });
  log.info('demo server listening', { framesPort: server.framesPort, controlPort: server.controlPort });
  try {
    const result = await runPipeline({
      ...config,
      framesPort: server.framesPort,
      controlPort: server.controlPort,
      count: explicit.count ? config.count : DEMO_COUNT,
      fps: explicit.fps ? config.fps : 0,
    });
    printPipelineResult(result, config.json);
  } finally {
    await server.close();
  }
}
