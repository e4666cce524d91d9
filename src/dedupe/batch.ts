/**
 * Batch folder dedupe, the order-dependent half: listing a folder in name order, grouping files by a
 * regular expression, and taking the keep-or-drop decisions in file order as features arrive (in any
 * order) from the workers. The command feeds it; the report is built from what it records.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../common/errors.js';
import type { Metric } from './distance.js';
import type { Feature, Method } from './methods.js';
import { InMemoryKeyedStore, type KeyedUniqueStore, type UniqueStoreOptions } from './store.js';

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

/**
 * Image files under `dir`, recursively, as paths relative to `dir` with `/` separators, sorted by code
 * point (name order). Folders in `skip` (absolute paths, e.g. the output folder) are not entered.
 */
export async function listImageFiles(dir: string, skip: string[] = []): Promise<string[]> {
  const root = path.resolve(dir);
  const skipped = new Set(skip.map((p) => path.resolve(p)));
  const out: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (err) {
      if (folder === root) {
        throw new UserError(
          `dedupe: ${dir}: expected a readable folder of images (${(err as Error).message})`,
        );
      }
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!skipped.has(full)) await walk(full);
      } else if (entry.isFile() && isImageFile(entry.name)) {
        out.push(path.relative(root, full).split(path.sep).join('/'));
      }
    }
  };
  await walk(root);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
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

  constructor(
    private readonly files: string[],
    private readonly groupKey: (file: string) => string,
    private readonly options: UniqueStoreOptions & { model: string | null; closeCalls?: number },
  ) {
    this.store = new InMemoryKeyedStore(options);
  }

  get decided(): number {
    return this.next;
  }

  offer(index: number, feature: Feature | Error): void {
    this.pending.set(index, feature);
    while (this.pending.has(this.next)) {
      const item = this.pending.get(this.next)!;
      this.pending.delete(this.next);
      this.decide(this.next, item);
      this.next++;
    }
  }

  private decide(index: number, item: Feature | Error): void {
    const file = this.files[index]!;
    if (item instanceof Error) {
      this.corrupt.push(file);
      this.corruptReasons[file] = item.message;
      return;
    }
    const key = this.groupKey(file);
    let uniques = this.uniquesByKey.get(key);
    if (!uniques) {
      uniques = [];
      this.uniquesByKey.set(key, uniques);
    }
    const decision = this.store.decide(key, item);
    if (decision.duplicate) {
      const group = this.groups[uniques[decision.unique]!]!;
      group.duplicates.push({ file, distance: decision.distance });
      this.noteCall({ file, other: group.kept, distance: decision.distance, duplicate: true });
    } else {
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
    };
  }
}
