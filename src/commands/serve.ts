import type { ServeConfig } from '../common/config.js';
import { UserError } from '../common/errors.js';

export async function serveCommand(_config: ServeConfig): Promise<void> {
  throw new UserError('serve: not built yet (issue 2)');
}
