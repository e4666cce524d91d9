/** "0-4, 7, 9-12" — seq ranges as a person reads them, at most `limit` shown. */
export function formatRanges(ranges: ReadonlyArray<readonly [number, number]>, limit = 20): string {
  if (ranges.length === 0) return 'none';
  const shown = ranges.slice(0, limit).map(([from, to]) => (from === to ? `${from}` : `${from}–${to}`));
  const more = ranges.length - shown.length;
  return more > 0 ? `${shown.join(', ')} … and ${more} more range(s)` : shown.join(', ');
}
