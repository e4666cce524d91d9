/**
 * A bounded, seeded fuzz of all three ports (thousands of messages in a few seconds): the target (stream
 * server + a run's HTTP port, bench/fuzz/target.js) runs in its own process so a crash shows as an exit.
 * Every answer must hold its invariants (bench/fuzz/driver.js); `npm run bench -- fuzz` runs the same
 * with ≥ 100,000 messages. A failure prints its seed: FUZZ_SEED=<seed> reruns exactly that sequence.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFuzz, startTarget, type FuzzTarget } from '../../../bench/fuzz/driver.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
let target: FuzzTarget;
let dirs: string[];

beforeAll(async () => {
  dirs = await Promise.all(
    ['results', 'out'].map((d) => mkdtemp(path.join(tmpdir(), `framesift-fuzz-${d}-`))),
  );
  target = await startTarget({
    resultsDir: dirs[0]!,
    outDir: dirs[1]!,
    fashionMnistDir: path.resolve('data/fashion-mnist'),
  });
});
afterAll(async () => {
  await target?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe(`fuzz (seed ${SEED})`, () => {
  it('thousands of hostile messages on the control, frame and HTTP ports: no crash, every answer well-formed', async () => {
    const stats = await runFuzz(target, {
      seed: SEED,
      controlMessages: 2000,
      frameAttempts: 150,
      httpRequests: 600,
      forbiddenStrings: dirs,
    });
    expect([...new Set(stats.violations)].slice(0, 10), `seed ${SEED}`).toEqual([]);
    expect(target.state.exited).toBe(false);
    expect(stats.controlSent).toBe(2000);
    // The flood reached every kind of handler, not only the parser.
    for (const code of ['bad-json', 'bad-message', 'unknown-type', 'unknown-session', 'binary-on-control'])
      expect(stats.controlErrors[code], code).toBeGreaterThan(0);
    expect(stats.controlReplies.session).toBeGreaterThan(0);
    expect(stats.httpStatus['403']).toBeGreaterThan(0);
    expect(stats.httpStatus['415']).toBeGreaterThan(0);
    expect(stats.frameErrors['unknown-session']).toBeGreaterThan(0);
    // The target still serves a well-behaved client afterwards (the driver's last status round trip).
    expect(stats.controlReplies.status).toBeGreaterThan(0);
  }, 180_000); // a few seconds on a quiet machine; minutes when it is shared
});
