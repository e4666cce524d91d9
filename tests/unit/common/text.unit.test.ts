import { Writable } from 'node:stream';
import winston from 'winston';
import { describe, expect, it } from 'vitest';
import { logger } from '../../../src/common/logger.js';
import { LOG_FIELD_LIMIT, bounded, boundedFields, printable, quoted } from '../../../src/common/text.js';

describe('bounded strings', () => {
  it('cuts long strings and says how much was cut; short ones pass unchanged', () => {
    expect(bounded('abc', 5)).toBe('abc');
    expect(bounded('x'.repeat(100_000), 10)).toBe(`${'x'.repeat(10)}…(+99990 chars)`);
  });

  it('never splits a surrogate pair', () => {
    const cut = bounded('a😀b', 2);
    expect(cut.startsWith('a…')).toBe(true);
    expect(cut).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('escapes invisible and direction-changing characters when showing peer text', () => {
    expect(printable('a\u202Eb\u0000c\u200Dd')).toBe('a\\u{202e}b\\u{0}c\\u{200d}d');
    expect(quoted('id\u2066' + 'y'.repeat(500), 8)).toBe('"id\\u{2066}yyyyy…(+495 chars)"');
  });

  it('bounds every string of a nested record, and cuts depth and long arrays', () => {
    const record = boundedFields(
      { a: 'x'.repeat(5000), nested: { list: ['y'.repeat(5000)], deep: { deeper: { deepest: { x: 1 } } } } },
      100,
      4,
    ) as Record<string, unknown>;
    expect((record.a as string).length).toBeLessThan(130);
    expect(JSON.stringify(record).length).toBeLessThan(400);
    expect(JSON.stringify(record)).toContain('[nested too deep]');
    expect((boundedFields(Array.from({ length: 1000 }, () => 1)) as unknown[]).length).toBe(101);
  });

  it('the logger writes no line longer than the bounds allow, whatever a peer sent', () => {
    const lines: string[] = [];
    const transport = new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    });
    logger.add(transport);
    try {
      const huge = 's'.repeat(1024 * 1024);
      logger.warn(`unknown session ${huge}`, { sessionId: huge, nested: { echo: huge } });
    } finally {
      logger.remove(transport);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(4 * LOG_FIELD_LIMIT);
    expect(lines[0]).toContain('…(+');
  });
});
