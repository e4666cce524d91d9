/**
 * Text in the images framesift writes (sample cards, contact sheets, charts), drawn as SVG outlines from the
 * DejaVu Sans files shipped in fonts/. librsvg never looks a font up, so the text is the same, and legible,
 * on a machine with no fonts installed at all.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import opentype from 'opentype.js';
import { PROJECT_ROOT } from './paths.js';

export const FONTS_DIR = path.join(PROJECT_ROOT, 'fonts');
export const FONT_FILES = { regular: 'DejaVuSans.ttf', bold: 'DejaVuSans-Bold.ttf' } as const;

const fonts = new Map<keyof typeof FONT_FILES, opentype.Font>();

/** The shipped font (parsed once per thread); a missing file says the installation is incomplete. */
export function font(weight: keyof typeof FONT_FILES = 'regular'): opentype.Font {
  let loaded = fonts.get(weight);
  if (!loaded) {
    const file = path.join(FONTS_DIR, FONT_FILES[weight]);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      throw new Error(
        `font file ${file} cannot be read (${(err as Error).message}): framesift ships it in fonts/`,
      );
    }
    loaded = opentype.parse(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    fonts.set(weight, loaded);
  }
  return loaded;
}

export interface TextStyle {
  /** Font size in px (the em size, as SVG's font-size). */
  size: number;
  bold?: boolean;
  /** Where `x` is on the text, as SVG's text-anchor. */
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
  /** More SVG attributes for the path, e.g. a halo: `stroke="#fff" stroke-width="4" paint-order="stroke"`. */
  attributes?: string;
}

/** Advance width of `text` in px. */
export function textWidth(text: string, size: number, bold = false): number {
  return font(bold ? 'bold' : 'regular').getAdvanceWidth(text, size);
}

/** `text` as it fits in `width` px: whole, or cut with an ellipsis. */
export function fitText(text: string, width: number, size: number, bold = false): string {
  if (textWidth(text, size, bold) <= width) return text;
  let low = 0;
  let high = text.length;
  // The longest prefix that fits with the ellipsis (binary search: widths grow with the prefix).
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (textWidth(`${text.slice(0, mid)}…`, size, bold) <= width) low = mid;
    else high = mid - 1;
  }
  return `${text.slice(0, low)}…`;
}

/** An SVG `<path>` drawing `text` with its baseline starting (or centred, or ending) at (x, y). */
export function svgText(text: string, x: number, y: number, style: TextStyle): string {
  const bold = style.bold ?? false;
  const width = textWidth(text, style.size, bold);
  const left = style.anchor === 'middle' ? x - width / 2 : style.anchor === 'end' ? x - width : x;
  const d = font(bold ? 'bold' : 'regular')
    .getPath(text, left, y, style.size)
    .toPathData(2);
  const extra = style.attributes ? ` ${style.attributes}` : '';
  return `<path d="${d}" fill="${style.fill ?? '#111111'}"${extra}/>`;
}
