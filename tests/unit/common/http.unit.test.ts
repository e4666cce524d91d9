import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/common/errors.js';
import { sendJson, startHttpServer, type HttpServer } from '../../../src/common/http.js';

let server: HttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('http server', () => {
  it('serves /metrics in the Prometheus text format on an ephemeral port', async () => {
    server = await startHttpServer({ port: 0 });
    expect(server.port).toBeGreaterThan(0);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  });

  it('mounts extra routes; unknown paths are 404, wrong methods 405, failing handlers a one-line error', async () => {
    server = await startHttpServer({ port: 0 });
    server.route('GET', '/api/status', (_req, res) => sendJson(res, 200, { ok: true }));
    server.route('POST', '/api/save', () => {
      throw new UserError('save name "../x": expected no path separators');
    });
    server.route('GET', '/api/boom', async () => {
      throw new Error('internal failure');
    });
    expect(await (await fetch(`${server.url}/api/status`)).json()).toEqual({ ok: true });
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/\/nope: no such endpoint/);
    const wrong = await fetch(`${server.url}/api/status`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    const bad = await fetch(`${server.url}/api/save`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/expected no path separators/);
    expect((await fetch(`${server.url}/api/boom`)).status).toBe(500);
  });

  it('a port in use is a one-line error naming the option', async () => {
    server = await startHttpServer({ port: 0 });
    await expect(startHttpServer({ port: server.port })).rejects.toThrow(/EADDRINUSE.*--metrics-port/);
  });
});
