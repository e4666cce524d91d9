import { describe, expect, it } from 'vitest';
import { MAX_SUBMIT_DEPTH, checkSubmission, jsonDepth } from '../../../src/stream/submission-check.js';
import { SubmissionChecker } from '../../../src/stream/submission-checker.js';

describe('submission check (runs on a worker thread)', () => {
  it('measures nesting on the text, ignoring brackets inside strings', () => {
    expect(jsonDepth('{"a":[1,{"b":"[[[["}]}')).toBe(3);
    expect(jsonDepth('"\\"[[["')).toBe(0);
    expect(jsonDepth('['.repeat(20_000) + ']'.repeat(20_000))).toBe(MAX_SUBMIT_DEPTH + 1);
  });

  it('refuses a document nested 20,000 deep as invalid-results, before parsing it', () => {
    const text = `{"type":"submit","sessionId":"s","results":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;
    const check = checkSubmission(text);
    expect(check).toMatchObject({ ok: false, code: 'invalid-results' });
    expect(check.ok ? '' : check.message).toMatch(/nested deeper than 64/);
  });

  it('answers bad JSON, a bad submit and an invalid document with their codes and bounded messages', () => {
    expect(checkSubmission('{"type":"submit",')).toMatchObject({ ok: false, code: 'bad-json' });
    expect(
      checkSubmission('{"type":"submit","sessionId":"' + 'x'.repeat(1000) + '","results":{}}'),
    ).toMatchObject({ ok: false, code: 'bad-message' });
    const invalid = checkSubmission('{"type":"submit","sessionId":"s","results":{"x":1}}');
    expect(invalid).toMatchObject({ ok: false, code: 'invalid-results', sessionId: 's' });
    expect(invalid.ok ? 0 : invalid.message.length).toBeLessThan(600);
  });

  it('the checker answers in order from its worker and refuses past its queue bound', async () => {
    const checker = new SubmissionChecker(2);
    try {
      const a = checker.check('{"type":"submit",');
      const b = checker.check('[1]');
      await expect(checker.check('{}')).rejects.toThrow();
      expect(await a).toMatchObject({ ok: false, code: 'bad-json' });
      expect(await b).toMatchObject({ ok: false, code: 'bad-message' });
    } finally {
      await checker.close();
    }
  });
});
