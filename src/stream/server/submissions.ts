/**
 * Result submissions: check the message (parse, nesting, schema — on a worker thread when large), check
 * who sends it (the session's owner, or a connection with its secret) and how often (at most
 * `maxSubmissions` per session), score it against the labels the server kept, persist the submission
 * and its score compactly, and only then answer `scored`. A submission that cannot be persisted is an
 * `internal` error, never scored.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WebSocket } from 'ws';
import { errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { validateResultsDocument } from '../../common/results-document.js';
import { quoted } from '../../common/text.js';
import type { ScoredMessage, ServerMessage, SubmitRequest } from '../../common/wire/control.js';
import { submissions } from '../metrics.js';
import { scoreSubmission } from '../scoring.js';
import type { SubmissionCheck } from '../submission-check.js';
import { ProtocolError } from './protocol-error.js';
import { claim, endingOf, isFinished, type Session, type SessionTable } from './session-table.js';

const log = loggerFor('stream.submissions');

type CheckedSubmission = Extract<SubmissionCheck, { ok: true }>;

export class Submissions {
  private readonly pending = new Set<Promise<string[]>>();

  constructor(
    private readonly table: SessionTable,
    private readonly resultsDir: string,
    private readonly send: (socket: WebSocket, message: ServerMessage) => void,
    private readonly maxSubmissions = 10,
  ) {}

  /**
   * A small submission, parsed on the event loop: who and when are checked first (an unknown or foreign
   * session is said so, whatever the document), then the document.
   */
  async submit(request: SubmitRequest, control: WebSocket): Promise<void> {
    this.admit(request.sessionId, request.secret, control);
    const validation = validateResultsDocument(request.results);
    if (!validation.ok) {
      submissions.inc({ outcome: 'invalid' });
      throw new ProtocolError('invalid-results', `submit: invalid results document: ${validation.errors}`);
    }
    return this.accept(
      {
        ok: true,
        sessionId: request.sessionId,
        ...(request.secret !== undefined ? { secret: request.secret } : {}),
        document: validation.document,
        compact: JSON.stringify(request.results),
      },
      control,
    );
  }

  /** The session `sessionId`, if `control` may submit for it now; else the ProtocolError saying why not. */
  private admit(sessionId: string, secret: string | undefined, control: WebSocket): Session {
    const session = this.table.get(sessionId);
    if (!session) {
      submissions.inc({ outcome: 'unknown-session' });
      throw new ProtocolError('unknown-session', `submit: no session ${quoted(sessionId)}`);
    }
    if (!claim(session, control, secret)) {
      submissions.inc({ outcome: 'not-owner' });
      throw new ProtocolError(
        'not-owner',
        `submit: session ${session.id} belongs to another control connection (send its secret to take it over)`,
      );
    }
    if (!isFinished(session)) {
      submissions.inc({ outcome: 'not-ready' });
      throw new ProtocolError(
        'not-ready',
        `submit: session ${session.id} is still ${session.state}; submit after end or stop`,
      );
    }
    if (session.submissions >= this.maxSubmissions) {
      submissions.inc({ outcome: 'too-many' });
      throw new ProtocolError(
        'too-many-submissions',
        `submit: session ${session.id} already has ${session.submissions} submissions (at most ${this.maxSubmissions})`,
      );
    }
    return session;
  }

  /** A checked submission (valid document): admitted, scored, persisted, answered. */
  async accept(check: CheckedSubmission, control: WebSocket): Promise<void> {
    const session = this.admit(check.sessionId, check.secret, control);
    if (check.document.sessionId !== session.id) {
      submissions.inc({ outcome: 'invalid' });
      throw new ProtocolError(
        'invalid-results',
        `submit: results.sessionId ${quoted(check.document.sessionId)} does not match sessionId "${session.id}"`,
      );
    }
    const score = scoreSubmission(check.document, session.sent, session.labels, endingOf(session));
    const n = ++session.submissions;
    const scored: ScoredMessage = { type: 'scored', sessionId: session.id, submission: n, ...score };
    const writing = this.persist(session.id, n, check.compact, JSON.stringify(scored));
    this.pending.add(writing);
    void writing.finally(() => this.pending.delete(writing)).catch(() => undefined);
    try {
      const files = await writing;
      log.info('submission scored', {
        sessionId: session.id,
        accuracy: score.accuracy,
        reconciled: score.reconciled,
        complete: score.verdict.complete,
        files,
      });
    } catch (err) {
      session.submissions--;
      submissions.inc({ outcome: 'not-persisted' });
      log.error('cannot persist submission', { sessionId: session.id, error: errorMessage(err) });
      throw new ProtocolError(
        'internal',
        `submit: the submission for session ${session.id} could not be stored, so it is not scored (details in the server log)`,
      );
    }
    submissions.inc({ outcome: 'scored' });
    this.send(control, scored);
  }

  /** Resolves when every submission being written is on disk (server shutdown). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  /** Writes the submission and its score (compact JSON, each through a temp file and a rename). */
  private async persist(sessionId: string, n: number, submission: string, score: string): Promise<string[]> {
    const dir = path.join(this.resultsDir, sessionId);
    await mkdir(dir, { recursive: true });
    const written: string[] = [];
    for (const [name, text] of [
      [`submission-${n}.json`, submission],
      [`score-${n}.json`, score],
    ] as const) {
      const file = path.join(dir, name);
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, text);
      await rename(temp, file);
      written.push(file);
    }
    return written;
  }
}
