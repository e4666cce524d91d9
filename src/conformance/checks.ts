/**
 * The documented behaviours of docs/protocol.md as checks a client can run against any server: exact
 * frames of a known source, pacing, stop, every error code and where it arrives, and scoring with its
 * edge cases. Each check throws CheckFailure with what it saw; a check returns a one-line detail.
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { PROTOCOL_VERSION, type ServerMessage } from '../common/wire/control.js';
import { FrameEncoding } from '../common/wire/header.js';
import { CheckFailure, ControlPeer, FramePeer, Violations, within, type Closed } from './peer.js';

/** The known source: the Fashion-MNIST test split, as the kit reads it from its own copy. */
export interface ReferenceSet {
  name: string;
  count: number;
  width: number;
  height: number;
  /** count × height × width gray bytes. */
  images: Uint8Array;
  labels: Uint8Array;
}

export interface CheckContext {
  control: string;
  reference: ReferenceSet;
  /** The server's session timeout (frame socket must connect within it). */
  sessionTimeoutMs: number;
  /** The server's largest accepted control message. */
  maxPayloadBytes: number;
  violations: Violations;
  /** Control connections opened by checks; closed at the end. */
  peers: Array<ControlPeer | FramePeer>;
  /**
   * State shared between checks: the exact-frames session is scored later, through the connection that
   * started it (a server may let only a session's own connection submit for it).
   */
  shared: {
    streamed?: { sessionId: string; sent: number; peer: ControlPeer };
    emptySession?: { sessionId: string; peer: ControlPeer };
    expiring?: Promise<string>;
  };
}

export interface Check {
  id: string;
  title: string;
  run: (ctx: CheckContext) => Promise<string>;
}

const CLASSES = 10;

function fail(message: string): never {
  throw new CheckFailure(message);
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) fail(message);
}

async function control(ctx: CheckContext): Promise<ControlPeer> {
  const peer = await ControlPeer.open(ctx.control, ctx.violations);
  ctx.peers.push(peer);
  return peer;
}

function frames(ctx: CheckContext, url: string): FramePeer {
  const peer = new FramePeer(url, ctx.violations);
  ctx.peers.push(peer);
  return peer;
}

async function start(
  peer: ControlPeer,
  request: Record<string, unknown>,
): Promise<Extract<ServerMessage, { type: 'session' }>> {
  return peer.expect({ type: 'start', ...request }, 'session');
}

/** The frames URL with another session id (the server's host and port, as it advertised them). */
function framesUrlFor(session: { framesUrl: string }, id: string | null): string {
  const url = new URL(session.framesUrl);
  if (id === null) url.search = '';
  else url.searchParams.set('session', id);
  return url.toString();
}

/** A frame socket the server must refuse: an `error` text with `code`, then close 1008 with `code` as reason. */
async function expectFrameSocketRefused(ctx: CheckContext, url: string, code: string): Promise<string> {
  const peer = frames(ctx, url);
  const [error, closed] = await within(
    Promise.all([peer.firstText(), peer.closed]),
    10_000,
    `refusal ${code}`,
  );
  assert(
    error.type === 'error' && error.code === code,
    `expected an error ${code} text, got ${JSON.stringify(error)}`,
  );
  assert(
    closed.code === 1008 && closed.reason === code,
    `expected close 1008 "${code}", got ${closeText(closed)}`,
  );
  assert(peer.frames.length === 0, `a refused frame socket got ${peer.frames.length} frames`);
  return `error ${code} as text, then close 1008 "${code}"`;
}

const closeText = (closed: Closed): string => `${closed.code} "${closed.reason}"`;

interface ResultsOptions {
  sessionId: string;
  sent: number | null;
  received: number;
  processed?: number;
  missing?: number;
  invalid?: Record<string, number>;
  seq: number[];
  label: number[];
  samples?: number[];
}

// A 1×1 gray PNG: samples must carry an image.
const TINY_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

/** A minimal results document as a third-party client builds it from schemas/results.schema.json. */
export function resultsDocument(options: ResultsOptions): Record<string, unknown> {
  const { seq, label } = options;
  return {
    format: 'framesift-results/1',
    framesiftVersion: 'framesift-conformance/1',
    sessionId: options.sessionId,
    mode: 'classify',
    createdAt: new Date().toISOString(),
    source: { name: 'fashion-mnist-test' },
    model: null,
    counts: {
      sent: options.sent,
      received: options.received,
      processed: options.processed ?? options.received,
      dropped: {},
      invalid: options.invalid ?? {},
      missing: options.missing ?? 0,
    },
    reconciliation: { reconciled: true, missingRanges: [] },
    predictions: { seq, label, confidence: seq.map(() => 1) },
    samples: (options.samples ?? []).map((s) => ({ seq: s, label: 0, confidence: 1, png: TINY_PNG })),
    summary: { predicted: seq.length, perClass: [] },
    timings: {},
  };
}

function near(actual: number | null | undefined, expected: number, what: string): void {
  assert(
    typeof actual === 'number' && Math.abs(actual - expected) < 1e-9,
    `${what}: expected ${expected}, got ${String(actual)}`,
  );
}

// ---- the checks ----

const statusCheck: Check = {
  id: 'status',
  title: '`status` lists sessions and sources (the known source among them) and the protocol version',
  async run(ctx) {
    const peer = await control(ctx);
    const status = await peer.expect({ type: 'status' }, 'status');
    assert(Array.isArray(status.sessions), 'status.sessions is not an array');
    assert(
      status.sources.includes(ctx.reference.name),
      `status.sources ${JSON.stringify(status.sources)} lacks ${ctx.reference.name}`,
    );
    assert(
      status.protocolVersion === PROTOCOL_VERSION,
      `status.protocolVersion ${String(status.protocolVersion)}, expected ${PROTOCOL_VERSION}`,
    );
    return `sources ${status.sources.join(', ')}; protocolVersion ${status.protocolVersion}`;
  },
};

const exactFrames: Check = {
  id: 'frames-exact',
  title: '100 frames at fps 0 equal the known source byte for byte; `end` + frame socket close 1000',
  async run(ctx) {
    const { reference } = ctx;
    const peer = await control(ctx);
    const count = 100;
    const session = await start(peer, { count, fps: 0, source: reference.name });
    assert(session.count === count, `session.count ${session.count}, expected ${count}`);
    assert(
      session.width === reference.width && session.height === reference.height && session.channels === 1,
      `session size ${session.width}x${session.height}x${session.channels}, expected ${reference.width}x${reference.height}x1`,
    );
    assert(
      session.protocolVersion === PROTOCOL_VERSION,
      `session.protocolVersion ${session.protocolVersion}`,
    );
    assert(
      new URL(session.framesUrl).searchParams.get('session') === session.sessionId,
      `framesUrl ${session.framesUrl} does not name the session`,
    );
    const socket = frames(ctx, session.framesUrl);
    // `end` travels on the control socket and may overtake the last frames: wait for both.
    const stamped = <T>(promise: Promise<T>) => promise.then((value) => [value, performance.now()] as const);
    const [[closed, closedAt], [end, endAt]] = await within(
      Promise.all([stamped(socket.closed), stamped(peer.next((m) => m.type === 'end', '"end"', 30_000))]),
      30_000,
      'the stream',
    );
    assert(end.type === 'end' && end.sent === count, `end ${JSON.stringify(end)}, expected sent ${count}`);
    assert(closed.code === 1000, `frame socket closed ${closeText(closed)}, expected 1000`);
    assert(socket.undecodable.length === 0, `undecodable frames: ${socket.undecodable[0]}`);
    assert(socket.texts.length === 0, `text on the frame socket: ${JSON.stringify(socket.texts[0])}`);
    assert(socket.frames.length === count, `${socket.frames.length} frames, expected ${count}`);
    const size = reference.width * reference.height;
    const now = Date.now();
    for (const [i, { frame }] of socket.frames.entries()) {
      const h = frame.header;
      assert(h.seq === i, `frame ${i} has seq ${h.seq}`);
      assert(h.encoding === FrameEncoding.raw && h.channels === 1, `frame ${i}: encoding ${h.encoding}`);
      assert(
        h.width === reference.width && h.height === reference.height,
        `frame ${i}: ${h.width}x${h.height}`,
      );
      assert(Math.abs(now - h.sentAt) < 600_000, `frame ${i}: sentAt ${h.sentAt} is not the current time`);
      const expected = reference.images.subarray(i * size, (i + 1) * size);
      assert(
        Buffer.from(frame.payload).equals(Buffer.from(expected)),
        `frame ${i}: pixels differ from image ${i}`,
      );
    }
    ctx.shared.streamed = { sessionId: session.sessionId, sent: count, peer };
    const gap = Math.abs(endAt - closedAt).toFixed(1);
    const order = endAt < closedAt ? `${gap} ms before` : `${gap} ms after`;
    return `${count} frames identical to ${reference.name} images 0-${count - 1}; end read ${order} the close 1000`;
  },
};

const startWithoutCount: Check = {
  id: 'start-without-count',
  title:
    '`start` without count reports the source size; unknown fields accepted; `stop` of a waiting session',
  async run(ctx) {
    const peer = await control(ctx);
    const session = await start(peer, { source: ctx.reference.name, fps: 5, colour: 'blue' });
    assert(
      session.count === ctx.reference.count,
      `session.count ${session.count}, expected the source size ${ctx.reference.count}`,
    );
    const stopped = await peer.expect({ type: 'stop', sessionId: session.sessionId }, 'stopped');
    assert(stopped.sent === 0, `stopped.sent ${stopped.sent} for a session never connected`);
    const status = await peer.expect({ type: 'status' }, 'status');
    const state = status.sessions.find((s) => s.sessionId === session.sessionId)?.state;
    assert(state === 'stopped', `state after stopping a waiting session: ${state}`);
    // Its frame socket is refused: the session is finished.
    await expectFrameSocketRefused(ctx, session.framesUrl, 'unknown-session');
    ctx.shared.emptySession = { sessionId: session.sessionId, peer };
    return `count ${session.count}; stopped with sent 0, state stopped`;
  },
};

const pacing: Check = {
  id: 'pacing',
  title: 'fps is kept: 20 frames at 50 fps, 20 ms apart (sentAt and arrival), `end.durationMs` about 400 ms',
  async run(ctx) {
    const peer = await control(ctx);
    const n = 20;
    const fps = 50;
    const session = await start(peer, { count: n, fps, source: ctx.reference.name });
    const socket = frames(ctx, session.framesUrl);
    const [closed, end] = await within(
      Promise.all([socket.closed, peer.next((m) => m.type === 'end', '"end"')]),
      10_000,
      'the paced stream',
    );
    assert(
      closed.code === 1000 && socket.frames.length === n,
      `${socket.frames.length} frames, ${closeText(closed)}`,
    );
    // Frame k is due at start + k periods, start being unknown to a client: frame 0 may leave up to a
    // period late while the rest keep the schedule. Judged by the server's own sentAt (ms resolution), and the
    // delivery by the median gap between arrivals (robust to a client that was busy for a moment).
    const period = 1000 / fps;
    const headers = socket.frames.map((f) => f.frame.header);
    const span = headers[n - 1]!.sentAt - headers[0]!.sentAt;
    assert(
      span >= (n - 2) * period - 2 && span <= (n - 1) * period + 100,
      `frames 0 to ${n - 1} sent over ${span} ms, expected ${(n - 1) * period} (-${period}, +100)`,
    );
    const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
    const sentGap = median(headers.slice(1).map((h, i) => h.sentAt - headers[i]!.sentAt));
    const arrivalGap = median(socket.frames.slice(1).map((f, i) => f.at - socket.frames[i]!.at));
    assert(Math.abs(sentGap - period) <= 2, `median gap between sentAt ${sentGap} ms, expected ${period}`);
    assert(Math.abs(arrivalGap - period) <= 5, `median gap between arrivals ${arrivalGap.toFixed(1)} ms`);
    const durationMs = end.type === 'end' ? end.durationMs : undefined;
    assert(
      durationMs === undefined ||
        (durationMs >= (n * 1000) / fps - 10 && durationMs <= (n * 1000) / fps + 150),
      `end.durationMs ${durationMs}, expected about ${(n * 1000) / fps}`,
    );
    return `sent over ${span} ms (expected ${(n - 1) * period}); median gaps: sentAt ${sentGap} ms, arrival ${arrivalGap.toFixed(1)} ms; end.durationMs ${durationMs}`;
  },
};

const stopStreaming: Check = {
  id: 'stop',
  title: '`stop` mid-stream: `stopped.sent` = frames delivered, frame socket closed 1000, no `end`',
  async run(ctx) {
    const peer = await control(ctx);
    const session = await start(peer, { count: 1000, fps: 100, source: ctx.reference.name });
    const socket = frames(ctx, session.framesUrl);
    await within(socket.framesArrived(5), 10_000, '5 frames');
    const stopped = await peer.expect({ type: 'stop', sessionId: session.sessionId }, 'stopped');
    const closed = await within(socket.closed, 10_000, 'frame socket close after stop');
    assert(closed.code === 1000, `frame socket closed ${closeText(closed)} after stop, expected 1000`);
    assert(
      socket.frames.length === stopped.sent,
      `stopped.sent ${stopped.sent} but ${socket.frames.length} frames arrived`,
    );
    // `status` is answered after anything the server sent before it, so an `end` would be queued by now.
    const status = await peer.expect({ type: 'status' }, 'status');
    assert(!peer.pending().some((m) => m.type === 'end'), 'an `end` followed `stopped`');
    const listed = status.sessions.find((s) => s.sessionId === session.sessionId);
    assert(
      listed?.state === 'stopped' && listed.sent === stopped.sent,
      `status lists ${JSON.stringify(listed)}`,
    );
    const again = await peer.expect({ type: 'stop', sessionId: session.sessionId }, 'stopped');
    assert(again.sent === stopped.sent, `a second stop says sent ${again.sent}`);
    return `stopped after ${stopped.sent} frames; socket 1000; no end; second stop same sent`;
  },
};

const controlErrors: Check = {
  id: 'errors-control',
  title:
    'bad requests on the control socket: bad-json, bad-message, unknown-type, unknown-session, unknown-source, binary-on-control, not-ready, invalid-results; connection stays open',
  async run(ctx) {
    const peer = await control(ctx);
    const cases: Array<[unknown, string]> = [
      ['{"type": "start", ', 'bad-json'],
      ['[1,2,3]', 'bad-message'],
      [{ count: 3 }, 'bad-message'],
      [{ type: 'start', count: 'ten' }, 'bad-message'],
      [{ type: 'start', count: 3, fps: -1 }, 'bad-message'],
      [{ type: 'start', count: ctx.reference.count + 1, source: ctx.reference.name }, 'bad-message'],
      [{ type: 'stop' }, 'bad-message'],
      [{ type: 'submit', sessionId: 'x' }, 'bad-message'],
      [{ type: 'launch' }, 'unknown-type'],
      [{ type: 'stop', sessionId: 'no-such-session' }, 'unknown-session'],
      [{ type: 'submit', sessionId: 'no-such-session', results: {} }, 'unknown-session'],
      [{ type: 'start', count: 3, source: '/etc/passwd' }, 'unknown-source'],
      [Buffer.from('FSF1'), 'binary-on-control'],
    ];
    for (const [message, code] of cases) await peer.expectError(message, code);
    const waiting = await start(peer, { count: 3, source: ctx.reference.name });
    const doc = resultsDocument({ sessionId: waiting.sessionId, sent: 3, received: 3, seq: [], label: [] });
    await peer.expectError({ type: 'submit', sessionId: waiting.sessionId, results: doc }, 'not-ready');
    await peer.expect({ type: 'stop', sessionId: waiting.sessionId }, 'stopped');
    const id = waiting.sessionId;
    const invalid: Array<[string, unknown]> = [
      ['results 42', 42],
      ['results an array', [doc]],
      ['an empty object', {}],
      ['another session id', { ...doc, sessionId: 'another' }],
      ['unequal columns', resultsDocument({ sessionId: id, sent: 0, received: 0, seq: [0, 1], label: [1] })],
      [
        'a repeated seq',
        resultsDocument({ sessionId: id, sent: 0, received: 0, seq: [1, 1], label: [1, 1] }),
      ],
      [
        'a decreasing seq',
        resultsDocument({ sessionId: id, sent: 0, received: 0, seq: [2, 1], label: [1, 1] }),
      ],
      ['a bad date-time', { ...doc, createdAt: '2026-13-45T25:61:00Z' }],
      ['a date-time of another form', { ...doc, createdAt: 'Mon, 30 Nov 2026 18:00:00 GMT' }],
    ];
    for (const [what, results] of invalid) {
      try {
        await peer.expectError({ type: 'submit', sessionId: id, results }, 'invalid-results');
      } catch (err) {
        fail(`${what}: ${(err as Error).message}`);
      }
    }
    await peer.expect({ type: 'status' }, 'status');
    return `${cases.length + 1 + invalid.length} bad requests, each its code; connection still answers`;
  },
};

const frameSocketErrors: Check = {
  id: 'errors-frame-socket',
  title:
    'frame socket: unknown or finished session → unknown-session; second socket → duplicate-frame-socket; text → text-on-frames (streaming goes on)',
  async run(ctx) {
    const peer = await control(ctx);
    const n = 30;
    const session = await start(peer, { count: n, fps: 30, source: ctx.reference.name });
    await expectFrameSocketRefused(ctx, framesUrlFor(session, 'no-such-session'), 'unknown-session');
    await expectFrameSocketRefused(ctx, framesUrlFor(session, null), 'unknown-session');
    const first = frames(ctx, session.framesUrl);
    await within(first.framesArrived(1), 10_000, 'the first frame');
    await expectFrameSocketRefused(ctx, session.framesUrl, 'duplicate-frame-socket');
    first.socket.send('hello');
    const error = await within(first.firstText(), 10_000, 'the text-on-frames error');
    assert(error.type === 'error' && error.code === 'text-on-frames', `got ${JSON.stringify(error)}`);
    const closed = await within(first.closed, 10_000, 'the end of the stream');
    assert(
      closed.code === 1000 && first.frames.length === n,
      `first socket: ${first.frames.length}/${n} frames, ${closeText(closed)}`,
    );
    await peer.next((m) => m.type === 'end' && m.sessionId === session.sessionId, '"end"');
    await expectFrameSocketRefused(ctx, session.framesUrl, 'unknown-session');
    return 'unknown id, no id, ended session: unknown-session; duplicate refused; text answered, all frames still came';
  },
};

const expiryStart: Check = {
  id: 'session-expired',
  title: 'a session whose frame socket never connects expires (`error` session-expired), late socket refused',
  async run(ctx) {
    const id = await within(
      ctx.shared.expiring ?? Promise.reject(new CheckFailure('expiry session was not started')),
      ctx.sessionTimeoutMs + expiryMargin(ctx),
      'session-expired',
    );
    const peer = await control(ctx);
    const status = await peer.expect({ type: 'status' }, 'status');
    const listed = status.sessions.find((s) => s.sessionId === id);
    // A server may show a client only its own sessions: then the expired one is not listed here.
    assert(listed === undefined || listed.state === 'expired', `status lists it as ${listed?.state}`);
    return `error session-expired with sessionId after ~${ctx.sessionTimeoutMs} ms; late frame socket refused`;
  },
};

/** How late after its timeout an expiry may be reported (timers and a loaded server). */
const expiryMargin = (ctx: CheckContext): number => Math.max(2000, ctx.sessionTimeoutMs / 2);

/** Starts the expiring session at the beginning, so the wait overlaps the other checks. */
export async function beginExpiry(ctx: CheckContext): Promise<void> {
  const peer = await control(ctx);
  const session = await start(peer, { count: 3, source: ctx.reference.name });
  ctx.shared.expiring = (async () => {
    const error = await peer.next(
      (m) => m.type === 'error' && m.sessionId === session.sessionId,
      'session-expired',
      ctx.sessionTimeoutMs + expiryMargin(ctx),
    );
    assert(error.type === 'error' && error.code === 'session-expired', `got ${JSON.stringify(error)}`);
    await expectFrameSocketRefused(ctx, session.framesUrl, 'session-expired');
    return session.sessionId;
  })();
  ctx.shared.expiring.catch(() => undefined);
}

const tooLarge: Check = {
  id: 'too-large',
  title: 'a control message over the server limit closes that connection with 1009',
  async run(ctx) {
    const peer = await control(ctx);
    peer.send('x'.repeat(ctx.maxPayloadBytes + 1));
    const closed = await within(peer.closed, 15_000, 'the 1009 close');
    assert(closed.code === 1009, `closed ${closeText(closed)}, expected 1009`);
    const other = await control(ctx);
    await other.expect({ type: 'status' }, 'status');
    return `${ctx.maxPayloadBytes + 1} bytes: closed 1009; the server still answers others`;
  },
};

const internal: Check = {
  id: 'internal',
  title: '`internal` (a source failing mid-stream) cannot be provoked from a client',
  run: () => Promise.resolve('not observable from a client'),
};

function expectedScore(labels: Uint8Array, sent: number, seq: number[], label: number[]) {
  const confusion = Array.from({ length: CLASSES }, () => new Array<number>(CLASSES).fill(0));
  let predicted = 0;
  let correct = 0;
  for (let i = 0; i < seq.length; i++) {
    if (seq[i]! >= sent) continue;
    predicted++;
    const truth = labels[seq[i]!]!;
    if (label[i]! >= CLASSES) continue;
    confusion[truth]![label[i]!]!++;
    if (truth === label[i]) correct++;
  }
  return { predicted, correct, confusion };
}

const scoring: Check = {
  id: 'scoring',
  title:
    'scoring: accuracy and confusion against the true labels; out-of-range labels, unsent seqs, sampleLabels by seq string; the reconcile rule; numbered resubmission',
  async run(ctx) {
    const streamed = ctx.shared.streamed ?? fail('needs the frames-exact session');
    const { labels } = ctx.reference;
    const { sessionId, sent, peer } = streamed;
    // 0-59 right, 60-89 wrong, 90-94 an out-of-range class, 95-99 not predicted, 100-101 never sent.
    const seq: number[] = [];
    const label: number[] = [];
    for (let s = 0; s < 102; s++) {
      if (s >= 95 && s < 100) continue;
      seq.push(s);
      const truth = s < sent ? labels[s]! : 0;
      label.push(s < 60 ? truth : s < 90 ? (truth + 1) % CLASSES : s < 95 ? CLASSES : 0);
    }
    const doc = resultsDocument({ sessionId, sent, received: sent, seq, label, samples: [3, 42, 150] });
    const first = await peer.expect({ type: 'submit', sessionId, results: doc }, 'scored', 60_000);
    const want = expectedScore(labels, sent, seq, label);
    assert(first.predicted === 95 && want.predicted === 95, `predicted ${first.predicted}, expected 95`);
    assert(first.correct === want.correct, `correct ${first.correct}, expected ${want.correct}`);
    near(first.accuracy, want.correct / 95, 'accuracy');
    near(first.coverage, 0.95, 'coverage');
    assert(first.labelled && first.sent === sent && first.received === sent, 'labelled/sent/received');
    assert(
      JSON.stringify(first.confusion) === JSON.stringify(want.confusion),
      'confusion differs from the local computation',
    );
    const total = first.confusion.flat().reduce((a, b) => a + b, 0);
    assert(total === 90, `confusion sums to ${total}, expected 90 (out-of-range left out)`);
    const rec = first.serverReconciliation;
    assert(rec.predictedLabelsOutOfRange === 5, `predictedLabelsOutOfRange ${rec.predictedLabelsOutOfRange}`);
    assert(rec.predictionsOutsideSession === 2, `predictionsOutsideSession ${rec.predictionsOutsideSession}`);
    assert(
      !rec.checks.predictionsWithinSession && !first.reconciled,
      'predictions for unsent seqs must unreconcile',
    );
    const sampleLabels = { '3': labels[3]!, '42': labels[42]! };
    assert(
      JSON.stringify(first.sampleLabels) === JSON.stringify(sampleLabels),
      `sampleLabels ${JSON.stringify(first.sampleLabels)}, expected ${JSON.stringify(sampleLabels)}`,
    );
    for (const c of first.perClass) {
      const support = want.confusion[c.label]!.reduce((a, b) => a + b, 0);
      assert(c.support === support, `perClass[${c.label}].support ${c.support}, expected ${support}`);
    }

    // All right, counts consistent, fewer predictions than processed frames: still reconciled.
    const all = Array.from({ length: sent }, (_, s) => s);
    const clean = resultsDocument({
      sessionId,
      sent,
      received: sent,
      seq: all.slice(0, 10),
      label: all.slice(0, 10).map((s) => labels[s]!),
    });
    const second = await peer.expect({ type: 'submit', sessionId, results: clean }, 'scored', 60_000);
    assert(
      second.reconciled,
      `processed 100 with 10 predictions should reconcile: ${JSON.stringify(second.serverReconciliation.checks)}`,
    );
    near(second.accuracy, 1, 'accuracy of right predictions');
    near(second.coverage, 0.1, 'coverage of 10 predictions');
    assert(
      typeof first.submission === 'number' && second.submission === first.submission + 1,
      `submission numbers ${first.submission}, ${second.submission}: expected consecutive`,
    );

    // received + missing must equal sent.
    const short = resultsDocument({ sessionId, sent, received: sent - 2, missing: 1, seq: [], label: [] });
    const third = await peer.expect({ type: 'submit', sessionId, results: short }, 'scored', 60_000);
    assert(
      !third.reconciled && !third.serverReconciliation.checks.receivedPlusMissingEqualsSent,
      'received + missing != sent must unreconcile',
    );
    assert(third.accuracy === null, `accuracy with no predictions: ${third.accuracy}, expected null`);
    assert(
      third.verdict === undefined ||
        (!third.verdict.complete && third.verdict.reasons.includes('not-reconciled')),
      `verdict of unreconciled counts: ${JSON.stringify(third.verdict)}`,
    );

    // Two repeated seqs received on top of every frame: invalid, unattributed, and still reconciled.
    const repeats = resultsDocument({
      sessionId,
      sent,
      received: sent + 2,
      processed: sent,
      invalid: { 'duplicate-seq': 2 },
      seq: [],
      label: [],
    });
    const fifth = await peer.expect({ type: 'submit', sessionId, results: repeats }, 'scored', 60_000);
    assert(
      fifth.reconciled && fifth.serverReconciliation.unattributed === 2,
      `duplicate-seq messages must be unattributed: ${JSON.stringify(fifth.serverReconciliation)}`,
    );
    assert(
      fifth.verdict === undefined || fifth.verdict.complete,
      `verdict of a reconciled, ended session: ${JSON.stringify(fifth.verdict)}`,
    );

    // A session that sent nothing: coverage 0, not null.
    const empty = ctx.shared.emptySession ?? fail('needs the start-without-count session');
    const none = resultsDocument({ sessionId: empty.sessionId, sent: 0, received: 0, seq: [], label: [] });
    const fourth = await empty.peer.expect(
      { type: 'submit', sessionId: empty.sessionId, results: none },
      'scored',
      60_000,
    );
    assert(
      fourth.coverage === 0 && fourth.sent === 0 && fourth.accuracy === null,
      `sent 0: ${JSON.stringify(fourth).slice(0, 160)}`,
    );
    return `accuracy ${first.accuracy?.toFixed(4)} = ${want.correct}/95, confusion 90, sampleLabels by seq; submissions ${first.submission}, ${second.submission}`;
  },
};

const schemaCheck: Check = {
  id: 'schema',
  title: 'every server message matched schemas/control-server.schema.json',
  run(ctx) {
    const { list, messages } = ctx.violations;
    if (list.length > 0) fail(`${list.length} of ${messages}: ${list[0]}`);
    return Promise.resolve(`${messages} messages`);
  },
};

/** In the order they run; `session-expired` waits for the session begun by beginExpiry. */
export const CHECKS: readonly Check[] = [
  statusCheck,
  exactFrames,
  startWithoutCount,
  pacing,
  stopStreaming,
  controlErrors,
  frameSocketErrors,
  scoring,
  tooLarge,
  expiryStart,
  internal,
  schemaCheck,
];
