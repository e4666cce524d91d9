/**
 * Batch dedupe on an awkward folder: duplicates moved into a subfolder of the input, an unreadable
 * subfolder, links (to an image already listed, to one outside, dangling, a folder loop), a name that is
 * not UTF-8. Every image is processed or listed with its reason; output problems fail at start-up with
 * exit 2 and one line. Runs the real CLI (phash, real photos).
 */
import { chmod, copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { removeDir, tempDir } from '../../helpers/temp.js';

const FOREST = path.resolve('tests/fixtures/photos/imagehash/forest/forest-high.jpg');
const OFFICE = path.resolve('tests/fixtures/photos/imagehash/office/tumblr_ndyfdoR6Wp1tubinno1_1280.jpg');
const OFFICE2 = path.resolve('tests/fixtures/photos/imagehash/office/tumblr_ndyfnr7lk21tubinno1_1280.jpg');
const ORIENT = path.resolve('tests/fixtures/photos/caltech-resize/2242aee2-4eaa-4079-8542-077592c1a1e1.jpg');
// Running as root reads any folder: the CLI then runs as nobody, so an unreadable folder is unreadable.
const AS_NOBODY = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

let work: string;
beforeEach(async () => {
  work = await tempDir('batch-inputs');
  await chmod(work, 0o777);
});
afterEach(async () => {
  await chmod(path.join(work, 'in', 'locked'), 0o755).catch(() => undefined);
  await removeDir(work);
});

const cli = (args: string[]) => runCli(args, { user: AS_NOBODY, env: { LOG_LEVEL: 'error' } });

interface Report {
  groups: { kept: string; duplicates: { file: string }[] }[];
  corrupt: string[];
  skipped: { file: string; reason: string }[];
  counts: { files: number; kept: number; duplicates: number; skipped: number };
}

async function awkwardFolder(): Promise<string> {
  const input = path.join(work, 'in');
  await mkdir(path.join(input, 'dupes'), { recursive: true });
  await mkdir(path.join(input, 'locked'));
  await mkdir(path.join(input, 'sub'));
  await copyFile(FOREST, path.join(input, 'a.jpg'));
  await copyFile(FOREST, path.join(input, 'b.jpg')); // a duplicate of a.jpg
  await copyFile(OFFICE, path.join(input, 'c.jpg'));
  await copyFile(OFFICE2, path.join(input, 'dupes', 'earlier-duplicate.jpg'));
  await copyFile(ORIENT, path.join(input, 'locked', 'hidden.jpg'));
  await symlink(path.join(input, 'a.jpg'), path.join(input, 'link-to-a.jpg'));
  await symlink(ORIENT, path.join(input, 'outside.jpg'));
  await symlink(path.join(input, 'missing.jpg'), path.join(input, 'dangling.jpg'));
  await symlink(input, path.join(input, 'sub', 'loop'));
  await writeFile(Buffer.from(path.join(input, 'bad-\xff-name.jpg'), 'latin1'), await readFile(OFFICE2));
  for (const dir of [input, path.join(input, 'dupes'), path.join(input, 'sub')]) await chmod(dir, 0o777);
  await chmod(path.join(input, 'locked'), 0o000);
  return input;
}

describe('batch dedupe lists every input it does not take, with the reason', () => {
  it('processes or lists every image; duplicates are moved into the subfolder', async () => {
    const input = await awkwardFolder();
    const out = path.join(work, 'report');
    const run = await cli([
      'dedupe',
      input,
      '--method',
      'phash',
      '--threshold',
      '2',
      '--workers',
      '1',
      '--out',
      out,
      '--move-duplicates-to',
      path.join(input, 'dupes'),
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(await readFile(path.join(out, 'report.json'), 'utf8')) as Report;
    const taken = report.groups.flatMap((g) => [g.kept, ...g.duplicates.map((d) => d.file)]).sort();
    expect(taken).toEqual(['a.jpg', 'b.jpg', 'c.jpg', 'outside.jpg']);
    expect(report.groups.find((g) => g.kept === 'a.jpg')!.duplicates.map((d) => d.file)).toEqual(['b.jpg']);
    const reasons = Object.fromEntries(report.skipped.map((s) => [s.file, s.reason]));
    expect(reasons).toEqual({
      'bad-\\xff-name.jpg': expect.stringMatching(/not valid UTF-8/),
      'dangling.jpg': 'dangling link',
      'dupes/earlier-duplicate.jpg': expect.stringMatching(/inside the --move-duplicates-to folder/),
      'link-to-a.jpg': expect.stringMatching(/link to a\.jpg, already listed/),
      'locked/': expect.stringMatching(/folder cannot be read \(EACCES\)/),
      'sub/loop/': expect.stringMatching(/link to a folder already listed \(the input folder\)/),
    });
    expect(report.counts).toMatchObject({ files: 4, kept: 3, duplicates: 1, skipped: 6 });
    const md = await readFile(path.join(out, 'report.md'), 'utf8');
    expect(md).toContain('## Inputs not taken');
    expect(md).toContain('dangling link');
    expect(run.stdout).toMatch(/6 not taken/);
    // The duplicate was moved next to the earlier one, nothing else touched.
    await expect(readFile(path.join(input, 'dupes', 'b.jpg'))).resolves.toEqual(await readFile(FOREST));
    await expect(readFile(path.join(input, 'a.jpg'))).resolves.toBeDefined();
  });

  it.each([
    [
      '--out is an existing file',
      (file: string) => ['--out', file],
      /--out .*: expected a folder, found a file/,
    ],
    [
      '--out is under a file',
      (file: string) => ['--out', path.join(file, 'report')],
      /--out .*: expected a writable folder \(ENOTDIR\)/,
    ],
    [
      '--move-duplicates-to is a file',
      (file: string) => ['--move-duplicates-to', file],
      /--move-duplicates-to .*: expected a folder, found a file/,
    ],
    [
      '--out is the input folder',
      () => ['--out', path.join(work, 'in')],
      /expected a folder other than the input/,
    ],
  ])('%s: exit 2 at start-up with one line', async (_what, args, message) => {
    await mkdir(path.join(work, 'in'), { mode: 0o777 });
    await copyFile(FOREST, path.join(work, 'in', 'a.jpg'));
    const file = path.join(work, 'a-file');
    await writeFile(file, 'not a folder');
    const run = await cli([
      'dedupe',
      path.join(work, 'in'),
      '--method',
      'phash',
      '--out',
      path.join(work, 'r'),
      ...args(file),
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
