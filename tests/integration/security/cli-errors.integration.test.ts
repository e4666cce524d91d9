/**
 * Error exits of the real CLI: one line on stderr naming the input, no JSON copy of it, no stack; bad
 * configuration (an empty or unsafe --save-name, a bad --allowed-origins, a short --token) is exit 2
 * before anything connects.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';

/** The CLI at the log level a user sees by default. */
const cli = (args: string[]) => runCli(args, { env: { LOG_LEVEL: 'info' } });

describe('error exits print one line', () => {
  it.each([
    ['an empty --save-name', ['run', '--save-name', ''], /--save-name="": expected an order number/],
    ['a --save-name with a bidi override', ['run', '--save-name', 'a\u202Eb'], /"a\\u\{202e\}b"/],
    ['a --save-name of 300 bytes', ['run', '--save-name', '€'.repeat(100)], /200 UTF-8 bytes/],
    ['a bad --allowed-origins', ['serve', '--allowed-origins', 'http://a/b'], /--allowed-origins=.*origins/],
    ['a short --token', ['serve', '--token', 'abc'], /--token=.*16-4096/],
  ])('%s: exit 2, one line', async (_what, args, message) => {
    const run = await cli([...args, '--control-port', '1', '--frames-port', '1']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(message)]);
    expect(run.stderr).not.toMatch(/[\u202E]/);
  });

  it('a run that cannot connect: exit 1, the one-liner, and no JSON duplicate of it', async () => {
    const run = await cli(['run', '--control-port', '1', '--metrics-port', '0', '--count', '1']);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    const oneLiners = lines.filter((l) => l.startsWith('framesift: '));
    expect(oneLiners).toHaveLength(1);
    const text = oneLiners[0]!.slice('framesift: '.length);
    // Other log lines (metrics served, ...) may be there; none repeats the error.
    expect(lines.filter((l) => l.includes(text.slice(0, 40)))).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
