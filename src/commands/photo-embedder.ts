/**
 * The search index's embedder: the analysis pool's `images` task with the cnn method, i.e. the very
 * function dedupe uses (same decode, same preprocessing, same model), so a vector in the index and a
 * dedupe embedding of the same photo are identical. Shared by index, search, neighbours and the
 * `--index` option of run and dedupe.
 */
import { availableParallelism } from 'node:os';
import { createAnalysisPool, loadManifest, type AnalysisPool } from '../analysis/index.js';
import type { Embedder, Embedding, ModelStamp } from '../search/index.js';

/** The default photo embedder (models/manifests/mobilenet-v3-small-075.json). */
export const SEARCH_EMBEDDER = 'mobilenet-v3-small-075';

export interface PhotoEmbedder extends Embedder {
  /** Embeds an image given as bytes (an upload). */
  embedBytes(bytes: Uint8Array): Promise<Embedding>;
  close(): Promise<void>;
}

export interface PhotoEmbedderOptions {
  modelsDir: string;
  /** Worker threads (default: every core: indexing keeps the main thread nearly idle). */
  workers?: number;
  /** Use this pool instead of starting one (it is not destroyed by close()). */
  pool?: AnalysisPool;
}

export async function startPhotoEmbedder(options: PhotoEmbedderOptions): Promise<PhotoEmbedder> {
  const ownPool = !options.pool;
  const threads = options.workers ?? Math.max(1, availableParallelism());
  const pool =
    options.pool ??
    createAnalysisPool({
      threads,
      intraOpThreads: 1,
      modelsDir: options.modelsDir,
      // Photos travel by path or by value: side by side, processes decode faster than threads of one
      // process (analysis/process-pool.ts); a single worker gains nothing from it and starts slower.
      isolation: threads > 1 ? 'processes' : 'threads',
    });
  let warm;
  try {
    warm = await pool.warmup(SEARCH_EMBEDDER);
  } catch (err) {
    if (ownPool) await pool.destroy();
    throw err;
  }
  const manifest = loadManifest(SEARCH_EMBEDDER);
  const model: ModelStamp = {
    name: SEARCH_EMBEDDER,
    file: manifest.file,
    sha256: warm[0]?.sha256 ?? manifest.sha256,
    dimension: manifest.embeddingSize ?? 1024,
  };
  const work = { images: 0, prepMs: 0, inferMs: 0 };
  const embedTask = async (
    input: { files: string[]; sha256?: boolean } | { encoded: Uint8Array[] },
  ): Promise<Embedding[]> => {
    const result = await pool.run({ kind: 'images', method: 'cnn', model: SEARCH_EMBEDDER, ...input });
    work.images += result.count;
    work.prepMs += result.prepMs;
    work.inferMs += result.inferMs;
    const failed = new Map(result.failed.map((f) => [f.index, f.message]));
    return Array.from({ length: result.count }, (_, i): Embedding => {
      const failure = failed.get(i);
      if (failure !== undefined) return new Error(failure);
      const dim = result.embeddingDim;
      return {
        vector: result.embeddings!.slice(i * dim, (i + 1) * dim),
        width: result.sizes[2 * i]!,
        height: result.sizes[2 * i + 1]!,
        ...(result.sha256s ? { sha256: result.sha256s[i]! } : {}),
      };
    });
  };
  return {
    model,
    parallelism: pool.threads,
    embed: (files, options = {}) => embedTask({ files, sha256: options.sha256 }),
    embedEncoded: (images) => embedTask({ encoded: images }),
    async embedBytes(bytes) {
      const [result] = await embedTask({ encoded: [bytes] });
      return result instanceof Error
        ? new Error(result.message.replace(/^image 1 of 1/, 'the uploaded image'))
        : result!;
    },
    work: () => ({ ...work }),
    async close() {
      if (ownPool) await pool.destroy();
    },
  };
}
