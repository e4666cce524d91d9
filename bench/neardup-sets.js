// Ground truth of the shared near-duplicate sets ($FRAMESIFT_TESTDATA/neardup, stream/potatoes), as
// { name, dir, files (relative, name order), groupOf: Map<file, groupId>, excluded: Set<file> }.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** $FRAMESIFT_TESTDATA, else the shared data folder beside the project when present. */
export function testDataRoot() {
  if (process.env.FRAMESIFT_TESTDATA) return process.env.FRAMESIFT_TESTDATA;
  const beside = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/data');
  return existsSync(beside) ? beside : undefined;
}

const IMAGE_EXT = /\.(jpe?g|png|webp|gif|tiff?|bmp|svg|avif|ppm|pgm|pbm)$/i;

function walk(dir, base = dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full, base));
    else if (IMAGE_EXT.test(name)) out.push(path.relative(base, full));
  }
  return out.sort();
}

export function loadSets(root = testDataRoot()) {
  if (!root) throw new Error('set FRAMESIFT_TESTDATA to the shared data folder');
  const sets = [];
  const json = (p) => JSON.parse(readFileSync(path.join(root, p), 'utf8'));

  {
    const dir = path.join(root, 'neardup/pimmi/images');
    const gt = json('neardup/pimmi/ground_truth_groups.json');
    const groupOf = new Map();
    for (const g of gt.groups) for (const m of g.members) groupOf.set(m, `g${g.group_id}`);
    sets.push({ name: 'pimmi', dir, files: walk(dir), groupOf, excluded: new Set(['000440.jpg']) });
  }
  {
    const dir = path.join(root, 'neardup/caltech-resize');
    const gt = json('neardup/caltech-resize/ground_truth.json');
    const groupOf = new Map();
    gt.groups.forEach((g, i) => g.forEach((m) => groupOf.set(m, `g${i}`)));
    sets.push({ name: 'caltech-resize', dir, files: walk(dir), groupOf, excluded: new Set() });
  }
  {
    const dir = path.join(root, 'neardup/imagededup-tests');
    const gt = json('neardup/imagededup-tests/ground_truth.json');
    const groupOf = new Map();
    for (const g of gt.groups) for (const m of g.members) groupOf.set(m, g.id);
    sets.push({ name: 'imagededup-tests', dir, files: walk(dir), groupOf, excluded: new Set(gt.corrupt) });
  }
  {
    const dir = path.join(root, 'neardup/imagehash');
    const gt = json('neardup/imagehash/ground_truth.json');
    const groupOf = new Map();
    for (const g of gt.groups) for (const m of g.members) groupOf.set(m, g.id);
    sets.push({ name: 'imagehash', dir, files: walk(dir), groupOf, excluded: new Set() });
  }
  {
    const dir = path.join(root, 'stream/potatoes');
    const gt = json('stream/potatoes/ground_truth.json');
    const groupOf = new Map();
    gt.runs.forEach((r, i) => r.forEach((m) => groupOf.set(m, `run${i}`)));
    sets.push({ name: 'potatoes', dir, files: walk(dir), groupOf, excluded: new Set(), stream: true });
  }
  return sets;
}

/** The generated benchmark (bench/neardup-generate.js) as a set; builds it when missing. */
export async function loadGeneratedSet(root = testDataRoot()) {
  const { GENERATED_DIR, ensureGenerated } = await import('./neardup-generate.js');
  const gt = await ensureGenerated(root);
  const groupOf = new Map();
  for (const g of gt.groups) for (const m of g.members) groupOf.set(m, g.id);
  return {
    name: 'generated',
    dir: GENERATED_DIR,
    files: walk(GENERATED_DIR),
    groupOf,
    excluded: new Set(),
    transformOf: new Map(Object.entries(gt.transformOf)),
    groups: gt.groups,
  };
}
