import type { DedupeConfig } from '../common/config.js';
import { UserError } from '../common/errors.js';

export async function dedupeCommand(_dir: string, _config: DedupeConfig): Promise<void> {
  throw new UserError('dedupe: not built yet (issue 5)');
}
