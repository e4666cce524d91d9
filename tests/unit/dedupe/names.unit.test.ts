import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/common/errors.js';
import { sanitizeSaveName } from '../../../src/dedupe/../common/save-name.js';

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
    // Bidi override and isolate, zero-width joiner, line separator, DEL, no-break space.
    ['invoice\u202Egpj.exe', /bidi overrides/],
    ['a\u2066b', /bidi overrides/],
    ['a\u200Db', /invisible/],
    ['a\u2028b', /invisible/],
    ['a\u007Fb', /control characters/],
    ['a\u00A0b', /whitespace other than spaces/],
    // 100 characters of 3 bytes: within the character limit, over the byte limit (ENAMETOOLONG before).
    ['€'.repeat(100), /at most 200 UTF-8 bytes, got 300/],
  ])('rejects %j with a clear message', (name, message) => {
    expect(() => sanitizeSaveName(name)).toThrow(UserError);
    expect(() => sanitizeSaveName(name)).toThrow(message);
  });

  it('leaves room for the _N suffix: the longest accepted name plus _999999 fits a 255-byte file name', () => {
    const longest = 'é'.repeat(100); // 200 bytes
    expect(sanitizeSaveName(longest)).toBe(longest);
    expect(Buffer.byteLength(`${longest}_999999`)).toBeLessThanOrEqual(255);
  });

  it('shows a rejected name with its invisible characters escaped, never raw', () => {
    expect(() => sanitizeSaveName('x\u202Ey')).toThrow('"x\\u{202e}y"');
  });

  it('rejects non-strings', () => {
    expect(() => sanitizeSaveName(42)).toThrow(/expected a string/);
  });
});
