/**
 * Ownership of a partition: a lease in a JetStream key-value bucket whose entries expire (the bucket's
 * TTL). The owner creates its key, renews it with a compare-and-set on the revision it wrote last, and
 * gives it up on exit; a standby retries the create until the key has expired. Per-camera dedupe state
 * lives with one owner, so the partition's frames are never split between two deciding workers.
 * (nats-server 2.9 has no pinned consumers; this is the documented lease pattern on KV.)
 */
import { Kvm, type KV } from '@nats-io/kv';
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import type { Bus } from './connection.js';
import { LEASE_BUCKET } from './subjects.js';

const log = loggerFor('bus-lease');

export interface LeaseOptions {
  partition: number;
  /** Who holds it (host:pid or a name). */
  owner: string;
  /** A holder that stops renewing loses the lease after this long. */
  ttlMs: number;
  replicas?: number;
}

export class PartitionLease {
  private revision = 0;
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private lostHandlers: Array<() => void> = [];
  private constructor(
    private readonly kv: KV,
    private readonly options: LeaseOptions,
  ) {}

  static async open(bus: Bus, options: LeaseOptions): Promise<PartitionLease> {
    const kv = await new Kvm(bus.js).create(LEASE_BUCKET, {
      ttl: options.ttlMs,
      history: 1,
      replicas: options.replicas ?? 1,
    });
    return new PartitionLease(kv, options);
  }

  get key(): string {
    return `partition-${this.options.partition}`;
  }

  get held(): boolean {
    return this.revision > 0;
  }

  /** Tries once; true when this process now owns the partition. */
  async tryAcquire(): Promise<boolean> {
    try {
      this.revision = await this.kv.create(this.key, this.options.owner);
      this.renewedAt = Date.now();
    } catch {
      return false;
    }
    log.info('partition lease acquired', { partition: this.options.partition, owner: this.options.owner });
    this.timer = setInterval(() => void this.renew(), Math.max(100, this.options.ttlMs / 5));
    return true;
  }

  /** Waits (as a standby) until the lease is ours or `signal` aborts. */
  async acquire(signal: AbortSignal): Promise<boolean> {
    let logged = false;
    while (!signal.aborted) {
      if (await this.tryAcquire()) return true;
      if (!logged) {
        log.info('standing by: partition owned by another worker', {
          partition: this.options.partition,
          owner: await this.currentOwner(),
        });
        logged = true;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.max(50, this.options.ttlMs / 4)));
    }
    return false;
  }

  async currentOwner(): Promise<string | undefined> {
    const entry = await this.kv.get(this.key).catch(() => null);
    return entry && entry.operation === 'PUT' ? entry.string() : undefined;
  }

  onLost(handler: () => void): void {
    this.lostHandlers.push(handler);
  }

  private async renew(): Promise<void> {
    if (!this.held) return;
    try {
      this.revision = await this.kv.update(this.key, this.options.owner, this.revision);
      this.renewedAt = Date.now();
    } catch (err) {
      // Someone else's revision means the key expired and was taken: lost now. Any other failure (a
      // cluster node lost, a leader election) is retried until the TTL since the last renewal runs out.
      const taken = /wrong last sequence/i.test(errorMessage(err));
      if (!taken && Date.now() - this.renewedAt < this.options.ttlMs * 0.8) {
        log.warn('partition lease renewal failed; retrying', {
          partition: this.options.partition,
          error: errorMessage(err),
        });
        return;
      }
      log.error('partition lease lost', { partition: this.options.partition, error: errorMessage(err) });
      this.stopRenewing();
      for (const handler of this.lostHandlers) handler();
    }
  }

  private stopRenewing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.revision = 0;
  }

  /** Gives the partition up at once, so a standby need not wait for the TTL. */
  async release(): Promise<void> {
    if (!this.held) return;
    const revision = this.revision;
    this.stopRenewing();
    await this.kv.delete(this.key, { previousSeq: revision }).catch(() => undefined);
  }
}
