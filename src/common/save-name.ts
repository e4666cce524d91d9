/**
 * Save names (order numbers) become folder names under `<out>/uniques/`: they must not escape it, must fit
 * a file system's name limit with room for the `_<n>` suffix a repeated save gets, and must show as what
 * they are (no invisible or direction-changing characters).
 */
import { UserError } from './errors.js';
import { UNSAFE_CHARACTERS, quoted } from './text.js';

/** Most characters in a save name. */
export const MAX_SAVE_NAME_LENGTH = 100;
/**
 * Most UTF-8 bytes in a save name: file systems allow 255 bytes a name; the rest is room for the `_<n>`
 * suffix of a repeated save.
 */
export const MAX_SAVE_NAME_BYTES = 200;

/**
 * Checks a save name and returns it trimmed and NFC-normalised. Rejected (UserError, message naming the
 * name and the rule, never a server path): empty; over 100 characters or 200 UTF-8 bytes; a path separator
 * or `..`; a control, format (bidi overrides and isolates, zero-width), private-use, unassigned or
 * line-separator character; whitespace other than the plain space; a leading dot (hidden folders and the
 * store's own temp folders); any of `<>:"|?*`. Letters of any script, digits, spaces, `-`, `_`, `.`, `#`
 * and the like pass.
 */
export function sanitizeSaveName(raw: unknown): string {
  if (typeof raw !== 'string') {
    throw new UserError(`save name: expected a string (an order number), got ${typeof raw}`);
  }
  const name = raw.trim().normalize('NFC');
  const show = quoted(raw, 40);
  if (name.length === 0)
    throw new UserError('save name: expected an order number or name, got an empty string');
  if (name.length > MAX_SAVE_NAME_LENGTH) {
    throw new UserError(
      `save name ${show}: expected at most ${MAX_SAVE_NAME_LENGTH} characters, got ${name.length}`,
    );
  }
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_SAVE_NAME_BYTES) {
    throw new UserError(
      `save name ${show}: expected at most ${MAX_SAVE_NAME_BYTES} UTF-8 bytes, got ${bytes}`,
    );
  }
  if (/[/\\]/.test(name)) throw new UserError(`save name ${show}: path separators (/ or \\) are not allowed`);
  if (name.includes('..')) throw new UserError(`save name ${show}: ".." is not allowed`);
  if (UNSAFE_CHARACTERS.test(name)) {
    throw new UserError(
      `save name ${show}: control characters, bidi overrides, zero-width and other invisible characters are not allowed`,
    );
  }
  if (/[^\S ]/u.test(name))
    throw new UserError(`save name ${show}: whitespace other than spaces is not allowed`);
  if (name.startsWith('.')) throw new UserError(`save name ${show}: must not start with "."`);
  if (/[<>:"|?*]/.test(name)) throw new UserError(`save name ${show}: characters <>:"|?* are not allowed`);
  return name;
}
