/**
 * Result submissions: validate the results document, score it against the labels the server kept,
 * persist the submission and its score, answer `scored`.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WebSocket } from 'ws';
import { errorMessage } from '../../common/errors.js';
import { loggerFor } from '../../common/logger.js';
import { validateResultsDocument } from '../../common/results-document.js';
import type { ScoredMessage, ServerMessage, SubmitRequest } from '../../common/wire/control.js';
import { submissions } from '../metrics.js';
import { scoreSubmission } from '../scoring.js';
import { ProtocolError } from './protocol-error.js';
import { endingOf, isFinished, type SessionTable } from './session-table.js';

const log = loggerFor('stream.submissions');

export class Submissions {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly table: SessionTable,
    private readonly resultsDir: string,
    private readonly send: (socket: WebSocket, message: ServerMessage) => void,
  ) {}

  async submit(request: SubmitRequest, control: WebSocket): Promise<void> {
    const session = this.table.get(request.sessionId);
    if (!session) {
      submissions.inc({ outcome: 'unknown-session' });
      throw new ProtocolError('unknown-session', `submit: no session "${request.sessionId}"`);
    }
    if (!isFinished(session)) {
      submissions.inc({ outcome: 'not-ready' });
      throw new ProtocolError(
        'not-ready',
        `submit: session ${session.id} is still ${session.state}; submit after end or stop`,
      );
    }
    const validation = validateResultsDocument(request.results);
    if (!validation.ok) {
      submissions.inc({ outcome: 'invalid' });
      throw new ProtocolError('invalid-results', `submit: invalid results document: ${validation.errors}`);
    }
    if (validation.document.sessionId !== session.id) {
      submissions.inc({ outcome: 'invalid' });
      throw new ProtocolError(
        'invalid-results',
        `submit: results.sessionId "${validation.document.sessionId}" does not match sessionId "${session.id}"`,
      );
    }
    const score = scoreSubmission(validation.document, session.sent, session.labels, endingOf(session));
    session.submissions++;
    const scored: ScoredMessage = { type: 'scored', sessionId: session.id, ...score };
    const writing = this.persist(session.id, session.submissions, request.results, scored).then(
      (files) => {
        log.info('submission scored', {
          sessionId: session.id,
          accuracy: score.accuracy,
          reconciled: score.reconciled,
          complete: score.verdict.complete,
          files,
        });
      },
      (err: unknown) => {
        log.error('cannot persist submission', { sessionId: session.id, error: errorMessage(err) });
      },
    );
    this.pending.add(writing);
    void writing.finally(() => this.pending.delete(writing));
    await writing;
    submissions.inc({ outcome: 'scored' });
    this.send(control, scored);
  }

  /** Resolves when every submission being written is on disk (server shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.pending]);
  }

  private async persist(
    sessionId: string,
    n: number,
    submission: unknown,
    score: unknown,
  ): Promise<string[]> {
    const dir = path.join(this.resultsDir, sessionId);
    await mkdir(dir, { recursive: true });
    const written: string[] = [];
    for (const [name, value] of [
      [`submission-${n}.json`, submission],
      [`score-${n}.json`, score],
    ] as const) {
      const file = path.join(dir, name);
      const temp = `${file}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(value, null, 1));
      await rename(temp, file);
      written.push(file);
    }
    return written;
  }
}
