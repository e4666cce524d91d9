/**
 * `framesift conformance --control ws://HOST:PORT`: runs the documented protocol behaviours against a
 * server (framesift's own or a third party's), prints a pass/fail table (or JSON with --json) and exits 1
 * when a check fails. The reference frames are the Fashion-MNIST test split the project ships.
 */
import type { ConformanceConfig } from '../common/config.js';
import { ConfigError } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { CHECK_IDS, formatReport, runConformance } from '../conformance/index.js';
import { fashionMnistDir, loadFashionMnist } from '../stream/index.js';

const log = loggerFor('conformance');

export async function conformanceCommand(config: ConformanceConfig): Promise<void> {
  const unknown = config.checks?.filter((id) => !CHECK_IDS.includes(id)) ?? [];
  if (unknown.length > 0) {
    throw new ConfigError(
      `--checks: unknown check ${unknown.join(', ')}: expected some of ${CHECK_IDS.join(', ')}`,
    );
  }
  const set = await loadFashionMnist('test', fashionMnistDir(config.fashionMnistDir));
  // resolveConfig fills every option that has a default (these three do).
  const report = await runConformance({
    control: config.control!,
    reference: { name: 'fashion-mnist-test', ...set },
    sessionTimeoutMs: config.sessionTimeoutMs!,
    maxPayloadBytes: config.maxPayloadBytes!,
    only: config.checks,
  });
  process.stdout.write((config.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
  log.info('conformance finished', {
    control: config.control,
    passed: report.passed,
    failed: report.failed,
    skipped: report.skipped,
  });
  if (!report.ok) process.exitCode = 1;
}
