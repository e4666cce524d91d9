/** Shared by the pipeline's tests: the model they run. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelRef } from '../../../src/analysis/index.js';
import type { PipelineConfig } from '../../../src/commands/run.js';
import { PROJECT_ROOT } from '../../../src/common/paths.js';
import { startStreamServer, type StreamServer } from '../../../src/stream/index.js';
import { MODELS_DIR } from '../../test-data.js';

/** The project's Fashion-MNIST CNN (models/manifests/fashion-mnist-cnn.json), the classifier of `run`. */
export function testModel(): { ref: ModelRef; path: string; name: string } {
  return {
    ref: 'fashion-mnist-cnn',
    path: path.join(PROJECT_ROOT, 'models', 'fashion-mnist-cnn.onnx'),
    name: 'fashion-mnist-cnn',
  };
}

/** A real stream server on ephemeral ports and the `run` options that reach it, in a fresh temp folder. */
export interface ServerFixture {
  server: StreamServer;
  dir: string;
  /** Connects to `server`, writes under `dir`, scrapes on a free port, 1 worker, fps 0. */
  base: Partial<PipelineConfig>;
  close(): Promise<void>;
}

export async function startServerFixture(
  name: string,
  overrides: Partial<PipelineConfig> = {},
): Promise<ServerFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), `framesift-${name}-`));
  const server = await startStreamServer({
    framesPort: 0,
    controlPort: 0,
    resultsDir: path.join(dir, 'server'),
  });
  const base: Partial<PipelineConfig> = {
    host: '127.0.0.1',
    framesPort: server.framesPort,
    controlPort: server.controlPort,
    metricsPort: 0,
    modelsDir: MODELS_DIR,
    out: path.join(dir, 'out'),
    workers: 1,
    fps: 0,
    ...overrides,
  };
  return {
    server,
    dir,
    base,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
