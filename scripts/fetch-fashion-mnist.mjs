#!/usr/bin/env node
/**
 * `npm run data`: downloads the official Fashion-MNIST files into data/fashion-mnist/ (or the folder given
 * as the first argument) and verifies them, with a progress bar on a terminal. The test split ships in the
 * repository; this adds the train split where neither FASHION_MNIST_DIR nor the Debian package
 * dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) provides it.
 *
 * The checksums are of the DECOMPRESSED content: Debian recompressed the .gz files, so their bytes differ
 * from upstream, but the decompressed bytes are identical (checksums computed from the Debian copy).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { startProgress } from '../dist/common/progress.js';

const BASE_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';
const FILES = {
  'train-images-idx3-ubyte.gz': {
    bytes: 47040016,
    sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  },
  'train-labels-idx1-ubyte.gz': {
    bytes: 60008,
    sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  },
  't10k-images-idx3-ubyte.gz': {
    bytes: 7840016,
    sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  },
  't10k-labels-idx1-ubyte.gz': {
    bytes: 10008,
    sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.resolve(process.argv[2] ?? path.join(root, 'data', 'fashion-mnist'));

/** Returns an error message, or undefined when `gz` decompresses to the expected content. */
function verify(name, gz) {
  let raw;
  try {
    raw = gunzipSync(gz);
  } catch (err) {
    return `${name}: not valid gzip (${err.message})`;
  }
  const { bytes, sha256 } = FILES[name];
  if (raw.byteLength !== bytes) return `${name}: ${raw.byteLength} bytes decompressed, expected ${bytes}`;
  const actual = createHash('sha256').update(raw).digest('hex');
  if (actual !== sha256) return `${name}: sha256 ${actual} of the decompressed content, expected ${sha256}`;
  return undefined;
}

/** The body of `url`, with a progress bar of its bytes on a terminal. */
async function download(url, name) {
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  const total = Number(response.headers.get('content-length') ?? 0);
  const bar = startProgress(
    `${name} [{bar}] {percentage}% | {value}/{total} bytes | {eta_formatted} left`,
    total,
  );
  const chunks = [];
  let received = 0;
  try {
    for await (const chunk of response.body) {
      chunks.push(chunk);
      received += chunk.byteLength;
      bar?.update(received);
    }
  } finally {
    bar?.stop();
  }
  return Buffer.concat(chunks);
}

async function main() {
  await mkdir(dir, { recursive: true });
  let failed = false;
  for (const name of Object.keys(FILES)) {
    const file = path.join(dir, name);
    if (existsSync(file) && !verify(name, await readFile(file))) {
      process.stdout.write(`ok      ${file} (already present)\n`);
      continue;
    }
    const url = BASE_URL + name;
    process.stdout.write(`fetch   ${url}\n`);
    let gz;
    try {
      gz = await download(url, name);
    } catch (err) {
      process.stderr.write(`fetch-fashion-mnist: cannot download ${url} (${err.message})\n`);
      failed = true;
      continue;
    }
    const problem = verify(name, gz);
    if (problem) {
      process.stderr.write(`fetch-fashion-mnist: ${problem}; not saved\n`);
      failed = true;
      continue;
    }
    await writeFile(`${file}.part`, gz);
    await rename(`${file}.part`, file);
    process.stdout.write(`ok      ${file}\n`);
  }
  if (failed) process.exitCode = 1;
  else
    process.stdout.write(
      `Fashion-MNIST is in ${dir} (set FASHION_MNIST_DIR=${dir} if it is not data/fashion-mnist)\n`,
    );
}

await main();
