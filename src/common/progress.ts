/**
 * Progress bars for long work (dedupe, downloads, benchmarks): drawn on stderr when it is a terminal, and
 * never in a pipe, a log file or CI, where redrawn lines would only be noise.
 */
import cliProgress from 'cli-progress';

/** True when `stream` is an interactive terminal and not a CI job (CI set to anything but false/0). */
export function showsProgress(stream: NodeJS.WriteStream = process.stderr): boolean {
  const ci = process.env.CI;
  return Boolean(stream.isTTY) && (ci === undefined || ci === '' || ci === 'false' || ci === '0');
}

/**
 * A started bar over `total` units, or undefined when progress is not shown (callers use `bar?.update`).
 * `format` is cli-progress's, e.g. 'dedupe [{bar}] {value}/{total} files | {eta_formatted} left'.
 */
export function startProgress(
  format: string,
  total: number,
  stream: NodeJS.WriteStream = process.stderr,
): cliProgress.SingleBar | undefined {
  if (total <= 0 || !showsProgress(stream)) return undefined;
  const bar = new cliProgress.SingleBar({ stream, format }, cliProgress.Presets.shades_classic);
  bar.start(total, 0);
  return bar;
}
