import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/common/errors.js';
import { sanitizeSaveName } from '../../../src/dedupe/index.js';

describe('save names', () => {
  it('accepts order numbers and plain names, trimmed', () => {
    expect(sanitizeSaveName('  4711 ')).toBe('4711');
    expect(sanitizeSaveName('order-2024_03.b#7')).toBe('order-2024_03.b#7');
    expect(sanitizeSaveName('Bestellung Ä')).toBe('Bestellung Ä');
  });

  it.each([
    ['', /empty/],
    ['../etc', /"\.\." is not allowed|path separators/],
    ['a/b', /path separators/],
    ['a\\b', /path separators/],
    ['..', /"\.\."/],
    ['.hidden', /must not start with "\."/],
    ['x'.repeat(101), /at most 100 characters/],
    ['a\u0000b', /control characters/],
    ['a:b', /not allowed/],
  ])('rejects %j with a clear message', (name, message) => {
    expect(() => sanitizeSaveName(name)).toThrow(UserError);
    expect(() => sanitizeSaveName(name)).toThrow(message);
  });

  it('rejects non-strings', () => {
    expect(() => sanitizeSaveName(42)).toThrow(/expected a string/);
  });
});
