/**
 * `framesift neighbours [--k 100] [--db PATH]`: precomputes and stores every indexed image's k nearest
 * neighbours through the ANN index; a later run only recomputes what changed since.
 */
import cliProgress from 'cli-progress';
import type { NeighboursConfig } from '../common/config.js';
import { humanLogger } from '../common/logger.js';
import {
  AnnIndex,
  DEFAULT_DB,
  computeNeighbours,
  defaultAnnFile,
  openStore,
  type NeighboursReport,
} from '../search/index.js';

export async function neighboursInto(
  config: { db: string; annFile?: string; neighboursK: number },
  quiet = false,
): Promise<NeighboursReport> {
  const store = await openStore(config.db);
  const bar =
    !quiet && process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: process.stderr,
            format: 'neighbours [{bar}] {value}/{total} images | {eta_formatted} left',
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  try {
    const ann = await AnnIndex.open(store, config.annFile ?? defaultAnnFile(config.db));
    let started = false;
    return await computeNeighbours(store, ann, {
      k: config.neighboursK,
      onProgress: (done, total) => {
        if (!bar) return;
        if (!started) bar.start(total, 0);
        started = true;
        bar.update(done);
      },
    });
  } finally {
    bar?.stop();
    await store.close();
  }
}

export async function neighboursCommand(config: NeighboursConfig): Promise<void> {
  const report = await neighboursInto({
    db: config.db ?? DEFAULT_DB,
    annFile: config.annFile,
    neighboursK: config.neighboursK ?? 100,
  });
  if (config.json) {
    humanLogger.info(JSON.stringify(report, null, 1));
    return;
  }
  humanLogger.info(
    `neighbours: k=${report.k}: ${report.computed} lists computed${report.full ? ' (all)' : ''}, ` +
      `${report.updated} updated with new images, ${report.total} images (${report.seconds.toFixed(1)} s)`,
  );
}
