/**
 * The collecting side: reads the results and end markers of its cameras (all, or a group: several
 * collectors may split the cameras between them) and keeps, per camera session, the
 * first outcome of each seq (a frame redelivered and decided twice counts once). A session is complete
 * when its publisher's end marker has arrived and every frame it sent is accounted for: decided, invalid,
 * or discarded by the bus. A session whose end has come but whose frames stop arriving is finished as
 * incomplete after `idleMs`, with its missing seqs.
 */
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { errorMessage } from '../common/errors.js';
import { loggerFor } from '../common/logger.js';
import type { Bus, BusLimits } from './connection.js';
import { ensureStreams } from './connection.js';
import { decodeResult, type EndMessage, type FrameOutcome, type FramesMessage } from './messages.js';
import {
  ALL_RESULTS,
  RESULTS_STREAM,
  cameraGroup,
  cameraOfResultSubject,
  type CameraGroup,
} from './subjects.js';

const log = loggerFor('bus-collector');

export interface CollectedSession {
  camera: string;
  session: string;
  end: EndMessage;
  /** Decided and invalid outcomes by seq, in seq order. */
  outcomes: FrameOutcome[];
  /** Why each frame whose seq could not be read was invalid. */
  unreadable: string[];
  /** Seqs below `end.sent` with no outcome and not discarded. */
  missing: number[];
  /** Outcomes that arrived again for a seq already decided (redeliveries). */
  duplicates: number;
  /** The model named by the first results message that named one. */
  model?: FramesMessage['model'];
  /** The dedupe rule the workers decided with. */
  rule?: FramesMessage['rule'];
  complete: boolean;
}

interface Tally {
  camera: string;
  session: string;
  outcomes: Map<number, FrameOutcome>;
  unreadable: string[];
  duplicates: number;
  model?: FramesMessage['model'];
  rule?: FramesMessage['rule'];
  end?: EndMessage;
  lastChange: number;
  done: boolean;
  writtenIncomplete?: boolean;
  lateWarned?: boolean;
}

export interface CollectorOptions {
  /** A session with its end marker but missing frames is finished as incomplete after this long. */
  idleMs: number;
  /** The cameras to collect (`--cameras`: ids or patterns, comma-separated); default all. */
  cameras?: string;
  /** The streams' limits, used only when the collector is the first to create them. */
  limits?: BusLimits;
  onSession: (session: CollectedSession) => Promise<void> | void;
}

function discardedSeqs(end: EndMessage): Set<number> {
  return new Set(Object.values(end.discarded).flatMap((seqs) => seqs ?? []));
}

/**
 * One ordered consumer of the results stream with one subject filter, from the first result not yet
 * applied. A consumer whose server was lost can go quiet while results keep arriving on the stream: when
 * the stream holds results of its filter past the last one applied and none came for a while, it
 * subscribes again from there.
 */
class Feed {
  private lastSeq = 0;
  private lastArrival = Date.now();
  private resubscribing = false;
  private messages: ConsumerMessages | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly filter: string,
    private readonly onMessage: (subject: string, data: Uint8Array) => void,
  ) {}

  async subscribe(): Promise<void> {
    const consumer = await this.bus.js.consumers.get(RESULTS_STREAM, {
      // A string, not an array: nats-server 2.9 takes one filter per consumer.
      filter_subjects: this.filter,
      ...(this.lastSeq === 0
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 }),
    });
    const messages = await consumer.consume({ max_messages: 1000 });
    this.messages = messages;
    void (async () => {
      for await (const m of messages) {
        if (m.seq <= this.lastSeq) continue;
        this.lastSeq = m.seq;
        this.lastArrival = Date.now();
        this.onMessage(m.subject, m.data);
      }
    })();
  }

  /** The stream's last result matching this feed's filter. */
  private async lastOnStream(): Promise<number> {
    if (this.filter === ALL_RESULTS) return (await this.bus.jsm.streams.info(RESULTS_STREAM)).state.last_seq;
    const seqs = await Promise.all(
      (['frames', 'end'] as const).map((kind) =>
        this.bus.jsm.streams
          .getMessage(RESULTS_STREAM, { last_by_subj: this.filter.replace(/\*$/, kind) })
          .then((m) => m?.seq ?? 0)
          .catch(() => 0),
      ),
    );
    return Math.max(...seqs);
  }

  async checkStalled(): Promise<void> {
    if (this.resubscribing || Date.now() - this.lastArrival < 3000) return;
    this.resubscribing = true;
    try {
      if ((await this.lastOnStream()) > this.lastSeq && Date.now() - this.lastArrival >= 3000) {
        log.warn('result consumer stalled; subscribing again', {
          filter: this.filter,
          from: this.lastSeq + 1,
        });
        await this.messages?.close();
        await this.subscribe();
        this.lastArrival = Date.now();
      }
    } catch (err) {
      log.warn('checking the result stream failed', { filter: this.filter, error: errorMessage(err) });
    } finally {
      this.resubscribing = false;
    }
  }

  async close(): Promise<void> {
    await this.messages?.close();
  }
}

export class ResultCollector {
  private readonly tallies = new Map<string, Tally>();
  private readonly feeds: Feed[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly finishing = new Set<Promise<void>>();
  private readonly group: CameraGroup;

  constructor(
    private readonly bus: Bus,
    private readonly options: CollectorOptions,
  ) {
    this.group = cameraGroup(options.cameras);
  }

  async start(): Promise<void> {
    // Created with these limits when missing; never changed: the workers and publishers set them.
    await ensureStreams(this.bus, this.options.limits, { update: false });
    for (const filter of this.group.filters) {
      const feed = new Feed(this.bus, filter, (subject, data) => this.receive(subject, data));
      this.feeds.push(feed);
      await feed.subscribe();
    }
    this.timer = setInterval(
      () => {
        this.sweep();
        for (const feed of this.feeds) void feed.checkStalled();
      },
      Math.max(50, Math.min(2000, this.options.idleMs / 4)),
    );
  }

  private receive(subject: string, data: Uint8Array): void {
    // Another collector's camera (this one reads every result to match a pattern).
    const camera = cameraOfResultSubject(subject);
    if (camera === undefined || !this.group.has(camera)) return;
    try {
      this.apply(decodeResult(data));
    } catch (err) {
      log.warn('unreadable result message skipped', { subject, error: errorMessage(err) });
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.feeds.map((feed) => feed.close()));
    await Promise.all(this.finishing);
  }

  private tally(camera: string, session: string): Tally {
    const key = `${camera}\u0000${session}`;
    let t = this.tallies.get(key);
    if (!t) {
      t = {
        camera,
        session,
        outcomes: new Map(),
        unreadable: [],
        duplicates: 0,
        lastChange: Date.now(),
        done: false,
      };
      this.tallies.set(key, t);
    }
    return t;
  }

  private apply(message: ReturnType<typeof decodeResult>): void {
    const t = this.tally(message.camera, message.session);
    if (t.writtenIncomplete && message.type === 'frames' && !t.lateWarned) {
      // Written as incomplete already (its frames stopped for --bus-idle-ms): they stay missing there.
      t.lateWarned = true;
      log.warn('results arrived for a session already written; its frames stay counted as missing', {
        camera: t.camera,
        session: t.session,
      });
    }
    t.lastChange = Date.now();
    if (message.type === 'end') {
      t.end ??= message;
    } else {
      t.model ??= message.model;
      t.rule ??= message.rule;
      for (const outcome of message.frames) {
        if (outcome.seq < 0) t.unreadable.push(outcome.invalid ?? 'undecodable');
        else if (t.outcomes.has(outcome.seq)) t.duplicates++;
        else t.outcomes.set(outcome.seq, outcome);
      }
    }
    this.check(t, false);
  }

  private sweep(): void {
    const now = Date.now();
    for (const t of this.tallies.values()) {
      if (!t.done && t.end && now - t.lastChange >= this.options.idleMs) this.check(t, true);
    }
  }

  private check(t: Tally, idle: boolean): void {
    if (t.done || !t.end) return;
    const discarded = discardedSeqs(t.end);
    const accounted = t.outcomes.size + t.unreadable.length + discarded.size;
    const complete = accounted >= t.end.sent;
    if (!complete && !idle) return;
    t.done = true;
    t.writtenIncomplete = !complete;
    const missing: number[] = [];
    if (!complete) {
      for (let seq = 0; seq < t.end.sent; seq++) {
        if (!t.outcomes.has(seq) && !discarded.has(seq)) missing.push(seq);
      }
    }
    const session: CollectedSession = {
      camera: t.camera,
      session: t.session,
      end: t.end,
      outcomes: [...t.outcomes.values()].sort((a, b) => a.seq - b.seq),
      unreadable: t.unreadable,
      missing,
      duplicates: t.duplicates,
      ...(t.model ? { model: t.model } : {}),
      ...(t.rule ? { rule: t.rule } : {}),
      complete,
    };
    log.info('camera session collected', {
      camera: t.camera,
      session: t.session,
      sent: t.end.sent,
      decided: t.outcomes.size,
      discarded: discarded.size,
      missing: missing.length,
      complete,
    });
    const done = Promise.resolve(this.options.onSession(session))
      .catch(
        (err: unknown) => void log.error('writing a collected session failed', { error: errorMessage(err) }),
      )
      .finally(() => this.finishing.delete(done));
    this.finishing.add(done);
  }
}
