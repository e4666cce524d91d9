// Builds the keypoint check's native part (native/keypoints) against the system's OpenCV, at install
// (`npm ci`, `npm install framesift`) or by hand (`npm run build:native`). Without OpenCV's development
// files the build is skipped with one line saying how to get it: framesift then dedupes on the embedding
// rule alone (`--keypoints auto`) and says so when it runs. A build that fails with OpenCV present is
// reported the same way, with the compiler's output, and does not fail the install.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native', 'keypoints');
const say = (line) => process.stderr.write(`framesift: ${line}\n`);

const opencv = spawnSync('pkg-config', ['--modversion', 'opencv4'], { encoding: 'utf8' });
if (opencv.status !== 0) {
  say(
    "keypoint check not built: OpenCV's development files were not found (pkg-config opencv4). " +
      'Install them (Debian: apt-get install libopencv-dev) and run npm rebuild framesift (in a clone: npm run build:native).',
  );
  process.exit(0);
}
// Inside npm, node-gyp is npm's own (npm_config_node_gyp) and builds against npm's nodedir.
const gyp = process.env.npm_config_node_gyp;
const build = gyp
  ? spawnSync(process.execPath, [gyp, 'rebuild'], { cwd: dir, encoding: 'utf8' })
  : spawnSync('npm', ['exec', '--', 'node-gyp', 'rebuild'], { cwd: dir, encoding: 'utf8' });
if (build.status !== 0) {
  process.stderr.write(`${build.stdout ?? ''}${build.stderr ?? ''}`);
  say(`keypoint check not built: node-gyp failed in ${dir} (output above); dedupe runs without it.`);
  process.exit(0);
}
say(`keypoint check built against OpenCV ${opencv.stdout.trim()}`);
