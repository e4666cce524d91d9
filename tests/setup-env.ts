/**
 * Test environment defaults, so that `npm test` works in a clone that sits beside the shared data and
 * models (as CI's does) without exporting anything. Explicit environment variables always win.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(root, '..', 'shared');

function defaultTo(name: string, value: string): void {
  if (!process.env[name] && existsSync(value)) process.env[name] = value;
}

defaultTo('FASHION_MNIST_DIR', '/usr/share/datasets/fashion-mnist');
defaultTo('MODELS_DIR', path.join(shared, 'models'));
defaultTo('FRAMESIFT_TESTDATA', path.join(shared, 'data'));
process.env.LOG_LEVEL ??= 'warn';
