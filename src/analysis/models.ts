/**
 * The model registry: each supported ONNX model is described by a manifest in models/manifests/<name>.json
 * (file name, sha256, input spec, preprocessing, output names). Model files are looked up in MODELS_DIR
 * first, then in the project's models/ folder, and their sha256 is verified before ONNX Runtime sees them,
 * so a truncated download or a different model is a clear UserError instead of silently wrong answers.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { PROJECT_ROOT } from '../common/paths.js';
import { modelInput, pixelRecipeOf } from './preprocess.js';

const log = loggerFor('analysis.models');

/** The project's own models (trained here, committed) and the manifests of every supported model. */
export const PROJECT_MODELS_DIR = path.join(PROJECT_ROOT, 'models');
export const MANIFESTS_DIR = path.join(PROJECT_MODELS_DIR, 'manifests');

const positiveInt = z.number().int().positive();

export const modelManifestSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lower-case letters, digits, dots and dashes'),
  description: z.string().optional(),
  file: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
  bytes: positiveInt,
  input: z.object({
    name: z.string().min(1),
    layout: z.literal('NCHW'),
    channels: z.union([z.literal(1), z.literal(3)]),
    height: positiveInt,
    width: positiveInt,
    scale: z.literal('pixel/255'),
  }),
  preprocess: z.object({
    resizeShortSide: positiveInt.optional(),
    centerCrop: positiveInt.optional(),
    colorspace: z.enum(['srgb', 'gray']),
  }),
  outputs: z
    .object({ logits: z.string().min(1).optional(), embedding: z.string().min(1).optional() })
    .refine((o) => o.logits !== undefined || o.embedding !== undefined, 'at least one of logits, embedding'),
  /** Length of the embedding output, when the model has one. */
  embeddingSize: positiveInt.optional(),
  /** A text file of class names, one per line in logit order (looked up like the model file). */
  labels: z.string().min(1).optional(),
  /** How a user obtains the file when it is missing; appended to the error message. */
  obtain: z.string().optional(),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;

export interface LoadModelOptions {
  /** Folder searched before the project's models/ (default: the MODELS_DIR environment variable). */
  modelsDir?: string;
  /** ONNX Runtime intra-op threads of the session (default 1: the pool runs one session per worker). */
  intraOpThreads?: number;
}

export interface LoadedModel {
  manifest: ModelManifest;
  session: ort.InferenceSession;
  /** The verified sha256 of the file loaded (equal to manifest.sha256). */
  sha256: string;
  /** Absolute path of the file loaded. */
  path: string;
}

/** Names of every manifest in models/manifests, sorted. */
export function listModelNames(manifestsDir = MANIFESTS_DIR): string[] {
  return readdirSync(manifestsDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

/** Parses and validates a manifest object; `source` names it in the error message. */
export function parseManifest(value: unknown, source: string): ModelManifest {
  const parsed = modelManifestSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? issue.path.join('.') : '(root)';
    throw new UserError(`${source}: invalid model manifest at ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** Reads the manifest of model `name` from models/manifests. */
export function loadManifest(name: string, manifestsDir = MANIFESTS_DIR): ModelManifest {
  const file = path.join(manifestsDir, `${name}.json`);
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(name) || !existsSync(file)) {
    throw new UserError(
      `unknown model "${name}": expected one of ${listModelNames(manifestsDir).join(', ')}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${errorMessage(err)})`);
  }
  const manifest = parseManifest(json, file);
  if (manifest.name !== name) {
    throw new UserError(`${file}: manifest name "${manifest.name}", expected "${name}" (the file name)`);
  }
  return manifest;
}

/** The folders searched for model files, in order: `modelsDir` (or MODELS_DIR), then the project's models/. */
export function modelSearchDirs(modelsDir: string | undefined = process.env.MODELS_DIR): string[] {
  const dirs = modelsDir ? [path.resolve(modelsDir)] : [];
  if (!dirs.includes(PROJECT_MODELS_DIR)) dirs.push(PROJECT_MODELS_DIR);
  return dirs;
}

function howToObtain(manifest: ModelManifest): string {
  return manifest.obtain ?? 'see models/README.md';
}

/**
 * The path of `file` (a model or labels file of `manifest`) in the first search folder that holds it, or a
 * UserError naming every place looked at, the expected sha256 and how to obtain the file.
 */
export function locateModelFile(manifest: ModelManifest, modelsDir?: string, file = manifest.file): string {
  const dirs = modelSearchDirs(modelsDir);
  for (const dir of dirs) {
    const candidate = path.join(dir, file);
    if (existsSync(candidate)) return candidate;
  }
  const expected = file === manifest.file ? ` (sha256 ${manifest.sha256}, ${manifest.bytes} bytes)` : '';
  throw new UserError(
    `model file ${file} of "${manifest.name}"${expected} not found in ${dirs.join(' or ')}: ${howToObtain(manifest)}`,
  );
}

/** sha256 of a file as lower-case hex, streamed (model files are megabytes; never held twice in memory). */
export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/** Verifies that `file` is the one `manifest` describes; a UserError naming both hashes when it is not. */
export async function verifyModelFile(manifest: ModelManifest, file: string): Promise<string> {
  let actual: string;
  try {
    actual = await sha256File(file);
  } catch (err) {
    throw new UserError(`model file ${file} of "${manifest.name}" cannot be read: ${errorMessage(err)}`);
  }
  if (actual !== manifest.sha256) {
    throw new UserError(
      `model file ${file} of "${manifest.name}" has sha256 ${actual}, expected ${manifest.sha256} ` +
        `(${manifest.bytes} bytes): the file is corrupt or a different model; replace it (${howToObtain(manifest)})`,
    );
  }
  return actual;
}

/**
 * Loads model `name`: reads its manifest, finds the file (MODELS_DIR first, then models/), verifies the
 * sha256 and opens an ONNX Runtime session with `intraOpThreads` threads (1 by default: parallelism comes
 * from the worker pool, one session per worker).
 */
export async function loadModel(name: string, options: LoadModelOptions = {}): Promise<LoadedModel> {
  const manifest = loadManifest(name);
  const file = locateModelFile(manifest, options.modelsDir);
  const sha256 = await verifyModelFile(manifest, file);
  const intraOpThreads = options.intraOpThreads ?? 1;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(file, {
      intraOpNumThreads: intraOpThreads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new UserError(
      `model file ${file} of "${name}" cannot be loaded by ONNX Runtime: ${errorMessage(err)}`,
    );
  }
  checkSessionMatchesManifest(manifest, session, file);
  log.debug('model loaded', { model: name, file, intraOpThreads });
  return { manifest, session, sha256, path: file };
}

/** The manifest's input and output names must exist in the graph (a mismatch is a manifest bug). */
function checkSessionMatchesManifest(
  manifest: ModelManifest,
  session: ort.InferenceSession,
  file: string,
): void {
  const wanted = [manifest.outputs.logits, manifest.outputs.embedding].filter((n): n is string => !!n);
  const missingOutputs = wanted.filter((n) => !session.outputNames.includes(n));
  if (!session.inputNames.includes(manifest.input.name) || missingOutputs.length > 0) {
    throw new UserError(
      `model file ${file} of "${manifest.name}" has inputs [${session.inputNames.join(', ')}] and outputs ` +
        `[${session.outputNames.join(', ')}], expected input ${manifest.input.name} and outputs [${wanted.join(', ')}]`,
    );
  }
}

/** The class names of a model with a labels file (one per line, in logit order). */
export async function loadLabels(manifest: ModelManifest, modelsDir?: string): Promise<string[]> {
  if (!manifest.labels) throw new UserError(`model "${manifest.name}" has no labels file in its manifest`);
  const file = locateModelFile(manifest, modelsDir, manifest.labels);
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface ModelOutputs {
  /** [batch × classes], row-major, when the model has logits. */
  logits?: Float32Array;
  /** [batch × embeddingSize], row-major, when the model has an embedding. */
  embedding?: Float32Array;
}

/**
 * Runs a batch: `input` holds `batch` images in the manifest's layout (NCHW float32, pixel/255). Returns
 * the flat output arrays named by the manifest.
 */
export async function runModel(
  model: LoadedModel,
  input: Float32Array,
  batch: number,
): Promise<ModelOutputs> {
  const { manifest, session } = model;
  const { channels, height, width } = manifest.input;
  if (input.length !== batch * channels * height * width) {
    throw new Error(
      `runModel(${manifest.name}): input of ${input.length} floats, expected ${batch}×${channels}×${height}×${width}`,
    );
  }
  const feeds = { [manifest.input.name]: new ort.Tensor('float32', input, [batch, channels, height, width]) };
  const result = await session.run(feeds);
  const out: ModelOutputs = {};
  if (manifest.outputs.logits) out.logits = result[manifest.outputs.logits]?.data as Float32Array;
  if (manifest.outputs.embedding) out.embedding = result[manifest.outputs.embedding]?.data as Float32Array;
  return out;
}

/**
 * Decodes an image (file path or encoded bytes) and prepares it as the manifest says (`modelInput`: EXIF
 * orientation, sRGB or gray, short side, centre crop, bilinear); returns one image as NCHW float32
 * pixel/255 (the graphs apply their own normalisation). An image that cannot be read or decoded is a
 * UserError naming it.
 */
export async function preprocessImage(
  image: string | Uint8Array,
  manifest: Pick<ModelManifest, 'input' | 'preprocess'>,
): Promise<Float32Array> {
  const name = typeof image === 'string' ? image : 'image';
  try {
    const encoded = typeof image === 'string' ? await readFile(image) : image;
    // Strict decoding: a file libjpeg only warns about is refused as well.
    return await modelInput(
      { encoded, failOn: 'warning' },
      pixelRecipeOf(manifest.input, manifest.preprocess),
    );
  } catch (err) {
    throw new UserError(`${name}: cannot be decoded as an image (${errorMessage(err)})`);
  }
}
