/**
 * Batch folder dedupe, the order-dependent half: listing a folder in name order, grouping files by a
 * regular expression, and taking the keep-or-drop decisions in file order as features arrive (in any
 * order) from the workers. The command feeds it; the report is built from what it records.
 */
import type { Dirent } from 'node:fs';
import { readFileSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import { printable } from '../common/text.js';
import type { Metric } from './distance.js';
import type { FrameCheck, KeypointCheck, KeypointCounts } from './keypoints.js';
import type { Feature, Method } from './methods.js';
import {
  InMemoryKeyedStore,
  type KeyedUniqueStore,
  type KeypointMatch,
  type UniqueStoreOptions,
} from './store.js';

/** Extensions taken as images (any case); other files in the folder are not looked at. */
export const IMAGE_EXTENSIONS = [
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.gif',
  '.tif',
  '.tiff',
  '.avif',
  '.bmp',
  '.svg',
  '.ppm',
  '.pgm',
  '.pbm',
  '.pnm',
];

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());
}

/** An input that is not deduplicated, and why (listed in the report, never dropped silently). */
export interface SkippedInput {
  /** Path relative to the input folder, `/`-separated (a folder ends with `/`); unsafe characters escaped. */
  file: string;
  reason: string;
}

export interface InputListing {
  /** Image files to dedupe, relative to the input folder, `/`-separated, sorted by code point. */
  files: string[];
  skipped: SkippedInput[];
}

/** A folder not to enter (an output folder inside the input) and the name it is reported by. */
export interface SkippedFolder {
  path: string;
  what: string;
}

/** A name that is not valid UTF-8, shown with its bytes: printable ASCII as is, the rest as `\xHH`. */
function showBytes(name: Buffer): string {
  let out = '';
  for (const byte of name)
    out +=
      byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
  return out;
}

const errorCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/**
 * Image files under `dir`, recursively, and every image-like input that is not taken with its reason:
 *
 * - a subfolder that cannot be read, or a name that is not valid UTF-8 (the workers could not open it);
 * - a symbolic link is followed once: to a file, it is taken unless the same file is already taken (by its
 *   real path or another link); to a folder, the folder is entered unless it was already entered (a loop
 *   or an alias); a dangling link or a link loop is listed;
 * - files inside the `skip` folders (output folders that sit inside the input) are listed, not taken.
 */
export async function listInputImages(
  dir: string,
  skip: SkippedFolder[] = [],
  /** Which file names are inputs (the index also takes videos). */
  accept: (name: string) => boolean = isImageFile,
): Promise<InputListing> {
  const root = path.resolve(dir);
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (err) {
    throw new UserError(`dedupe: ${dir}: expected a readable folder of images (${errorCode(err)})`);
  }
  const skipped = new Map(skip.map((s) => [path.resolve(s.path), s.what]));
  const files: string[] = [];
  const out: SkippedInput[] = [];
  /** Real path of each entered folder → its relative path (loop and alias detection). */
  const entered = new Map<string, string>();
  /** Files reached through a link: relative path → real path. */
  const linked: { rel: string; real: string }[] = [];
  const relOf = (full: string) => printable(path.relative(root, full).split(path.sep).join('/'));

  const walk = async (folder: string, real: string, outputFolder?: string): Promise<void> => {
    entered.set(real, relOf(folder));
    let entries: Dirent<Buffer>[];
    try {
      entries = await readdir(folder, { withFileTypes: true, encoding: 'buffer' });
    } catch (err) {
      if (folder === root) {
        throw new UserError(`dedupe: ${dir}: expected a readable folder of images (${errorCode(err)})`);
      }
      out.push({ file: `${relOf(folder)}/`, reason: `folder cannot be read (${errorCode(err)})` });
      return;
    }
    for (const entry of entries) {
      const name = entry.name.toString('utf8');
      const full = path.join(folder, name);
      const validName = Buffer.from(name, 'utf8').equals(entry.name);
      if (entry.isDirectory() || (entry.isSymbolicLink() && !accept(name))) {
        if (!validName) {
          out.push({
            file: `${relOf(path.join(folder, showBytes(entry.name)))}/`,
            reason: 'folder name is not valid UTF-8: not entered',
          });
          continue;
        }
        const outputOf = outputFolder ?? skipped.get(full);
        if (entry.isSymbolicLink()) folderLinks.push({ full, outputOf });
        else await walk(full, path.join(real, name), outputOf);
      } else if (accept(name)) {
        const rel = relOf(full);
        if (!validName) {
          out.push({
            file: relOf(path.join(folder, showBytes(entry.name))),
            reason: 'name is not valid UTF-8 (rename it to include it)',
          });
        } else if (outputFolder !== undefined) {
          out.push({ file: rel, reason: `inside the ${outputFolder} folder: not an input` });
        } else if (entry.isFile()) {
          files.push(rel);
        } else if (entry.isSymbolicLink()) {
          const target = await realpath(full).catch((err: unknown) => errorCode(err));
          if (!path.isAbsolute(target)) {
            out.push({
              file: rel,
              reason: target === 'ENOENT' ? 'dangling link' : `link cannot be followed (${target})`,
            });
          } else if (
            !(await stat(target).then(
              (st) => st.isFile(),
              () => false,
            ))
          ) {
            out.push({ file: rel, reason: 'link to something that is not a file' });
          } else {
            linked.push({ rel, real: target });
          }
        } else {
          out.push({ file: rel, reason: 'not a regular file' });
        }
      }
    }
  };
  /** Links to folders, followed after the real folders are walked (a folder is listed by its own path). */
  const folderLinks: { full: string; outputOf?: string }[] = [];
  const followFolderLink = async ({ full, outputOf }: { full: string; outputOf?: string }) => {
    const target = await stat(full).then(
      (st) => (st.isDirectory() ? realpath(full) : undefined),
      (err: unknown) => ({ code: errorCode(err) }),
    );
    if (target === undefined) return; // a link to a non-image file: not an input
    if (typeof target === 'object') {
      // A dangling link without an image name is not an input; a loop or a denied one is listed.
      if (target.code !== 'ENOENT')
        out.push({ file: `${relOf(full)}/`, reason: `link cannot be followed (${target.code})` });
      return;
    }
    const first = entered.get(target);
    if (first !== undefined) {
      out.push({
        file: `${relOf(full)}/`,
        reason: `link to a folder already listed (${first === '' ? 'the input folder' : `${first}/`}): not entered again`,
      });
      return;
    }
    await walk(full, target, outputOf);
  };
  await walk(root, rootReal, skipped.get(root));
  while (folderLinks.length > 0) await followFolderLink(folderLinks.shift()!);

  // A linked file is taken once: not when its target is itself listed, nor twice through two links.
  const direct = new Set(files);
  const byReal = new Map<string, string>();
  for (const link of linked.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))) {
    const inside = path.relative(rootReal, link.real);
    const targetRel =
      inside.startsWith('..') || path.isAbsolute(inside) ? undefined : inside.split(path.sep).join('/');
    const same =
      (targetRel !== undefined && direct.has(targetRel) ? targetRel : undefined) ?? byReal.get(link.real);
    if (same !== undefined) {
      out.push({ file: link.rel, reason: `link to ${same}, already listed: taken once` });
    } else {
      byReal.set(link.real, link.rel);
      files.push(link.rel);
    }
  }
  const order = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  files.sort(order);
  out.sort((a, b) => order(a.file, b.file));
  return { files, skipped: out };
}

/**
 * Image files under `dir`, recursively, as paths relative to `dir` with `/` separators, sorted by code
 * point (name order). Folders in `skip` (absolute paths, e.g. the output folder) are not taken.
 */
export async function listImageFiles(
  dir: string,
  skip: string[] = [],
  accept: (name: string) => boolean = isImageFile,
): Promise<string[]> {
  return (
    await listInputImages(
      dir,
      skip.map((p) => ({ path: p, what: 'output' })),
      accept,
    )
  ).files;
}

/** The group key of a file: the first capture group of `--group-by` (files that do not match share ''). */
export function groupKeyFunction(pattern: string | undefined): (file: string) => string {
  if (!pattern) return () => '';
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (err) {
    throw new UserError(
      `--group-by ${JSON.stringify(pattern)}: expected a regular expression (${(err as Error).message})`,
    );
  }
  return (file) => {
    const match = regex.exec(file);
    return match ? (match[1] ?? match[0]) : '';
  };
}

export interface BatchDuplicate {
  file: string;
  distance: number;
  /** Set when the keypoint check made it a duplicate (its embedding distance is above the threshold). */
  keypoints?: KeypointMatch;
}

export interface BatchGroup {
  kept: string;
  duplicates: BatchDuplicate[];
}

/** A decision whose distance came close to the threshold (either side). */
export interface CloseCall {
  file: string;
  /** The kept file it was compared with (its nearest unique). */
  other: string;
  distance: number;
  duplicate: boolean;
}

export interface BatchOutcome {
  method: Method;
  threshold: number;
  metric: Metric | null;
  model: string | null;
  groups: BatchGroup[];
  corrupt: string[];
  corruptReasons: Record<string, string>;
  closeCalls: CloseCall[];
  files: number;
  /** Inputs not deduplicated, with the reason (links, unreadable folders, names, output folders). */
  skipped: SkippedInput[];
  /** What the keypoint check did; null when it was off or not built. */
  keypoints: KeypointCounts | null;
}

/**
 * Takes decisions in file order. `offer(index, feature | error)` may be called in any order; decisions
 * run as soon as every earlier file has been offered, so the outcome does not depend on worker timing.
 */
export class BatchDeduper {
  private readonly store: KeyedUniqueStore;
  private readonly pending = new Map<number, Feature | Error>();
  private next = 0;
  private readonly groups: BatchGroup[] = [];
  /** group key → (unique number within the key → index into groups). */
  private readonly uniquesByKey = new Map<string, number[]>();
  private readonly corrupt: string[] = [];
  private readonly corruptReasons: Record<string, string> = {};
  private readonly calls: CloseCall[] = [];
  /** A keypoint check in progress: later decisions wait for it. */
  private waiting: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly files: string[],
    private readonly groupKey: (file: string) => string,
    private readonly options: UniqueStoreOptions & {
      model: string | null;
      closeCalls?: number;
      /** The keypoint check, and the folder the files are read from for it. */
      keypoints?: { check: KeypointCheck; root: string };
    },
    private readonly skipped: SkippedInput[] = [],
  ) {
    this.store = new InMemoryKeyedStore(options);
  }

  get decided(): number {
    return this.next;
  }

  offer(index: number, feature: Feature | Error): void {
    this.pending.set(index, feature);
    if (!this.waiting) this.drain();
  }

  /**
   * Takes every decision whose turn has come. A file that needs the keypoint check pauses the line: the
   * check's work runs on pool threads (so the main thread keeps feeding the workers), then the line resumes.
   */
  private drain(): void {
    while (this.pending.has(this.next)) {
      const index = this.next;
      const item = this.pending.get(index)!;
      const file = this.files[index]!;
      const key = this.groupKey(file);
      const check = item instanceof Error ? undefined : this.checkFor(file, key);
      const work = check?.prepareFor(this.store, key, item as Feature);
      if (work) {
        this.waiting = work
          .then(() => {
            this.waiting = undefined;
            this.take(index, item, check);
            this.drain();
          })
          .catch((err: unknown) => {
            this.failure ??= err;
            this.waiting = undefined;
          });
        return;
      }
      this.take(index, item, check);
    }
  }

  /** Resolves once every file offered so far is decided; rejects with what stopped the decisions. */
  async settled(): Promise<void> {
    while (this.waiting) await this.waiting;
    if (this.failure) throw this.failure;
  }

  private take(index: number, item: Feature | Error, check: FrameCheck | undefined): void {
    this.pending.delete(index);
    this.decide(index, item, check);
    this.next++;
  }

  /** The uniques of group `key`, by their number in the store: indexes into `groups`. */
  private uniquesOf(key: string): number[] {
    let uniques = this.uniquesByKey.get(key);
    if (!uniques) {
      uniques = [];
      this.uniquesByKey.set(key, uniques);
    }
    return uniques;
  }

  private checkFor(file: string, key: string): FrameCheck | undefined {
    const keypoints = this.options.keypoints;
    if (!keypoints) return undefined;
    const uniques = this.uniquesOf(key);
    return keypoints.check.forFrame(
      key,
      () => readImage(path.join(keypoints.root, file)),
      (n) => readImage(path.join(keypoints.root, this.groups[uniques[n]!]!.kept)),
    );
  }

  private decide(index: number, item: Feature | Error, check: FrameCheck | undefined): void {
    const file = this.files[index]!;
    if (item instanceof Error) {
      this.corrupt.push(file);
      this.corruptReasons[file] = item.message;
      return;
    }
    const key = this.groupKey(file);
    const uniques = this.uniquesOf(key);
    const decision = this.store.decide(key, item, check);
    if (decision.duplicate) {
      const group = this.groups[uniques[decision.unique]!]!;
      group.duplicates.push({
        file,
        distance: decision.distance,
        ...(decision.keypoints ? { keypoints: decision.keypoints } : {}),
      });
      // A keypoint join is no close call of the threshold: its distance is past it by design.
      if (!decision.keypoints)
        this.noteCall({ file, other: group.kept, distance: decision.distance, duplicate: true });
    } else {
      check?.kept(decision.unique);
      uniques[decision.unique] = this.groups.length;
      this.groups.push({ kept: file, duplicates: [] });
      if (decision.nearest) {
        const other = this.groups[uniques[decision.nearest.index]!]!.kept;
        this.noteCall({ file, other, distance: decision.nearest.distance, duplicate: false });
      }
    }
  }

  /** Keeps the N decisions nearest the threshold (a small sorted list: memory stays bounded). */
  private noteCall(call: CloseCall): void {
    const limit = this.options.closeCalls ?? 20;
    const margin = (c: CloseCall) => Math.abs(c.distance - this.options.threshold);
    if (this.calls.length === limit && margin(call) >= margin(this.calls[limit - 1]!)) return;
    this.calls.push(call);
    this.calls.sort((a, b) => margin(a) - margin(b));
    if (this.calls.length > limit) this.calls.pop();
  }

  outcome(): BatchOutcome {
    if (this.next !== this.files.length) {
      throw new Error(`dedupe: ${this.files.length - this.next} files still undecided`);
    }
    return {
      method: this.options.method,
      threshold: this.options.threshold,
      metric: this.options.method === 'cnn' ? this.options.metric : null,
      model: this.options.model,
      groups: this.groups,
      corrupt: this.corrupt,
      corruptReasons: this.corruptReasons,
      closeCalls: this.calls,
      files: this.files.length,
      skipped: this.skipped,
      keypoints: this.options.keypoints ? { ...this.options.keypoints.check.counts } : null,
    };
  }
}

/** A file's bytes for the keypoint check; undefined when it cannot be read (the pair counts as distinct). */
function readImage(file: string): { encoded: Uint8Array } | undefined {
  try {
    return { encoded: readFileSync(file) };
  } catch {
    return undefined;
  }
}
