// Starts the stream server in its own process (as `framesift serve` would run) on free ports, so a bench
// measures the client with the server competing for the same cores, as in real use.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** @param {{ resultsDir: string, source?: string }} options */
export async function startServerProcess({ resultsDir, source }) {
  const script = `
    import { startStreamServer } from ${JSON.stringify(path.join(here, '..', 'dist', 'stream', 'index.js'))};
    const s = await startStreamServer({ framesPort: 0, controlPort: 0, resultsDir: process.argv[1], source: process.argv[2] || undefined });
    process.stdout.write(JSON.stringify({ framesPort: s.framesPort, controlPort: s.controlPort }) + '\\n');
    process.on('SIGTERM', async () => { await s.close(); process.exit(0); });
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, resultsDir, source ?? ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  const ports = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(JSON.parse(d.toString())));
    child.once('exit', (code) => reject(new Error(`stream server exited with ${code}`)));
  });
  return {
    ...ports,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}
