/** Loads a model in this worker and runs one all-zero frame through it, so a bad model fails early. */
import ort from 'onnxruntime-node';
import type { WarmupResult, WarmupTask, WorkerContext } from '../tasks.js';

export async function handle(task: WarmupTask, context: WorkerContext): Promise<WarmupResult> {
  const model = await context.model(task.model);
  const { channels, height, width } = model.input;
  const fetches = [model.outputs.logits, model.outputs.embedding].filter((o): o is string => !!o);
  const input = new ort.Tensor('float32', new Float32Array(channels * height * width), [
    1,
    channels,
    height,
    width,
  ]);
  const outputs = await model.session.run({ [model.inputName]: input }, fetches);
  for (const value of Object.values(outputs)) value.dispose();
  return {
    threadId: context.threadId,
    modelPath: model.path,
    sha256: model.sha256,
    input: model.input,
    outputs: model.outputs,
  };
}
