/**
 * Precomputed k-nearest-neighbour lists (the archive service's grouping step), kept up to date
 * incrementally. A run recomputes the lists of images written since the last run and of lists that named a
 * removed or changed image; each new image is also offered to the lists of its 4k nearest images, so an
 * older image whose list it belongs in gets it without a full recompute. A different k recomputes everything.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { loggerFor } from '../common/logger.js';
import type { NeighbourList, SearchStore } from './store.js';
import type { AnnIndex } from './vectors.js';

const log = loggerFor('search-neighbours');

/**
 * How far a new image looks for lists it may belong in: its REVERSE_FACTOR × k nearest. A list whose
 * image is farther than that from the new image is not updated (such reverse neighbours are rare; a run
 * with another --k recomputes every list).
 */
export const REVERSE_FACTOR = 4;

/** Searches between turns of the event loop while a batch is being written. */
const YIELD_EVERY = 50;

export interface NeighboursReport {
  k: number;
  /** Lists computed from a search. */
  computed: number;
  /** Older lists a new image was inserted into. */
  updated: number;
  total: number;
  full: boolean;
  seconds: number;
  listsPerSecond: number;
  /** Time the search loop waited for the store (the part of the writes not overlapped with searching). */
  writeWaitSeconds: number;
}

export interface NeighboursOptions {
  k: number;
  /** Lists per transaction. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function computeNeighbours(
  store: SearchStore,
  ann: AnnIndex,
  options: NeighboursOptions,
): Promise<NeighboursReport> {
  const started = performance.now();
  const k = options.k;
  const batchSize = options.batchSize ?? 1000;
  const state = await store.neighbourState();
  const rev = ann.rev;
  const allIds = (await store.files()).map((f) => f.id);
  const full = state.k !== k;

  const dirty = new Set<number>();
  /** Images written since the last run: only they can belong in lists that were not recomputed. */
  const written = new Set<number>();
  if (full) {
    for (const id of allIds) dirty.add(id);
  } else {
    await store.scanVectors((id) => written.add(id), state.rev);
    for (const id of written) dirty.add(id);
    const gone = new Set(await store.removedSince(state.rev));
    for (const id of written) gone.add(id); // a changed image may have moved away from the lists naming it
    if (gone.size > 0) {
      await store.scanNeighbours((list) => {
        if (list.ids.some((id) => gone.has(id))) dirty.add(list.id);
      });
    }
    // Images with no list (e.g. written by a run that stopped before its neighbours were stored).
    const listed = new Set<number>();
    await store.scanNeighbours((list) => listed.add(list.id));
    for (const id of allIds) if (!listed.has(id)) dirty.add(id);
  }

  const ids = allIds.filter((id) => dirty.has(id));
  const fresh: NeighbourList[] = [];
  let pending: NeighbourList[] = [];
  let computed = 0;
  // One batch is written while the next is searched (a server store's round trips overlap the CPU-bound
  // searches); at most one write is in flight, so batches commit in order.
  let writing: Promise<void> = Promise.resolve();
  let writeFailure: { error: unknown } | undefined;
  let writeWaitSeconds = 0;
  const settleWrite = async (): Promise<void> => {
    const t = performance.now();
    await writing;
    writeWaitSeconds += (performance.now() - t) / 1000;
    if (writeFailure) throw writeFailure.error;
  };
  for (const id of ids) {
    // A new image is offered to the lists of its REVERSE_FACTOR × k nearest (kNN is not symmetric).
    const wide = written.has(id) && !full;
    const found = ann.searchById(id, (wide ? REVERSE_FACTOR * k : k) + 1).filter((h) => h.id !== id);
    const hits = found.slice(0, k);
    const list: NeighbourList = {
      id,
      rev,
      ids: Int32Array.from(hits, (h) => h.id),
      distances: Float32Array.from(hits, (h) => h.distance),
    };
    pending.push(list);
    if (wide) {
      fresh.push({
        ...list,
        ids: Int32Array.from(found, (h) => h.id),
        distances: Float32Array.from(found, (h) => h.distance),
      });
    }
    computed++;
    if (pending.length >= batchSize) {
      await settleWrite();
      writing = store.putNeighbours(pending).catch((error: unknown) => {
        writeFailure ??= { error };
      });
      pending = [];
      options.onProgress?.(computed, ids.length);
    }
    // Turn the event loop now and then, so the write in flight makes progress.
    if (computed % YIELD_EVERY === 0) await nextTurn();
  }
  await settleWrite();

  // Offer each new list's image to the lists of its neighbours that were not recomputed.
  const updatedLists = new Map<number, NeighbourList>();
  for (const list of fresh) {
    for (let i = 0; i < list.ids.length; i++) {
      const other = list.ids[i]!;
      if (dirty.has(other)) continue;
      const distance = list.distances[i]!;
      const target = updatedLists.get(other) ?? (await store.neighbours(other));
      if (!target) continue;
      const n = target.ids.length;
      if (n >= k && distance >= target.distances[n - 1]!) continue;
      if (target.ids.includes(list.id)) continue;
      let at = 0;
      while (at < n && target.distances[at]! <= distance) at++;
      const ids = [...target.ids];
      const distances = [...target.distances];
      ids.splice(at, 0, list.id);
      distances.splice(at, 0, distance);
      updatedLists.set(other, {
        id: other,
        rev,
        ids: Int32Array.from(ids.slice(0, k)),
        distances: Float32Array.from(distances.slice(0, k)),
      });
    }
  }
  pending.push(...updatedLists.values());
  await store.putNeighbours(pending, { k, rev });
  options.onProgress?.(computed, ids.length);
  const seconds = (performance.now() - started) / 1000;
  const report: NeighboursReport = {
    k,
    computed,
    updated: updatedLists.size,
    total: allIds.length,
    full,
    seconds,
    listsPerSecond: computed / Math.max(seconds, 1e-9),
    writeWaitSeconds,
  };
  log.info('neighbours finished', { ...report });
  return report;
}
