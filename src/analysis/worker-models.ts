/**
 * Opening models inside a worker: one ONNX Runtime session per worker per model, with the intra-op
 * thread count the pool chose (workers × intra-op threads never exceeds the cores).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import { UserError, errorMessage } from '../common/errors.js';
import type { ModelRef, WorkerModel } from './tasks.js';

export function modelKey(ref: ModelRef): string {
  return typeof ref === 'string' ? `manifest:${ref}` : `file:${ref.path}`;
}

export function sessionOptions(intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    intraOpNumThreads: intraOpThreads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  };
}

export async function openWorkerModel(
  ref: ModelRef,
  { modelsDir, intraOpThreads }: { modelsDir: string; intraOpThreads: number },
): Promise<WorkerModel> {
  if (typeof ref === 'string') {
    const { loadModel } = await import('./models.js');
    const loaded = await loadModel(ref, { modelsDir, intraOpThreads });
    const { manifest } = loaded;
    return {
      session: loaded.session,
      path: loaded.path,
      sha256: loaded.sha256,
      inputName: manifest.input.name,
      input: {
        channels: manifest.input.channels,
        height: manifest.input.height,
        width: manifest.input.width,
      },
      outputs: { ...manifest.outputs },
      preprocess: manifest.preprocess,
    };
  }
  let session: ort.InferenceSession;
  let sha256: string;
  try {
    // An explicit file has no manifest to check against: its sha256 is reported, not verified.
    const bytes = await readFile(ref.path);
    sha256 = createHash('sha256').update(bytes).digest('hex');
    session = await ort.InferenceSession.create(bytes, sessionOptions(intraOpThreads));
  } catch (err) {
    throw new UserError(`model ${ref.path}: cannot load (${errorMessage(err)}); expected an ONNX model file`);
  }
  return {
    session,
    path: ref.path,
    sha256,
    inputName: ref.input.name ?? session.inputNames[0]!,
    input: { channels: ref.input.channels, height: ref.input.height, width: ref.input.width },
    outputs: ref.outputs,
  };
}
