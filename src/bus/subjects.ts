/**
 * Names on the bus. Publishers send a camera's frames to `frames.<camera>`; the NATS server maps that
 * subject to `frames.<partition>.<camera>` with its `partition(N, …)` mapping (see `natsServerConfig`),
 * so the partition of a camera is decided in one place — the server — and every publisher agrees.
 * Workers consume `frames.<P>.*`; results and publishers' end markers go to `results.<camera>.<kind>`.
 */
import { UserError } from '../common/errors.js';

export const FRAMES_STREAM = 'FRAMESIFT_FRAMES';
export const RESULTS_STREAM = 'FRAMESIFT_RESULTS';
export const LEASE_BUCKET = 'framesift_leases';

/** NATS header carrying the publisher's session id (a camera may publish several sessions over time). */
export const SESSION_HEADER = 'Framesift-Session';

/** Camera ids become one subject token: no dots, wildcards or white space. */
const CAMERA_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function checkCameraId(camera: string): string {
  if (!CAMERA_ID.test(camera)) {
    throw new UserError(
      `camera id ${JSON.stringify(camera.slice(0, 80))}: expected 1-64 letters, digits, "_" or "-"`,
      2,
    );
  }
  return camera;
}

export function publishSubject(camera: string): string {
  return `frames.${camera}`;
}

/** What a worker of partition `p` consumes (a valid subset of the stream's `frames.*.*`). */
export function partitionFilter(partition: number): string {
  return `frames.${partition}.*`;
}

export function partitionConsumer(partition: number): string {
  return `worker-${partition}`;
}

export type ResultKind = 'frames' | 'end';

export function resultsSubject(camera: string, kind: ResultKind): string {
  return `results.${camera}.${kind}`;
}

/** Every result and end marker, of every camera. */
export const ALL_RESULTS = 'results.*.*';

/** `results.<camera>.<kind>` → camera (undefined for any other shape). */
export function cameraOfResultSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 3 && parts[0] === 'results' ? parts[1] : undefined;
}

/**
 * The cameras one collector owns, so several collectors split the results between them. Listed ids are
 * filtered by the server (one consumer on `results.<id>.*` each: nats-server 2.9 takes one filter per
 * consumer); a pattern needs the collector to read every result and keep its own.
 */
export interface CameraGroup {
  /** The subject filters to consume, one consumer each. */
  filters: string[];
  has(camera: string): boolean;
}

export function cameraGroup(list?: string): CameraGroup {
  const entries = (list ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0);
  if (entries.length === 0) return { filters: [ALL_RESULTS], has: () => true };
  for (const entry of entries) {
    if (!/^[A-Za-z0-9_*?-]{1,64}$/.test(entry)) {
      throw new UserError(
        `--cameras entry ${JSON.stringify(entry.slice(0, 80))}: expected a camera id or pattern of 1-64 letters, digits, "_", "-", "*" or "?"`,
        2,
      );
    }
  }
  if (entries.every((e) => !/[*?]/.test(e))) {
    const ids = new Set(entries);
    return { filters: [...ids].map((id) => `results.${id}.*`), has: (camera) => ids.has(camera) };
  }
  const pattern = new RegExp(
    `^(?:${entries.map((e) => e.replace(/\*/g, '.*').replace(/\?/g, '.')).join('|')})$`,
  );
  return { filters: [ALL_RESULTS], has: (camera) => pattern.test(camera) };
}

/** `frames.<p>.<camera>` → camera (undefined for any other shape). */
export function cameraOfFrameSubject(subject: string): string | undefined {
  const parts = subject.split('.');
  return parts.length === 3 && parts[0] === 'frames' ? parts[2] : undefined;
}

/** The message id that lets JetStream drop a re-published frame: one per camera session and seq. */
export function frameMessageId(camera: string, session: string, seq: number): string {
  return `${camera}-${session}-${seq}`;
}

/** `<camera>-<session>-<seq>` → seq, for frames whose header is too broken to read one. */
export function seqOfMessageId(id: string | undefined): number | undefined {
  const match = id?.match(/-(\d+)$/);
  return match ? Number(match[1]) : undefined;
}

export interface NatsServerConfigOptions {
  partitions: number;
  host?: string;
  port: number;
  storeDir: string;
  /** Largest message the server accepts; a frame above it is refused at publish and counted. */
  maxPayloadBytes: number;
  /** A cluster: this node's name, its route port and every node's route URL. */
  cluster?: { name: string; serverName: string; port: number; routes: string[] };
  httpPort?: number;
}

/** A nats-server configuration with JetStream and framesift's partition mapping. */
export function natsServerConfig(options: NatsServerConfigOptions): string {
  const host = options.host ?? '127.0.0.1';
  const lines = [
    `listen: ${host}:${options.port}`,
    `max_payload: ${options.maxPayloadBytes}`,
    ...(options.httpPort ? [`http: ${host}:${options.httpPort}`] : []),
    ...(options.cluster ? [`server_name: ${options.cluster.serverName}`] : []),
    `jetstream {`,
    `  store_dir: ${JSON.stringify(options.storeDir)}`,
    `}`,
    `mappings = {`,
    `  "frames.*": "frames.{{partition(${options.partitions},1)}}.{{wildcard(1)}}"`,
    `}`,
  ];
  if (options.cluster) {
    lines.push(
      `cluster {`,
      `  name: ${options.cluster.name}`,
      `  listen: ${host}:${options.cluster.port}`,
      `  routes: [${options.cluster.routes.map((r) => JSON.stringify(r)).join(', ')}]`,
      `}`,
    );
  }
  return lines.join('\n') + '\n';
}
