/** Worker-thread entry of the submission checker: one message in (the text), one check out. */
import { parentPort } from 'node:worker_threads';
import { checkSubmission } from './submission-check.js';

parentPort!.on('message', ({ id, text }: { id: number; text: string }) => {
  let result;
  try {
    result = checkSubmission(text);
  } catch (err) {
    result = { ok: false, code: 'internal', message: `submit: check failed (${(err as Error).message})` };
  }
  parentPort!.postMessage({ id, result });
});
