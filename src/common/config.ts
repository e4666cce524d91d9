/**
 * All configuration in one typed module. Every option has a command-line flag and an environment-variable
 * twin (flag wins over variable, variable over default); values are validated at start-up and a bad one
 * is a ConfigError: exit code 2 and one line naming the variable or flag and the expected form.
 *
 * The README's configuration table is generated from OPTIONS (`node dist/cli.js config-table`), so the two
 * never drift apart.
 */
import { z } from 'zod';
import { parseChangeOptions } from './change-options.js';
import { ConfigError, errorMessage } from './errors.js';
import { parseOrigins } from './http-guard.js';
import { sanitizeSaveName } from './save-name.js';
import { bounded, printable } from './text.js';

export type CommandName =
  | 'serve'
  | 'run'
  | 'dedupe'
  | 'dataset'
  | 'app'
  | 'bus'
  | 'worker'
  | 'conformance'
  | 'index'
  | 'search'
  | 'neighbours';

interface OptionSpec<S extends z.ZodTypeAny> {
  /** Commander flag syntax, e.g. `--frames-port <port>`. */
  flag: string;
  env: string;
  schema: S;
  /** Default as the user would type it (a string), or undefined for "not set". */
  default?: string;
  /** What the value must look like, for error messages and the README table. */
  expected: string;
  description: string;
  commands: readonly CommandName[];
}

function option<S extends z.ZodTypeAny>(spec: OptionSpec<S>): OptionSpec<S> {
  return spec;
}

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegative = z.coerce.number().min(0);

const SERVER_AND_CLIENT = ['serve', 'run'] as const;
/** Options of the live page, served by `run` and `app` on the run's HTTP port (docs/app.md). */
const PAGE = ['run', 'app'] as const;
const pixels = z.coerce.number().int().min(16).max(8192);
const seedThreshold = z.coerce.number().min(0).max(100);
/** A switch: `--flag` on the command line, true/false, 1/0 or yes/no in its variable. */
const booleanFlag = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

/** A string `check` accepts (it throws a one-line error naming the problem otherwise). */
const checkedString = (check: (value: string) => unknown) =>
  z.string().superRefine((value, ctx) => {
    try {
      check(value);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: errorMessage(err) });
    }
  });

export const OPTIONS = {
  host: option({
    flag: '--host <host>',
    env: 'FRAMESIFT_HOST',
    schema: z.string().min(1),
    default: '127.0.0.1',
    expected: 'a host name or IP address',
    description: 'Address the servers bind to (serve) or connect to (run). Use 0.0.0.0 to expose the server.',
    commands: SERVER_AND_CLIENT,
  }),
  framesPort: option({
    flag: '--frames-port <port>',
    env: 'FRAMESIFT_FRAMES_PORT',
    schema: port,
    default: '6000',
    expected: 'an integer port 0-65535 (0 = any free port)',
    description: 'WebSocket port of the frame stream.',
    commands: SERVER_AND_CLIENT,
  }),
  controlPort: option({
    flag: '--control-port <port>',
    env: 'FRAMESIFT_CONTROL_PORT',
    schema: port,
    default: '7000',
    expected: 'an integer port 0-65535 (0 = any free port)',
    description: 'WebSocket port of session control and result submission.',
    commands: SERVER_AND_CLIENT,
  }),
  source: option({
    flag: '--source <source>',
    env: 'FRAMESIFT_SOURCE',
    schema: z.string().min(1),
    expected:
      'fashion-mnist-test, fashion-mnist-train, an IDX/dataset file, an image folder, camera, a video file (.mp4, .avi, .mkv, .webm, …) or an rtsp:// / http(s):// video stream',
    description:
      "serve: the default source streamed when a client names none (default fashion-mnist-test). run: the source to ask the server for (default: the server's default).",
    commands: ['serve', 'run', 'bus'],
  }),
  resultsDir: option({
    flag: '--results-dir <dir>',
    env: 'FRAMESIFT_RESULTS_DIR',
    schema: z.string().min(1),
    default: 'out/server',
    expected: 'a folder path',
    description: 'Where the server persists each submission and its score.',
    commands: ['serve'],
  }),
  sessionTimeoutMs: option({
    flag: '--session-timeout-ms <ms>',
    env: 'FRAMESIFT_SESSION_TIMEOUT_MS',
    schema: positiveInt,
    default: '30000',
    expected: 'a positive integer of milliseconds',
    description:
      "A session whose frame socket has not connected within this time expires. conformance: the tested server's value (the kit waits that long for session-expired).",
    commands: ['serve', 'conformance'],
  }),
  maxPayloadBytes: option({
    flag: '--max-payload-bytes <bytes>',
    env: 'FRAMESIFT_MAX_PAYLOAD_BYTES',
    schema: positiveInt,
    default: String(64 * 1024 * 1024),
    expected: 'a positive integer of bytes',
    description:
      "Largest control message the server accepts (a results submission is the largest). conformance: the tested server's value (the kit sends one byte more).",
    commands: ['serve', 'conformance'],
  }),
  fashionMnistDir: option({
    flag: '--fashion-mnist-dir <dir>',
    env: 'FASHION_MNIST_DIR',
    schema: z.string().min(1),
    expected: 'a folder holding the Fashion-MNIST IDX files (.gz or plain)',
    description:
      "Fashion-MNIST location, looked at first; then the project's data/fashion-mnist/ (ships the test split), then /usr/share/datasets/fashion-mnist (Debian dataset-fashion-mnist). The train split: here, Debian's, or `npm run data`. conformance: the reference the frames are compared with.",
    commands: ['serve', 'dataset', 'bus', 'conformance'],
  }),
  count: option({
    flag: '--count <n>',
    env: 'FRAMESIFT_COUNT',
    schema: positiveInt,
    expected: 'a positive integer',
    description: 'run: frames to ask for (default: the whole source). dataset create: images in the subset.',
    commands: ['run', 'dataset', 'bus'],
  }),
  fps: option({
    flag: '--fps <fps>',
    env: 'FRAMESIFT_FPS',
    schema: nonNegative.max(100_000),
    default: '10',
    expected: 'a number 0-100000 (0 = as fast as the receiver drains)',
    description: 'Frame rate asked of the server.',
    commands: ['run', 'bus'],
  }),
  mode: option({
    flag: '--mode <mode>',
    env: 'FRAMESIFT_MODE',
    schema: z.enum(['classify', 'dedupe', 'both']),
    default: 'classify',
    expected: 'classify, dedupe or both',
    description: 'What the client does with each frame.',
    commands: ['run', 'bus', 'worker'],
  }),
  out: option({
    flag: '--out <dir>',
    env: 'FRAMESIFT_OUT',
    schema: z.string().min(1),
    default: 'out',
    expected: 'a folder path',
    description: 'Output folder (run: results per session; dedupe: the report).',
    commands: ['run', 'dedupe', 'bus'],
  }),
  saveName: option({
    flag: '--save-name <name>',
    env: 'FRAMESIFT_SAVE_NAME',
    schema: checkedString(sanitizeSaveName),
    expected:
      'an order number or name: at most 100 characters and 200 UTF-8 bytes; no path separators, "..", leading dot, <>:"|?*, control, bidi or other invisible characters',
    description: 'At the end of a dedupe session, save the unique frames to <out>/uniques/<name>/.',
    commands: ['run'],
  }),
  metricsPort: option({
    flag: '--metrics-port <port>',
    env: 'FRAMESIFT_METRICS_PORT',
    schema: port,
    default: '9464',
    expected: 'an integer port 0-65535 (0 = any free port)',
    description:
      'HTTP port of /metrics (Prometheus) and the /api endpoints of a run. worker: its /metrics; several workers on one machine need one port each (or 0, logged at start).',
    commands: ['run', 'worker'],
  }),
  modelsDir: option({
    flag: '--models-dir <dir>',
    env: 'MODELS_DIR',
    schema: z.string().min(1),
    default: 'models',
    expected: 'a folder holding the ONNX model files named by the manifests',
    description:
      "Folder searched for ONNX model files before the project's models/ (which holds the Fashion-MNIST classifier and the default photo embedder); needed only for optional models such as MobileNetV2.",
    commands: ['run', 'dedupe', 'worker', 'index', 'search'],
  }),
  classifier: option({
    flag: '--classifier <name>',
    env: 'FRAMESIFT_CLASSIFIER',
    schema: z.string().min(1),
    default: 'fashion-mnist-cnn',
    expected: 'a model manifest name (models/manifests/<name>.json) with a logits output',
    description: 'The model `run` classifies frames with.',
    commands: ['run', 'worker'],
  }),
  workers: option({
    flag: '--workers <n>',
    env: 'FRAMESIFT_WORKERS',
    schema: positiveInt.max(256),
    expected: 'a positive integer',
    description:
      'Workers for decoding and inference (default: available cores - 1, at least 1; dedupe and index: every core). Photo work runs them as child processes, classification as threads reading the frame ring.',
    commands: ['run', 'dedupe', 'worker', 'index', 'search'],
  }),
  batchSize: option({
    flag: '--batch-size <n>',
    env: 'FRAMESIFT_BATCH_SIZE',
    schema: positiveInt.max(4096),
    default: '128',
    expected: 'a positive integer',
    description:
      'Most frames a worker infers in one batch. Measured on 2 cores at fps 0 (bench/e2e.bench.js, with the Fashion-MNIST classifier shipped before stop 19): 128 ≈ 17,300 frames/s end to end, 256 ≈ 16,500, 64 ≈ 17,400 with twice the batches; ONNX Runtime alone slows ~10% at 512.',
    commands: ['run', 'worker'],
  }),
  batchWaitMs: option({
    flag: '--batch-wait-ms <ms>',
    env: 'FRAMESIFT_BATCH_WAIT_MS',
    schema: nonNegative.max(10_000),
    default: '2',
    expected: 'a number of milliseconds ≥ 0',
    description:
      'Longest a partial batch waits for more frames before it is sent to a worker. Measured at 2,000 fps: p50/p99 latency 1/4 ms at 1 ms, 2/6 ms at 2 ms, 4/8 ms at 5 ms; fps 0 throughput is the same for all three.',
    commands: ['run'],
  }),
  ringSlots: option({
    flag: '--ring-slots <n>',
    env: 'FRAMESIFT_RING_SLOTS',
    schema: positiveInt.max(1_000_000),
    default: '1024',
    expected: 'a positive integer',
    description: 'Frames the cross-thread frame ring holds.',
    commands: ['run'],
  }),
  ringPolicy: option({
    flag: '--ring-policy <policy>',
    env: 'FRAMESIFT_RING_POLICY',
    schema: z.enum(['block', 'drop-oldest']),
    default: 'block',
    expected: 'block or drop-oldest',
    description:
      'When the ring is full: pause the socket (block, nothing lost) or drop the oldest waiting frame (counted).',
    commands: ['run'],
  }),
  method: option({
    flag: '--method <method>',
    env: 'FRAMESIFT_METHOD',
    schema: z.enum(['cnn', 'phash', 'mse', 'change']),
    default: 'cnn',
    expected: 'cnn, phash, mse or change',
    description: 'How frames are compared for dedupe.',
    commands: ['run', 'dedupe', 'worker'],
  }),
  metric: option({
    flag: '--metric <metric>',
    env: 'FRAMESIFT_METRIC',
    schema: z.enum(['cosine', 'l2', 'rmse']),
    default: 'cosine',
    expected: 'cosine, l2 or rmse',
    description: 'Distance between cnn embeddings.',
    commands: ['run', 'dedupe', 'worker'],
  }),
  threshold: option({
    flag: '--threshold <t>',
    env: 'FRAMESIFT_THRESHOLD',
    schema: nonNegative,
    expected: 'a number ≥ 0',
    description:
      'A frame at or below this distance from a kept frame is a duplicate; the distance is, per method: cnn 1−cosine of L2-normalised embeddings (0–2; l2: Euclidean of normalised, rmse: root-mean-square of raw features; photos whose 16×16 layout thumbnails are within cosine 0.1 are duplicates too), phash differing bits of 64 (0–64), mse mean squared difference of 16×16 gray thumbnails in [0,1], change changed-area fraction vs the last kept frame (0–1). Default: measured per method (cnn cosine 0.4, l2 0.8944, rmse 0.42, on 28×28 gray streams, compared by the classifier embedding, cosine 0.002; phash 16; mse 0.015; change 0.3; see docs/dedupe.md).',
    commands: ['run', 'dedupe', 'worker'],
  }),
  keypoints: option({
    flag: '--keypoints <when>',
    env: 'FRAMESIFT_KEYPOINTS',
    schema: z.enum(['auto', 'on', 'off']),
    default: 'auto',
    expected: 'auto, on or off',
    description:
      'The keypoint check of cnn dedupe on photos: a photo the embedding would keep is compared by ORB keypoints, a homography and the correlation of the overlap with the 2 nearest uniques within cosine 0.8, and is a duplicate of one it is a crop or copy of (heavy crops). auto: on where its native part is built (needs OpenCV at install), off otherwise; on: fail without it; off: the embedding rule alone.',
    commands: ['run', 'dedupe', 'worker'],
  }),
  approximateAbove: option({
    flag: '--approximate-above <n>',
    env: 'FRAMESIFT_APPROXIMATE_ABOVE',
    schema: z.coerce.number().int().min(0),
    default: '20000',
    expected: 'an integer ≥ 0 (0 = always exact)',
    description:
      'Kept uniques per stream above which nearest-neighbour search switches from exact dot products to an approximate HNSW index.',
    commands: ['run', 'dedupe', 'worker'],
  }),
  imageSaveQuality: option({
    flag: '--image-save-quality <q>',
    env: 'IMAGE_SAVE_QUALITY',
    schema: z.coerce.number().int().min(1).max(100),
    default: '95',
    expected: 'an integer 1-100',
    description: 'JPEG quality of saved unique images.',
    commands: ['run', 'dedupe', 'bus'],
  }),
  groupBy: option({
    flag: '--group-by <regex>',
    env: 'FRAMESIFT_GROUP_BY',
    schema: z.string().min(1),
    expected: 'a regular expression with one capture group',
    description:
      'Compare only files whose relative paths give the same first capture group (e.g. a camera id).',
    commands: ['dedupe'],
  }),
  moveDuplicatesTo: option({
    flag: '--move-duplicates-to <dir>',
    env: 'FRAMESIFT_MOVE_DUPLICATES_TO',
    schema: z.string().min(1),
    expected: 'a folder path',
    description: 'Move duplicates there (never deletes).',
    commands: ['dedupe'],
  }),
  changeOptions: option({
    flag: '--change-options <spec>',
    env: 'FRAMESIFT_CHANGE_OPTIONS',
    schema: checkedString(parseChangeOptions),
    expected: 'comma-separated key=number pairs of resize, border, blur, pixel, dilate, minArea',
    description:
      'Parameters of the change method (defaults resize=320,border=2,blur=1.5,pixel=25,dilate=2,minArea=0.002: width in px, border crop in %, blur sigma, pixel difference threshold 0-255, 3x3 dilations, smallest counted region as a fraction of the image).',
    commands: ['run', 'dedupe'],
  }),
  describe: option({
    flag: '--describe',
    env: 'FRAMESIFT_DESCRIBE',
    schema: booleanFlag,
    expected: 'a flag (env: true/false, 1/0, yes/no)',
    description:
      "Describe each kept image in report.md with MobileNetV2's top ImageNet class (needs mobilenet-v2 in MODELS_DIR).",
    commands: ['dedupe'],
  }),
  copyUniquesTo: option({
    flag: '--copy-uniques-to <dir>',
    env: 'FRAMESIFT_COPY_UNIQUES_TO',
    schema: z.string().min(1),
    expected: 'a folder path',
    description: 'Copy the kept images there.',
    commands: ['dedupe'],
  }),
  split: option({
    flag: '--split <split>',
    env: 'FRAMESIFT_SPLIT',
    schema: z.enum(['test', 'train']),
    default: 'test',
    expected: 'test or train',
    description: 'Fashion-MNIST split a dataset subset is drawn from.',
    commands: ['dataset'],
  }),
  seed: option({
    flag: '--seed <seed>',
    env: 'FRAMESIFT_SEED',
    schema: z.coerce
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1),
    default: '0',
    expected: 'an integer 0-4294967295',
    description: "Seed of the subset's random draw (same seed, same subset).",
    commands: ['dataset'],
  }),
  datasetOut: option({
    flag: '--out <file>',
    env: 'FRAMESIFT_DATASET_OUT',
    schema: z.string().min(1),
    expected: 'a file path',
    description: 'dataset create: the subset file to write.',
    commands: ['dataset'],
  }),
  cameraAddress: option({
    flag: '--camera-address <url>',
    env: 'CAMERA_ADDRESS',
    schema: z.string().url(),
    expected: 'an http(s) URL that returns one JPEG per GET',
    description: 'Camera REST endpoint polled by `serve --source camera`.',
    commands: ['serve', 'bus'],
  }),
  cameraToken: option({
    flag: '--camera-token <token>',
    env: 'CAMERA_TOKEN',
    schema: z.string().min(1),
    expected: 'a bearer token',
    description: 'Sent as `Authorization: Bearer <token>` to the camera.',
    commands: ['serve', 'bus'],
  }),
  cameraTimeout: option({
    flag: '--camera-timeout <seconds>',
    env: 'CAMERA_TIMEOUT',
    schema: z.coerce.number().positive().max(3600),
    default: '5',
    expected: 'a number of seconds > 0',
    description: 'Timeout of one camera request.',
    commands: ['serve', 'bus'],
  }),
  imagesPerSecond: option({
    flag: '--images-per-second <n>',
    env: 'IMAGES_PER_SECOND',
    schema: z.coerce.number().positive().max(1000),
    default: '5',
    expected: 'a number > 0 (1-23 advised)',
    description:
      'How often the camera is polled (serve, app); app: also the starting frame rate of the session and of its images-per-second slider.',
    commands: ['serve', 'app', 'bus'],
  }),
  testDataFolder: option({
    flag: '--test-data-folder <dir>',
    env: 'TEST_DATA_FOLDER',
    schema: z.string().min(1),
    expected: 'a folder of .jpg/.jpeg/.png images',
    description: 'Replay this folder instead of polling the camera.',
    commands: ['serve', 'bus'],
  }),
  title: option({
    flag: '--title <text>',
    env: 'TITLE',
    schema: z.string().min(1).max(200),
    default: 'Extract unique images',
    expected: 'a text of 1-200 characters',
    description: 'Heading of the live page.',
    commands: PAGE,
  }),
  loopUpdateTime: option({
    flag: '--loop-update-time <seconds>',
    env: 'LOOP_UPDATE_TIME',
    schema: z.coerce.number().min(0.02).max(10),
    default: '0.1',
    expected: 'a number of seconds 0.02-10',
    description:
      'Shortest interval between two live-state pushes to the page (per tab; stale updates are dropped).',
    commands: PAGE,
  }),
  imageDisplayWidth: option({
    flag: '--image-display-width <px>',
    env: 'IMAGE_DISPLAY_WIDTH',
    schema: pixels,
    default: '320',
    expected: 'an integer of pixels 16-8192',
    description: 'Width of the live frame JPEG pushed to the page.',
    commands: PAGE,
  }),
  optionsThMin: option({
    flag: '--options-th-min <t>',
    env: 'OPTIONS_TH_MIN',
    schema: seedThreshold,
    default: '0.15',
    expected: 'a number ≥ 0 (seed scale: cnn rmse)',
    description:
      "Threshold slider minimum in the seed's scale (cnn + rmse); mapped to the method's own distance by the ratio of the measured defaults (docs/app.md).",
    commands: PAGE,
  }),
  optionsThMax: option({
    flag: '--options-th-max <t>',
    env: 'OPTIONS_TH_MAX',
    schema: seedThreshold,
    default: '0.5',
    expected: 'a number ≥ 0 (seed scale: cnn rmse)',
    description: "Threshold slider maximum in the seed's scale.",
    commands: PAGE,
  }),
  optionsThInc: option({
    flag: '--options-th-inc <t>',
    env: 'OPTIONS_TH_INC',
    schema: z.coerce.number().positive().max(100),
    default: '0.025',
    expected: 'a number > 0 (seed scale: cnn rmse)',
    description: "Threshold slider step in the seed's scale (phash steps are whole bits).",
    commands: PAGE,
  }),
  optionsThInit: option({
    flag: '--options-th-init <t>',
    env: 'OPTIONS_TH_INIT',
    schema: seedThreshold,
    default: '0.325',
    expected: 'a number ≥ 0 (seed scale: cnn rmse)',
    description:
      "app: the starting threshold in the seed's scale when --threshold is not given (run starts at --threshold or the method's default).",
    commands: PAGE,
  }),
  imagesPerSecondMin: option({
    flag: '--images-per-second-min <n>',
    env: 'IMAGES_PER_SECOND_MIN',
    schema: z.coerce.number().positive().max(1000),
    default: '1',
    expected: 'a number > 0',
    description: 'Images-per-second slider minimum.',
    commands: PAGE,
  }),
  imagesPerSecondMax: option({
    flag: '--images-per-second-max <n>',
    env: 'IMAGES_PER_SECOND_MAX',
    schema: z.coerce.number().positive().max(1000),
    default: '23',
    expected: 'a number > 0',
    description: 'Images-per-second slider maximum.',
    commands: PAGE,
  }),
  optionsImageResolution: option({
    flag: '--options-image-resolution <list>',
    env: 'OPTIONS_IMAGE_RESOLUTION',
    schema: z
      .string()
      .regex(/^\s*\d+\s*(,\s*\d+\s*)*$/)
      .transform((v) => v.split(',').map((x) => Number(x.trim())))
      .refine((list) => list.every((w) => w >= 16 && w <= 8192)),
    default: '240,320,480,512,640,960,1024,1280',
    expected: 'comma-separated widths in pixels (16-8192)',
    description:
      "Choices of the page's image resolution: saved images and the large view are scaled down to this width.",
    commands: PAGE,
  }),
  optionsImageResolutionInitIdx: option({
    flag: '--options-image-resolution-init-idx <i>',
    env: 'OPTIONS_IMAGE_RESOLUTION_INIT_IDX',
    schema: z.coerce.number().int().min(0).max(63),
    default: '2',
    expected: 'an index into OPTIONS_IMAGE_RESOLUTION (0-based)',
    description: 'The resolution chosen when the page first opens.',
    commands: PAGE,
  }),
  galleryNColumns: option({
    flag: '--gallery-n-columns <n>',
    env: 'GALLERY_N_COLUMNS',
    schema: z.coerce.number().int().min(1).max(24),
    default: '6',
    expected: 'an integer 1-24',
    description: 'Columns of the gallery of kept images (fewer on narrow screens).',
    commands: PAGE,
  }),
  galleryOverallHeight: option({
    flag: '--gallery-overall-height <px>',
    env: 'GALLERY_OVERALL_HEIGHT',
    schema: pixels,
    expected: 'an integer of pixels 16-8192',
    description: 'Height of the gallery as a scroll box (default: the gallery grows with the page).',
    commands: PAGE,
  }),
  inputTextTitle: option({
    flag: '--input-text-title <text>',
    env: 'INPUT_TEXT_TITLE',
    schema: z.string().min(1).max(200),
    default: 'Order number',
    expected: 'a text of 1-200 characters',
    description: 'Label of the order-number field.',
    commands: PAGE,
  }),
  inputTextPlaceholder: option({
    flag: '--input-text-placeholder <text>',
    env: 'INPUT_TEXT_PLACEHOLDER',
    schema: z.string().max(200),
    default: 'Please enter an order number here',
    expected: 'a text of at most 200 characters',
    description: 'Placeholder of the order-number field.',
    commands: PAGE,
  }),
  optionsSaveAsChoiceInitIdx: option({
    flag: '--options-save-as-choice-init-idx <i>',
    env: 'OPTIONS_SAVE_AS_CHOICE_INIT_IDX',
    schema: z.coerce.number().int().min(0).max(1),
    default: '0',
    expected: '0 (images) or 1 (video)',
    description: 'The save-as choice selected when the page opens.',
    commands: PAGE,
  }),
  db: option({
    flag: '--db <path|url>',
    env: 'FRAMESIFT_DB',
    schema: z.string().min(1),
    default: 'framesift-index.db',
    expected: 'a SQLite file path or mysql://user:password@host:port/database',
    description:
      'The similar-image index: a SQLite file (created when missing) or a MariaDB/MySQL database URL.',
    commands: ['index', 'search', 'neighbours'],
  }),
  annFile: option({
    flag: '--ann-file <file>',
    env: 'FRAMESIFT_ANN_FILE',
    schema: z.string().min(1),
    expected: 'a file path',
    description:
      'Where the HNSW graph of the index is kept (default: <db>.hnsw beside a SQLite file; out/search/<host>-<port>-<db>.hnsw for MariaDB). Rebuilt when missing or stale.',
    commands: ['index', 'search', 'neighbours', 'run', 'dedupe'],
  }),
  every: option({
    flag: '--every <seconds>',
    env: 'FRAMESIFT_INDEX_EVERY',
    schema: z.coerce.number().positive().max(86_400),
    default: '10',
    expected: 'a number of seconds > 0',
    description:
      'index: videos below the folder (mp4, avi, mkv, webm, …) are indexed as one frame every this many seconds of video time, each found by search as "<video> at <time>".',
    commands: ['index'],
  }),
  searchK: option({
    flag: '-k, --k <n>',
    env: 'FRAMESIFT_SEARCH_K',
    schema: positiveInt.max(10_000),
    default: '20',
    expected: 'a positive integer',
    description: 'search: how many similar images to return.',
    commands: ['search'],
  }),
  neighboursK: option({
    flag: '--k <n>',
    env: 'FRAMESIFT_NEIGHBOURS_K',
    schema: positiveInt.max(1000),
    default: '100',
    expected: 'a positive integer ≤ 1000',
    description: 'neighbours: how many nearest neighbours to store per image.',
    commands: ['neighbours'],
  }),
  exact: option({
    flag: '--exact',
    env: 'FRAMESIFT_EXACT',
    schema: booleanFlag,
    expected: 'a flag (env: true/false, 1/0, yes/no)',
    description: 'search: scan every vector (exact, the reference for recall) instead of the HNSW index.',
    commands: ['search'],
  }),
  allowedOrigins: option({
    flag: '--allowed-origins <origins>',
    env: 'FRAMESIFT_ALLOWED_ORIGINS',
    schema: checkedString(parseOrigins),
    expected: 'comma-separated origins like http://host:port (no path)',
    description:
      'Web origins (besides same-origin) allowed to open the WebSockets (serve) or change state over the HTTP API (run); app: both. Their host names are also answered as Host. See docs/security.md.',
    commands: SERVER_AND_CLIENT,
  }),
  token: option({
    flag: '--token <token>',
    env: 'FRAMESIFT_TOKEN',
    schema: z.string().min(16).max(4096),
    expected: 'a secret of 16-4096 characters',
    description:
      'serve: every connection to the frame and control ports must carry it (Authorization: Bearer, or ?token=); run: sent to the server; app: both. Set it whenever --host exposes the server beyond loopback.',
    commands: SERVER_AND_CLIENT,
  }),
  saveRate: option({
    flag: '--save-rate <n>',
    env: 'FRAMESIFT_SAVE_RATE',
    schema: positiveInt.max(10_000),
    default: '10',
    expected: 'a positive integer',
    description: 'Most saves of uniques a minute (POST /api/save and --save-name); more are answered 429.',
    commands: ['run'],
  }),
  maxSaveBytes: option({
    flag: '--max-save-bytes <bytes>',
    env: 'FRAMESIFT_MAX_SAVE_BYTES',
    schema: positiveInt,
    default: String(4 * 1024 ** 3),
    expected: 'a positive integer of bytes',
    description:
      'Most bytes all saves may hold under <out>/uniques/ (earlier runs included); a save past it is refused (507) and nothing of it is kept.',
    commands: ['run'],
  }),
  cameraMaxBytes: option({
    flag: '--camera-max-bytes <bytes>',
    env: 'CAMERA_MAX_BYTES',
    schema: positiveInt,
    default: String(32 * 1024 * 1024),
    expected: 'a positive integer of bytes',
    description:
      'Largest camera answer read; a bigger body is cut off unread, counted as too-large and the poll retried.',
    commands: ['serve', 'bus'],
  }),
  maxPendingSessions: option({
    flag: '--max-pending-sessions <n>',
    env: 'FRAMESIFT_MAX_PENDING_SESSIONS',
    schema: positiveInt,
    default: '1000',
    expected: 'a positive integer',
    description:
      'Most sessions waiting for their frame socket, all connections together; a start beyond it is answered too-many-sessions.',
    commands: ['serve'],
  }),
  maxPendingPerConnection: option({
    flag: '--max-pending-per-connection <n>',
    env: 'FRAMESIFT_MAX_PENDING_PER_CONNECTION',
    schema: positiveInt,
    default: '16',
    expected: 'a positive integer',
    description:
      'Most sessions one control connection may have waiting for their frame socket; a start beyond it is answered too-many-sessions.',
    commands: ['serve'],
  }),
  maxSubmissions: option({
    flag: '--max-submissions <n>',
    env: 'FRAMESIFT_MAX_SUBMISSIONS',
    schema: positiveInt,
    default: '10',
    expected: 'a positive integer',
    description: 'Most result submissions one session may have scored and persisted.',
    commands: ['serve'],
  }),
  maxSubmitBytes: option({
    flag: '--max-submit-bytes <bytes>',
    env: 'FRAMESIFT_MAX_SUBMIT_BYTES',
    schema: positiveInt,
    default: String(16 * 1024 * 1024),
    expected: 'a positive integer of bytes',
    description:
      'Largest control message handled (a submission is the largest; 100,000 predictions take about 1.6 MB); a bigger one is answered too-large and the connection stays open.',
    commands: ['serve'],
  }),
  json: option({
    flag: '--json',
    env: 'FRAMESIFT_JSON',
    schema: booleanFlag,
    expected: 'a flag (env: true/false, 1/0, yes/no)',
    description:
      'Print the result as one JSON object on stdout instead of text, for scripts (run: the session summary and score; dedupe: the report; dataset: the file written; conformance: the pass/fail table; index, search, neighbours: the results).',
    commands: ['run', 'dedupe', 'dataset', 'conformance', 'index', 'search', 'neighbours'],
  }),
  serveSearch: option({
    flag: '--serve',
    env: 'FRAMESIFT_SEARCH_SERVE',
    schema: booleanFlag,
    expected: 'a flag (env: true/false, 1/0, yes/no)',
    description: 'search: serve the search API and demo page over HTTP instead of answering one query.',
    commands: ['search'],
  }),
  searchPort: option({
    flag: '--port <port>',
    env: 'FRAMESIFT_SEARCH_PORT',
    schema: port,
    default: '8080',
    expected: 'an integer port 0-65535 (0 = any free port)',
    description: 'search --serve: HTTP port of the search API and demo page (loopback only).',
    commands: ['search'],
  }),
  maxUploadBytes: option({
    flag: '--max-upload-bytes <bytes>',
    env: 'FRAMESIFT_MAX_UPLOAD_BYTES',
    schema: positiveInt,
    default: String(20 * 1024 * 1024),
    expected: 'a positive integer of bytes',
    description: 'Largest image POST /api/search accepts (413 above).',
    commands: ['search', 'run'],
  }),
  index: option({
    flag: '--index <path|url>',
    env: 'FRAMESIFT_INDEX',
    schema: z.string().min(1),
    expected: 'a SQLite file path or mysql://user:password@host:port/database',
    description:
      "Also add the kept (unique) images to this similar-image index (dedupe: the kept files; run: each saved uniques folder), and serve /api/images and /search on the run's HTTP port.",
    commands: ['run', 'dedupe'],
  }),
  frameSize: option({
    flag: '--frame-size <WxH>',
    env: 'FRAMESIFT_FRAME_SIZE',
    schema: z
      .string()
      .regex(/^\s*\d{1,5}\s*(x\s*\d{1,5}\s*)?$/i)
      .transform((v) => {
        const [w, h] = v
          .toLowerCase()
          .split('x')
          .map((n) => Number(n.trim()));
        return { width: w!, height: h ?? w! };
      })
      .refine((b) => b.width >= 2 && b.height >= 2 && b.width <= 65535 && b.height <= 65535),
    expected: 'WIDTHxHEIGHT (e.g. 640x480) or one number for both, 2-65535',
    description:
      'Video sources: frames are scaled down to fit this box (aspect ratio kept, never scaled up) before they are sent.',
    commands: ['serve', 'bus'],
  }),
  videoStallTimeout: option({
    flag: '--video-stall-timeout <seconds>',
    env: 'VIDEO_STALL_TIMEOUT',
    schema: z.coerce.number().positive().max(3600),
    default: '10',
    expected: 'a number of seconds > 0',
    description:
      'A network video stream (rtsp://, http(s)://) that yields no frame for this long is dropped and reconnected with backoff.',
    commands: ['serve', 'bus'],
  }),
  rtspListen: option({
    flag: '--rtsp-listen',
    env: 'RTSP_LISTEN',
    schema: booleanFlag,
    default: 'false',
    expected: 'a flag (env: true/false, 1/0, yes/no)',
    description:
      'An rtsp:// source is a listening address the camera pushes to (RTSP ANNOUNCE/RECORD) instead of a server to pull from.',
    commands: ['serve'],
  }),
  ffmpegPath: option({
    flag: '--ffmpeg-path <path>',
    env: 'FFMPEG_PATH',
    schema: z.string().min(1),
    default: 'ffmpeg',
    expected: 'an ffmpeg executable (a path, or a name found on PATH)',
    description:
      'The ffmpeg that decodes video sources and writes video saves (Debian: apt-get install ffmpeg).',
    commands: ['serve', 'run', 'index', 'bus'],
  }),
  ffprobePath: option({
    flag: '--ffprobe-path <path>',
    env: 'FFPROBE_PATH',
    schema: z.string().min(1),
    default: 'ffprobe',
    expected: 'an ffprobe executable (a path, or a name found on PATH)',
    description: 'The ffprobe that checks video files before they are streamed.',
    commands: ['serve', 'run', 'bus'],
  }),
  saveAs: option({
    flag: '--save-as <kind>',
    env: 'FRAMESIFT_SAVE_AS',
    schema: z.enum(['images', 'video']),
    default: 'images',
    expected: 'images or video',
    description:
      'How --save-name writes the session: one image per frame, or one video (VIDEO_CODEC); both with manifest.json.',
    commands: ['run'],
  }),
  saveFrames: option({
    flag: '--save-frames <which>',
    env: 'FRAMESIFT_SAVE_FRAMES',
    schema: z.enum(['kept', 'all']),
    default: 'kept',
    expected: 'kept or all',
    description:
      'Which frames a save holds: the kept (unique) frames, or all frames of the session (all: every frame is kept on disk in a temp folder while the run lasts).',
    commands: ['run'],
  }),
  videoCodec: option({
    flag: '--video-codec <codec>',
    env: 'VIDEO_CODEC',
    schema: z
      .string()
      .refine((v) => ['h264', 'avc1', 'x264', 'mp4v', 'hevc', 'vp9', 'mjpeg'].includes(v.toLowerCase())),
    default: 'h264',
    expected:
      'h264, avc1, X264 (libx264 .mp4), mp4v (mpeg4 .mp4), HEVC (libx265 .mp4), vp9 (.webm) or mjpeg (.avi)',
    description: 'Codec of video saves.',
    commands: ['run'],
  }),
  videoFps: option({
    flag: '--video-fps <fps>',
    env: 'VIDEO_FPS',
    schema: z.coerce.number().positive().max(240),
    default: '10',
    expected: 'a number > 0 (at most 240)',
    description: 'Frame rate of video saves: each saved frame shows for 1/fps seconds.',
    commands: ['run'],
  }),
  bus: option({
    flag: '--bus <url>',
    env: 'FRAMESIFT_BUS',
    schema: z.string().regex(/^(nats:\/\/)?[^\s,]+(,(nats:\/\/)?[^\s,]+)*$/),
    default: 'nats://127.0.0.1:4222',
    expected: 'nats://HOST:PORT, or several separated by commas (a cluster)',
    description: 'NATS server(s) with JetStream that carry frames and results in the bus mode.',
    commands: ['bus', 'worker'],
  }),
  partition: option({
    flag: '--partition <p>',
    env: 'FRAMESIFT_PARTITION',
    schema: z.coerce.number().int().min(0).max(1023),
    expected: 'an integer 0-1023, below the partitions of the NATS mapping',
    description:
      'worker: the partition whose frames this process decides (one owner at a time; others stand by).',
    commands: ['worker'],
  }),
  partitions: option({
    flag: '--partitions <n>',
    env: 'FRAMESIFT_PARTITIONS',
    schema: z.coerce.number().int().min(1).max(1024),
    default: '4',
    expected: 'an integer 1-1024',
    description: 'bus config: partitions that cameras are mapped onto (one worker process owns each).',
    commands: ['bus'],
  }),
  camera: option({
    flag: '--camera <id>',
    env: 'FRAMESIFT_CAMERA',
    schema: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    default: 'cam0',
    expected: '1-64 letters, digits, "_" or "-"',
    description:
      'bus publish: the camera (stream) id the frames are published under; it picks the partition.',
    commands: ['bus'],
  }),
  cameras: option({
    flag: '--cameras <list>',
    env: 'FRAMESIFT_CAMERAS',
    schema: z.string().regex(/^[A-Za-z0-9_*?-]{1,64}(,[A-Za-z0-9_*?-]{1,64})*$/),
    expected:
      'a comma-separated list of camera ids or patterns ("*" any characters, "?" one), e.g. dock1,dock2 or gate-*',
    description:
      'bus collect: collect only these cameras (default: all), so several collectors each own a camera group; listed ids are filtered by the server, patterns by the collector.',
    commands: ['bus'],
  }),
  leaseTtlMs: option({
    flag: '--lease-ttl-ms <ms>',
    env: 'FRAMESIFT_LEASE_TTL_MS',
    schema: z.coerce.number().int().min(200),
    default: '5000',
    expected: 'an integer of milliseconds, at least 200',
    description:
      'worker: a partition owner that stops renewing its lease loses it to a standby after this long.',
    commands: ['worker'],
  }),
  busBacklogBytes: option({
    flag: '--bus-backlog-bytes <bytes>',
    env: 'FRAMESIFT_BUS_BACKLOG_BYTES',
    schema: positiveInt,
    default: String(1024 * 1024 * 1024),
    expected: 'a positive integer of bytes',
    description:
      'Frames the bus holds for slow workers; past it new frames are refused and counted as bus-full.',
    commands: ['bus', 'worker'],
  }),
  busBacklogFrames: option({
    flag: '--bus-backlog-frames <n>',
    env: 'FRAMESIFT_BUS_BACKLOG_FRAMES',
    schema: positiveInt,
    default: '1000000',
    expected: 'a positive integer',
    description:
      'Frames the bus holds for slow workers, by count; past it new frames are refused (bus-full).',
    commands: ['bus', 'worker'],
  }),
  busReplicas: option({
    flag: '--bus-replicas <n>',
    env: 'FRAMESIFT_BUS_REPLICAS',
    schema: z.coerce.number().int().min(1).max(5),
    default: '1',
    expected: 'an integer 1-5 (at most the cluster size)',
    description: 'Copies of each JetStream stream (3 on a 3-node cluster survives one node lost).',
    commands: ['bus', 'worker'],
  }),
  busAckWaitMs: option({
    flag: '--bus-ack-wait-ms <ms>',
    env: 'FRAMESIFT_BUS_ACK_WAIT_MS',
    schema: z.coerce.number().int().min(100),
    default: '30000',
    expected: 'an integer of milliseconds, at least 100',
    description:
      'A frame a worker took but did not acknowledge within this time (the worker died) is redelivered.',
    commands: ['bus', 'worker'],
  }),
  busIdleMs: option({
    flag: '--bus-idle-ms <ms>',
    env: 'FRAMESIFT_BUS_IDLE_MS',
    schema: positiveInt,
    default: '60000',
    expected: 'a positive integer of milliseconds',
    description:
      "bus collect: a session whose end has come but whose frames stop arriving is written as incomplete after this long. Keep it above --bus-ack-wait-ms plus the workers' --lease-ttl-ms: a partition changing owner is that long without results.",
    commands: ['bus'],
  }),
  natsPort: option({
    flag: '--nats-port <port>',
    env: 'FRAMESIFT_NATS_PORT',
    schema: port,
    default: '4222',
    expected: 'an integer port 0-65535',
    description: 'bus config: the client port of the NATS server configuration it prints.',
    commands: ['bus'],
  }),
  natsStoreDir: option({
    flag: '--nats-store-dir <dir>',
    env: 'FRAMESIFT_NATS_STORE_DIR',
    schema: z.string().min(1),
    default: '.nats',
    expected: 'a folder path',
    description: 'bus config: where the printed NATS configuration keeps JetStream data.',
    commands: ['bus'],
  }),
  natsMaxPayload: option({
    flag: '--nats-max-payload <bytes>',
    env: 'FRAMESIFT_NATS_MAX_PAYLOAD',
    schema: z.coerce
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024),
    default: String(8 * 1024 * 1024),
    expected: 'an integer of bytes, 1024 to 64 MiB',
    description:
      'bus config: largest message (frame) the NATS server takes; a larger frame is refused and counted as too-large.',
    commands: ['bus'],
  }),
  control: option({
    flag: '--control <url>',
    env: 'FRAMESIFT_CONFORMANCE_CONTROL',
    schema: z.string().regex(/^wss?:\/\/[^\s/]+\/?$/),
    default: 'ws://127.0.0.1:7000',
    expected: 'a WebSocket URL ws://HOST:PORT',
    description: 'conformance: the control socket of the server to test.',
    commands: ['conformance'],
  }),
  checks: option({
    flag: '--checks <ids>',
    env: 'FRAMESIFT_CONFORMANCE_CHECKS',
    schema: z
      .string()
      .regex(/^[a-z-]+(,[a-z-]+)*$/)
      .transform((v) => v.split(',')),
    expected: 'comma-separated check ids (as the report lists them)',
    description: 'conformance: run only these checks (default: all).',
    commands: ['conformance'],
  }),
  logLevel: option({
    flag: '--log-level <level>',
    env: 'LOG_LEVEL',
    schema: z.enum(['error', 'warn', 'info', 'debug']),
    default: 'info',
    expected: 'error, warn, info or debug',
    description: 'Log verbosity (JSON lines on stderr).',
    commands: [
      'serve',
      'run',
      'dedupe',
      'dataset',
      'bus',
      'worker',
      'conformance',
      'index',
      'search',
      'neighbours',
    ],
  }),
} as const;

/** `app` is serve + run (dedupe, endless) + the page: it takes both commands' options except these. */
const NOT_FOR_APP = [
  'count',
  'fps',
  'mode',
  'classifier',
  'saveName',
  'saveAs',
  'saveFrames',
  'json',
] as const;

function appliesTo(key: OptionKey, command: CommandName): boolean {
  const commands = OPTIONS[key].commands as readonly CommandName[];
  if (commands.includes(command)) return true;
  return (
    command === 'app' &&
    (commands.includes('serve') || commands.includes('run')) &&
    !(NOT_FOR_APP as readonly string[]).includes(key)
  );
}

/** The commands an option applies to (app included where it inherits serve's or run's options). */
export function commandsOf(key: OptionKey): CommandName[] {
  return (
    [
      'serve',
      'run',
      'app',
      'dedupe',
      'dataset',
      'bus',
      'worker',
      'conformance',
      'index',
      'search',
      'neighbours',
    ] as const
  ).filter((c) => appliesTo(key, c));
}

export type OptionKey = keyof typeof OPTIONS;
type ValueOf<K extends OptionKey> = z.output<(typeof OPTIONS)[K]['schema']>;
type HasDefault<K extends OptionKey> = (typeof OPTIONS)[K] extends { default: string } ? K : never;

/** The resolved value of each option: options with a default are always set, others may be undefined. */
export type Config<K extends OptionKey> = { [P in K as P extends HasDefault<K> ? P : never]: ValueOf<P> } & {
  [P in K as P extends HasDefault<K> ? never : P]?: ValueOf<P>;
};

export const SERVE_OPTIONS = keysFor('serve');
export const RUN_OPTIONS = keysFor('run');
export const DEDUPE_OPTIONS = keysFor('dedupe');
export const DATASET_OPTIONS = keysFor('dataset');
export const APP_OPTIONS = keysFor('app');
export const BUS_OPTIONS = keysFor('bus');
export const WORKER_OPTIONS = keysFor('worker');
export const CONFORMANCE_OPTIONS = keysFor('conformance');
export const INDEX_OPTIONS = keysFor('index');
export const SEARCH_OPTIONS = keysFor('search');
export const NEIGHBOURS_OPTIONS = keysFor('neighbours');

type DeclaredKeysOf<C extends CommandName> = {
  [K in OptionKey]: C extends (typeof OPTIONS)[K]['commands'][number] ? K : never;
}[OptionKey];
type KeysOf<C extends CommandName> = C extends 'app'
  ?
      | DeclaredKeysOf<'app'>
      | Exclude<DeclaredKeysOf<'serve'> | DeclaredKeysOf<'run'>, (typeof NOT_FOR_APP)[number]>
  : DeclaredKeysOf<C>;

export type ServeConfig = Config<KeysOf<'serve'>>;
export type RunConfig = Config<KeysOf<'run'>>;
export type DedupeConfig = Config<KeysOf<'dedupe'>>;
export type DatasetConfig = Config<KeysOf<'dataset'>>;
export type AppConfig = Config<KeysOf<'app'>>;
export type BusConfig = Config<KeysOf<'bus'>>;
export type WorkerConfig = Config<KeysOf<'worker'>>;
export type ConformanceConfig = Config<KeysOf<'conformance'>>;
export type IndexConfig = Config<KeysOf<'index'>>;
export type SearchConfig = Config<KeysOf<'search'>>;
export type NeighboursConfig = Config<KeysOf<'neighbours'>>;

function keysFor<C extends CommandName>(command: C): KeysOf<C>[] {
  return (Object.keys(OPTIONS) as OptionKey[]).filter((key) => appliesTo(key, command)) as KeysOf<C>[];
}

/** The long form of a commander flag spec (`-k, --k <n>` → `--k`). */
function longFlag(flag: string): string {
  return flag.split(/[\s,]+/).find((part) => part.startsWith('--'))!;
}

/** Commander's camelCase attribute name for an option's flag (`--frames-port <p>` → framesPort). */
export function flagAttribute(key: OptionKey): string {
  const long = longFlag(OPTIONS[key].flag).replace(/^--/, '');
  return long.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/**
 * Resolves the options of `command`: flags (as commander parsed them, by flag attribute name) over
 * environment variables over defaults. Throws ConfigError on the first bad value.
 */
export function resolveConfig<C extends CommandName>(
  command: C,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): Config<KeysOf<C>> {
  const resolved: Record<string, unknown> = {};
  for (const key of keysFor(command)) {
    const spec: OptionSpec<z.ZodTypeAny> = OPTIONS[key];
    const flagValue = flags[flagAttribute(key)];
    const envValue = env[spec.env];
    let raw: unknown;
    let origin: string;
    if (flagValue !== undefined) {
      raw = flagValue;
      origin = longFlag(spec.flag);
    } else if (envValue !== undefined && envValue !== '') {
      raw = envValue;
      origin = spec.env;
    } else if (spec.default !== undefined) {
      raw = spec.default;
      origin = `default of ${spec.env}`;
    } else {
      continue;
    }
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      // A custom check names the exact problem; the schema's own messages add nothing to `expected`.
      const custom = parsed.error.issues.find((issue) => issue.code === z.ZodIssueCode.custom);
      throw new ConfigError(
        `${origin}=${printable(bounded(JSON.stringify(raw)))}: expected ${spec.expected}${custom ? ` (${custom.message})` : ''}`,
      );
    }
    resolved[key] = parsed.data;
  }
  if (command === 'run' && resolved.saveName !== undefined && resolved.mode === 'classify') {
    throw new ConfigError(
      `--save-name ${JSON.stringify(resolved.saveName)}: saving uniques needs --mode dedupe or both (FRAMESIFT_MODE), got classify`,
    );
  }
  return resolved as Config<KeysOf<C>>;
}

/** The README's configuration table, in Markdown. */
export function configurationTable(): string {
  const rows = (Object.keys(OPTIONS) as OptionKey[]).map((key) => {
    const spec: OptionSpec<z.ZodTypeAny> = OPTIONS[key];
    const flag = longFlag(spec.flag);
    return `| \`${spec.env}\` | \`${flag}\` | ${spec.expected} | ${spec.default === undefined ? '—' : `\`${spec.default}\``} | ${commandsOf(key).join(', ')} | ${spec.description} |`;
  });
  return [
    '| variable | flag | type | default | commands | meaning |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
