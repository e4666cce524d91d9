import type { DatasetConfig } from '../common/config.js';
import { UserError } from '../common/errors.js';

export async function datasetCreateCommand(_config: DatasetConfig): Promise<void> {
  throw new UserError('dataset create: not built yet (issue 2)');
}
