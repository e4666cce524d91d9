/** Save names (order numbers) become folder names: they must not escape `<out>/uniques/`. */
import { UserError } from './errors.js';

export const MAX_SAVE_NAME_LENGTH = 100;

/**
 * Checks a save name and returns it trimmed. Rejected (UserError): empty, longer than 100 characters,
 * containing a path separator, `..`, a control character, or starting with a dot (hidden folders and the
 * store's own temp folders). Letters of any script, digits, spaces, `-`, `_`, `.`, `#` and the like pass.
 */
export function sanitizeSaveName(raw: unknown): string {
  if (typeof raw !== 'string') {
    throw new UserError(`save name: expected a string (an order number), got ${typeof raw}`);
  }
  const name = raw.trim();
  const show = JSON.stringify(raw.length > 40 ? raw.slice(0, 40) + '…' : raw);
  if (name.length === 0)
    throw new UserError('save name: expected an order number or name, got an empty string');
  if (name.length > MAX_SAVE_NAME_LENGTH) {
    throw new UserError(
      `save name ${show}: expected at most ${MAX_SAVE_NAME_LENGTH} characters, got ${name.length}`,
    );
  }
  if (/[/\\]/.test(name)) throw new UserError(`save name ${show}: path separators (/ or \\) are not allowed`);
  if (name.includes('..')) throw new UserError(`save name ${show}: ".." is not allowed`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name))
    throw new UserError(`save name ${show}: control characters are not allowed`);
  if (name.startsWith('.')) throw new UserError(`save name ${show}: must not start with "."`);
  if (/[<>:"|?*]/.test(name)) throw new UserError(`save name ${show}: characters <>:"|?* are not allowed`);
  return name;
}
