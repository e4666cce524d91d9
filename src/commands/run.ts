import type { RunConfig } from '../common/config.js';
import { UserError } from '../common/errors.js';

export async function runCommand(_config: RunConfig): Promise<void> {
  throw new UserError('run: not built yet (issue 3)');
}
