import { FASHION_MNIST_CLASSES } from '../../../src/common/fashion-mnist-classes.js';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/common/errors.js';
import {
  PROJECT_MODELS_DIR,
  listModelNames,
  loadLabels,
  loadManifest,
  loadModel,
  locateModelFile,
  modelSearchDirs,
  parseManifest,
  sha256File,
} from '../../../src/analysis/models.js';
import { optionalModelsOrSkip } from '../../test-data.js';

const FASHION = 'fashion-mnist-cnn';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'framesift-models-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function freshDir(name: string): string {
  return mkdtempSync(path.join(tmp, `${name}-`));
}

describe('manifests', () => {
  it('lists the three supported models', () => {
    expect(listModelNames()).toEqual(
      expect.arrayContaining([FASHION, 'mobilenet-v2', 'mobilenet-v3-small-075']),
    );
  });

  it('reads each manifest with its input spec and outputs', () => {
    const fashion = loadManifest(FASHION);
    expect(fashion.input).toMatchObject({
      name: 'input',
      channels: 1,
      height: 28,
      width: 28,
      scale: 'pixel/255',
    });
    expect(fashion.outputs).toEqual({ logits: 'logits', embedding: 'embedding' });
    const v3 = loadManifest('mobilenet-v3-small-075');
    expect(v3.sha256).toBe('f337fd74a2cf80f53a53d68d32b572991cffd40200c7010d3111ed43ab6ce10d');
    expect(v3.preprocess).toEqual({ resizeShortSide: 256, centerCrop: 224, colorspace: 'srgb' });
    expect(v3.outputs.logits).toBeUndefined();
    expect(loadManifest('mobilenet-v2').labels).toBe('imagenet-classes.txt');
  });

  it('the committed fashion model matches its manifest', async () => {
    const manifest = loadManifest(FASHION);
    const file = path.join(PROJECT_MODELS_DIR, manifest.file);
    expect(await sha256File(file)).toBe(manifest.sha256);
    expect(readFileSync(file).byteLength).toBe(manifest.bytes);
  });

  it.each([FASHION, 'mobilenet-v3-small-075'])(
    'shipped model %s: the file in models/, its manifest and the model card agree on sha256 and size',
    async (name) => {
      const manifest = loadManifest(name);
      const file = path.join(PROJECT_MODELS_DIR, manifest.file);
      expect(await sha256File(file)).toBe(manifest.sha256);
      expect(readFileSync(file).byteLength).toBe(manifest.bytes);
      const card = readFileSync(path.join(PROJECT_MODELS_DIR, 'README.md'), 'utf8');
      expect(card).toContain(manifest.sha256);
    },
  );

  it('rejects an unknown model name, listing the known ones', () => {
    expect(() => loadManifest('resnet-9000')).toThrow(
      /unknown model "resnet-9000": expected one of .*mobilenet-v2/,
    );
  });

  it('rejects an invalid manifest naming the field', () => {
    const good = loadManifest('mobilenet-v2');
    expect(() => parseManifest({ ...good, sha256: 'abc' }, 'x.json')).toThrow(
      /x\.json: invalid model manifest at sha256: 64 lower-case hex digits/,
    );
    expect(() => parseManifest({ ...good, input: { ...good.input, layout: 'NHWC' } }, 'y.json')).toThrow(
      /y\.json: invalid model manifest at input\.layout/,
    );
    expect(() => parseManifest({ ...good, outputs: {} }, 'z.json')).toThrow(/at outputs: at least one of/);
  });
});

describe('file lookup', () => {
  it('searches the given folder first, then the project models/', () => {
    expect(modelSearchDirs('/some/where')).toEqual(['/some/where', PROJECT_MODELS_DIR]);
    expect(modelSearchDirs('')).toEqual([PROJECT_MODELS_DIR]);
  });

  it('prefers a copy in the models folder over the project file, and falls back to models/', () => {
    const manifest = loadManifest(FASHION);
    const dir = freshDir('lookup');
    expect(locateModelFile(manifest, dir)).toBe(path.join(PROJECT_MODELS_DIR, manifest.file));
    copyFileSync(path.join(PROJECT_MODELS_DIR, manifest.file), path.join(dir, manifest.file));
    expect(locateModelFile(manifest, dir)).toBe(path.join(dir, manifest.file));
  });

  it('the default photo embedder ships in models/ and loads with no MODELS_DIR, sha256 verified', async () => {
    const manifest = loadManifest('mobilenet-v3-small-075');
    expect(locateModelFile(manifest, '')).toBe(path.join(PROJECT_MODELS_DIR, manifest.file));
    const model = await loadModel('mobilenet-v3-small-075', { modelsDir: '' });
    expect(model.path).toBe(path.join(PROJECT_MODELS_DIR, manifest.file));
    expect(model.sha256).toBe('f337fd74a2cf80f53a53d68d32b572991cffd40200c7010d3111ed43ab6ce10d');
    await model.session.release();
  });

  it('a missing file is a UserError naming the paths, the sha256 and how to get it', async () => {
    const dir = freshDir('empty');
    const manifest = loadManifest('mobilenet-v2');
    const err = await loadModel('mobilenet-v2', { modelsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    expect(message).toContain(`model file ${manifest.file} of "mobilenet-v2"`);
    expect(message).toContain(manifest.sha256);
    expect(message).toContain(`not found in ${dir} or ${PROJECT_MODELS_DIR}`);
    expect(message).toContain('MODELS_DIR');
    expect(message.split('\n')).toHaveLength(1);
  });
});

describe('sha256 verification', () => {
  it('rejects a copy with one byte changed, naming the path and both hashes', async () => {
    const manifest = loadManifest(FASHION);
    const dir = freshDir('corrupt');
    const bytes = readFileSync(path.join(PROJECT_MODELS_DIR, manifest.file));
    const middle = Math.floor(bytes.byteLength / 2);
    bytes[middle] = bytes[middle]! ^ 0x01;
    const corrupt = path.join(dir, manifest.file);
    writeFileSync(corrupt, bytes);
    const actual = await sha256File(corrupt);
    expect(actual).not.toBe(manifest.sha256);

    const err = await loadModel(FASHION, { modelsDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toBe(
      `model file ${corrupt} of "${FASHION}" has sha256 ${actual}, expected ${manifest.sha256} ` +
        `(${manifest.bytes} bytes): the file is corrupt or a different model; replace it (${manifest.obtain})`,
    );
  });

  it('loads the verified project model and reports its path and hash', async () => {
    const model = await loadModel(FASHION, { modelsDir: freshDir('none'), intraOpThreads: 1 });
    expect(model.path).toBe(path.join(PROJECT_MODELS_DIR, model.manifest.file));
    expect(model.sha256).toBe(model.manifest.sha256);
    expect(model.session.inputNames).toEqual(['input']);
    expect([...model.session.outputNames].sort()).toEqual(['embedding', 'logits']);
  });
});

describe('labels and pixels', () => {
  it('reads the 1000 ImageNet class names in logit order (optional mobilenet-v2 labels)', async ({
    skip,
  }) => {
    const dir = optionalModelsOrSkip(skip, 'imagenet-classes.txt');
    const labels = await loadLabels(loadManifest('mobilenet-v2'), dir);
    expect(labels).toHaveLength(1000);
    expect(labels[281]).toMatch(/tabby/);
  });

  it('reads the 10 Fashion-MNIST class names from the project', async () => {
    const labels = await loadLabels(loadManifest(FASHION), freshDir('labels'));
    expect(labels).toEqual(FASHION_MNIST_CLASSES);
  });
});
