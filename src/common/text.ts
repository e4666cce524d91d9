/**
 * Bounding strings a peer controls before they are echoed in a reply or written to a log: a 100 KB
 * session id must not become a 100 KB error message or log line.
 */

/** Longest peer-supplied string echoed in a reply or an error message, in characters. */
export const ECHO_LIMIT = 120;

/** Longest string field of a log line, in characters (the logger bounds every field to this). */
export const LOG_FIELD_LIMIT = 2048;

/**
 * `text` cut to at most `max` characters (plus a marker saying how much was cut); never splits a
 * surrogate pair. Short strings come back unchanged.
 */
export function bounded(text: string, max = ECHO_LIMIT): string {
  if (text.length <= max) return text;
  let cut = max;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…(+${text.length - cut} chars)`;
}

/**
 * Invisible and direction-changing characters (controls, bidi overrides and isolates, zero-width and
 * other format characters, unpaired surrogates, private use, unassigned, line/paragraph separators):
 * they must never reach a folder name, and are escaped wherever a peer's text is shown.
 */
export const UNSAFE_CHARACTERS = /[\p{C}\p{Zl}\p{Zp}]/u;
const UNSAFE_CHARACTERS_ALL = /[\p{C}\p{Zl}\p{Zp}]/gu;

/** `text` with every unsafe character written as `\u{…}`, so what is shown is what was sent. */
export function printable(text: string): string {
  return text.replace(UNSAFE_CHARACTERS_ALL, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

/** A peer-supplied value as it may appear in a message: bounded, unsafe characters escaped, quoted. */
export function quoted(value: unknown, max = ECHO_LIMIT): string {
  const text = typeof value === 'string' ? value : String(value);
  return `"${printable(bounded(text, max))}"`;
}

/**
 * A copy of a log record's fields with every string bounded to `max` characters, nested objects and
 * arrays included (to `depth` levels; deeper values are replaced by a marker).
 */
export function boundedFields(value: unknown, max = LOG_FIELD_LIMIT, depth = 4): unknown {
  if (typeof value === 'string') return bounded(value, max);
  if (value === null || typeof value !== 'object') return value;
  if (depth === 0) return '[nested too deep]';
  if (Array.isArray(value)) {
    const items = value.slice(0, 100).map((v) => boundedFields(v, max, depth - 1));
    if (value.length > 100) items.push(`…(+${value.length - 100} items)`);
    return items;
  }
  if (value instanceof Error) return bounded(value.stack ?? value.message, max * 4);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[bounded(k, 64)] = boundedFields(v, max, depth - 1);
  return out;
}
