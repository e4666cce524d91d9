/**
 * Connecting to NATS and declaring framesift's JetStream resources. Every process (publisher, worker,
 * collector) declares what it uses, idempotently, so any of them may start first.
 *
 * FRAMES is a work queue: a frame is removed when its partition's worker acknowledges it, so the stream's
 * limits (bytes, messages, age) bound only the backlog. When the backlog is full the server refuses new
 * frames (discard "new"): the publisher sees every refusal and counts it, so nothing disappears silently.
 * RESULTS keeps results and end markers (limits retention) for the collector and for a worker that takes
 * over a partition and rebuilds its cameras' unique stores.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { UserError, errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import { FRAMES_STREAM, RESULTS_STREAM, partitionConsumer, partitionFilter } from './subjects.js';

const log = loggerFor('bus');

export interface BusLimits {
  /** Backlog of frames the bus holds before refusing new ones. */
  maxBacklogBytes: number;
  maxBacklogFrames: number;
  /** Replicas of each stream (1 on one server; 3 on a 3-node cluster). */
  replicas: number;
  /** How long a worker may hold a frame unacknowledged before it is redelivered. */
  ackWaitMs: number;
}

export const DEFAULT_BUS_LIMITS: BusLimits = {
  maxBacklogBytes: 1024 * 1024 * 1024,
  maxBacklogFrames: 1_000_000,
  replicas: 1,
  ackWaitMs: 30_000,
};

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Largest message the server takes (its max_payload). */
  maxPayload: number;
  close(): Promise<void>;
}

export async function connectBus(servers: string, name: string): Promise<Bus> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: servers.split(',').map((s) => s.trim().replace(/^nats:\/\//, '')),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (err) {
    throw new UserError(`--bus ${servers}: cannot connect to a NATS server (${errorMessage(err)})`);
  }
  const jsm = await jetstreamManager(nc).catch((err: unknown) => {
    void nc.close();
    throw new UserError(`--bus ${servers}: JetStream is not enabled on that server (${errorMessage(err)})`);
  });
  const js = jetstream(nc);
  return {
    nc,
    js,
    jsm,
    maxPayload: nc.info?.max_payload ?? 1024 * 1024,
    close: () => nc.drain().catch(() => nc.close()),
  };
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
  update: boolean,
) {
  try {
    await jsm.streams.info(config.name);
    if (update) await jsm.streams.update(config.name, config);
  } catch (err) {
    if (!/stream not found/i.test(errorMessage(err))) throw err;
    await jsm.streams.add(config);
    log.info('stream created', { stream: config.name });
  }
  // A replicated stream takes frames only once its replicas have elected a leader.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = await jsm.streams.info(config.name);
    if (!info.cluster || info.cluster.leader) return;
    if (Date.now() > deadline) throw new UserError(`stream ${config.name}: no leader elected within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Creates the streams, or updates them to `limits`. A process that does not set the limits (a collector)
 * passes `update: false`, so it never scales a cluster's streams down to its own defaults.
 */
export async function ensureStreams(
  bus: Bus,
  limits: BusLimits = DEFAULT_BUS_LIMITS,
  { update = true }: { update?: boolean } = {},
): Promise<void> {
  await ensureStream(
    bus.jsm,
    {
      name: FRAMES_STREAM,
      subjects: ['frames.*.*'],
      retention: RetentionPolicy.Workqueue,
      discard: DiscardPolicy.New,
      storage: StorageType.File,
      max_bytes: limits.maxBacklogBytes,
      max_msgs: limits.maxBacklogFrames,
      max_msg_size: bus.maxPayload,
      duplicate_window: 120 * 1e9,
      num_replicas: limits.replicas,
    },
    update,
  );
  await ensureStream(
    bus.jsm,
    {
      name: RESULTS_STREAM,
      subjects: ['results.*.*'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_age: 7 * 24 * 3600 * 1e9,
      duplicate_window: 120 * 1e9,
      num_replicas: limits.replicas,
    },
    update,
  );
}

/** The durable consumer of one partition: one at a time reads it (the lease holder). */
export async function ensurePartitionConsumer(
  bus: Bus,
  partition: number,
  limits: BusLimits = DEFAULT_BUS_LIMITS,
): Promise<void> {
  const name = partitionConsumer(partition);
  const config = {
    durable_name: name,
    filter_subject: partitionFilter(partition),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: limits.ackWaitMs * 1e6,
    max_ack_pending: 4096,
    max_deliver: -1,
    // Replicated like its stream, so the partition's place in the stream survives a lost node.
    num_replicas: limits.replicas,
  };
  try {
    await bus.jsm.consumers.info(FRAMES_STREAM, name);
  } catch {
    await bus.jsm.consumers.add(FRAMES_STREAM, config);
  }
}
