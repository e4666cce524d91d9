// Benchmark runner: `npm run bench` runs every bench/*.bench.js in sequence; `npm run bench -- model e2e`
// runs only the named ones. Each module exports `async function run(): Promise<{ name, rows, notes? }>`
// (rows: flat objects of the same keys). Prints one table per bench and writes bench/results/<name>.json.
// Imports the compiled project from dist/ (the npm script builds first).
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startProgress } from '../dist/common/progress.js';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const resultsDir = path.join(benchDir, 'results');

function formatCell(value) {
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value.toLocaleString('en-US');
    return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(value >= 10 ? 1 : 3);
  }
  return value === undefined || value === null ? '' : String(value);
}

const round1 = (x) => Math.round(x * 10) / 10;

function table(rows) {
  if (rows.length === 0) return '(no rows)';
  const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = [keys, ...rows.map((row) => keys.map((k) => formatCell(row[k])))];
  const widths = keys.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  const line = (values) =>
    values.map((v, i) => (i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join(
    '\n',
  );
}

async function main() {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const available = (await readdir(benchDir))
    .filter((f) => f.endsWith('.bench.js'))
    .map((f) => f.slice(0, -'.bench.js'.length))
    .sort();
  const unknown = wanted.filter((w) => !available.includes(w));
  if (unknown.length > 0) {
    console.error(`bench: unknown benchmark ${unknown.join(', ')}; expected one of ${available.join(', ')}`);
    process.exit(2);
  }
  const selected = wanted.length > 0 ? wanted : available;
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  await mkdir(resultsDir, { recursive: true });
  let failed = 0;
  for (const [index, file] of selected.entries()) {
    const started = Date.now();
    // Every figure depends on what else ran on the cores: each result records the load it met.
    const loadAtStart = os.loadavg();
    console.log(`\n## ${file}`);
    // On a terminal: which bench is running and for how long (quiet in pipes and CI).
    const bar = startProgress(`bench ${index + 1}/${selected.length} ${file} | {duration_formatted}`, 1);
    try {
      const mod = await import(pathToFileURL(path.join(benchDir, `${file}.bench.js`)).href);
      const result = await mod.run().finally(() => bar?.stop());
      console.log(table(result.rows));
      for (const note of result.notes ?? []) console.log(`note: ${note}`);
      const load = { start: loadAtStart.map(round1), end: os.loadavg().map(round1) };
      console.log(
        `load average (1/5/15 min): ${load.start.join(' / ')} at the start, ${load.end.join(' / ')} at the end`,
      );
      const out = path.join(resultsDir, `${result.name}.json`);
      const doc = {
        ...result,
        date: new Date().toISOString(),
        seconds: (Date.now() - started) / 1000,
        machine,
        load,
      };
      await writeFile(out, JSON.stringify(doc, null, 2) + '\n');
      console.log(`(${doc.seconds.toFixed(1)} s; written to ${path.relative(process.cwd(), out)})`);
    } catch (err) {
      failed++;
      console.error(`bench ${file} failed: ${err instanceof Error ? err.stack : String(err)}`);
    }
  }
  process.exit(failed > 0 ? 1 : 0);
}

await main();
