// The fuzz target, in its own process so a crash is seen as an exit: the stream server (frames + control)
// and a run's HTTP port (the access guard, /metrics, the dedupe /api with a real deduper holding frames).
// argv[2] is a JSON object of options; prints one JSON line with the ports once listening.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const { startStreamServer } = await import(path.join(dist, 'stream', 'index.js'));
const { startHttpServer } = await import(path.join(dist, 'common', 'http.js'));
const { mountRunApi } = await import(path.join(dist, 'commands', 'run', 'api-routes.js'));
const { StreamDeduper } = await import(path.join(dist, 'dedupe', 'index.js'));
const { collectProcessMetrics } = await import(path.join(dist, 'common', 'metrics.js'));

const options = JSON.parse(process.argv[2] ?? '{}');
collectProcessMetrics();
const server = await startStreamServer({
  framesPort: 0,
  controlPort: 0,
  resultsDir: options.resultsDir,
  sessionTimeoutMs: options.sessionTimeoutMs ?? 2000,
  maxPayloadBytes: options.maxPayloadBytes ?? 64 * 1024 * 1024,
  ...(options.fashionMnistDir ? { fashionMnistDir: options.fashionMnistDir } : {}),
  ...(options.token ? { token: options.token } : {}),
});
const deduper = new StreamDeduper({
  method: 'phash',
  metric: 'cosine',
  threshold: 4,
  approximateAbove: 0,
  outDir: options.outDir,
  imageSaveQuality: 90,
  model: null,
  savesPerMinute: 10,
  maxSaveBytes: 2 * 1024 * 1024,
});
for (let seq = 0; seq < 4; seq++) {
  deduper.accept({
    streamId: 'fuzz',
    seq,
    feature: { kind: 'hash', hash: BigInt(seq) * 0xffffn },
    image: { width: 8, height: 8, channels: 1, encoding: 0, data: new Uint8Array(64).fill(seq * 60) },
  });
}
const http = await startHttpServer({ host: '127.0.0.1', port: 0 });
mountRunApi(http, () => deduper);
process.stdout.write(
  JSON.stringify({
    framesPort: server.framesPort,
    controlPort: server.controlPort,
    httpPort: http.port,
    pid: process.pid,
  }) + '\n',
);
process.on('message', (m) => {
  if (m === 'rss') process.send({ rss: process.memoryUsage().rss });
});
process.on('SIGTERM', async () => {
  await http.close();
  await server.close();
  process.exit(0);
});
