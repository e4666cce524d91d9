/**
 * Pictures for the report: annotated sample cards, the contact sheet and the charts. Text is an SVG overlay
 * that sharp rasterises, drawn as outlines of the DejaVu Sans files shipped in fonts/ (src/common/text.ts),
 * so it does not depend on the fonts installed on the machine.
 */
import sharp from 'sharp';
import { fitText, svgText, type TextStyle } from '../common/font-text.js';
import type { FrameImage } from '../common/frame-image.js';
import type { Histogram } from './metrics.js';

/** The smallest side of a sample's image area: 28×28 frames are upscaled 6× with nearest-neighbour. */
export const SAMPLE_MIN_SIDE = 168;
/** Large frames (photos) are shrunk to about this box: the samples travel inside the document. */
const SAMPLE_MAX_SIDE = 320;
const CARD_MIN_WIDTH = 168;
const BAND_HEIGHT = 64;
const PAD = 6;

export const COLORS = {
  right: '#0a8a2a',
  wrong: '#d01818',
  unknown: '#777777',
  text: '#111111',
  band: '#ffffff',
  background: '#e9e9e9',
  bar: '#3b6fb6',
} as const;

function svgDocument(width: number, height: number, body: string): Buffer {
  return Buffer.from(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`,
  );
}

/** Text in the report's colour unless `fill` says otherwise. */
function label(
  value: string,
  x: number,
  y: number,
  size: number,
  style: Omit<TextStyle, 'size'> = {},
): string {
  return svgText(value, x, y, { size, fill: COLORS.text, ...style });
}

function sharpInput(image: FrameImage): sharp.Sharp {
  if (image.encoding === 0) {
    if (image.channels !== 1 && image.channels !== 3 && image.channels !== 4) {
      throw new Error(`raw frame with ${image.channels} channels: expected 1, 3 or 4`);
    }
    return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
  }
  return sharp(image.data);
}

/**
 * The frame as a display-size PNG without annotation: small frames upscaled by an integer factor with
 * nearest-neighbour (pixels stay crisp), large ones shrunk to fit SAMPLE_MAX_SIDE. Decodes JPEG/PNG frames.
 */
export async function displayImage(image: FrameImage): Promise<Buffer> {
  const input = sharpInput(image);
  const { width = image.width, height = image.height } =
    image.encoding === 0 ? image : await input.metadata();
  const small = Math.min(width, height);
  const large = Math.max(width, height);
  if (large > SAMPLE_MAX_SIDE) {
    // Fit the long side into SAMPLE_MAX_SIDE, but keep the short side at least 112 px (panoramas), and
    // never wider than 4 boxes.
    const scale = Math.min(Math.max(SAMPLE_MAX_SIDE / large, 112 / small), (4 * SAMPLE_MAX_SIDE) / large);
    return input
      .resize(Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale)), {
        fit: 'fill',
      })
      .png()
      .toBuffer();
  }
  const factor = Math.max(1, Math.ceil(SAMPLE_MIN_SIDE / small));
  return input
    .resize(width * factor, height * factor, { kernel: sharp.kernel.nearest })
    .png()
    .toBuffer();
}

export interface CardText {
  seq: number;
  predicted: string;
  confidence: number;
  /** The true label's name once the server scored the session. */
  truth?: string;
  correct?: boolean;
  /** Scored, but the server has no label for this frame (an unlabelled source). */
  scoredWithoutLabel?: boolean;
}

/** A sample card: the display image above a white band with the prediction and (after scoring) the truth. */
export async function renderSampleCard(display: Buffer, text: CardText): Promise<Buffer> {
  const meta = await sharp(display).metadata();
  const imageWidth = meta.width ?? SAMPLE_MIN_SIDE;
  const imageHeight = meta.height ?? SAMPLE_MIN_SIDE;
  const width = Math.max(CARD_MIN_WIDTH, imageWidth);
  const inner = width - 2 * PAD;
  const truthColor = text.truth === undefined ? COLORS.unknown : text.correct ? COLORS.right : COLORS.wrong;
  const truthLine =
    text.truth === undefined
      ? text.scoredWithoutLabel
        ? 'true: unknown'
        : 'true: not scored yet'
      : `true: ${fitText(text.truth, inner - 60, 14, true)} ${text.correct ? '✓' : '✗'}`;
  const band = svgDocument(
    width,
    BAND_HEIGHT,
    `<rect width="${width}" height="${BAND_HEIGHT}" fill="${COLORS.band}"/>` +
      label(fitText(text.predicted, inner, 15, true), PAD, 18, 15, { bold: true }) +
      label(`conf ${text.confidence.toFixed(4)}  #${text.seq}`, PAD, 37, 13) +
      label(truthLine, PAD, 57, 14, { bold: true, fill: truthColor }),
  );
  return sharp({
    create: { width, height: imageHeight + BAND_HEIGHT, channels: 3, background: COLORS.background },
  })
    .composite([
      { input: display, top: 0, left: Math.floor((width - imageWidth) / 2) },
      { input: band, top: imageHeight, left: 0 },
    ])
    .png()
    .toBuffer();
}

/** All cards in a grid (5 per row) under a title line. */
export async function renderContactSheet(cards: Buffer[], title: string, columns = 5): Promise<Buffer> {
  const sizes = await Promise.all(cards.map((card) => sharp(card).metadata()));
  const cellWidth = Math.max(CARD_MIN_WIDTH, ...sizes.map((m) => m.width ?? 0));
  const cellHeight = Math.max(1, ...sizes.map((m) => m.height ?? 0));
  const gap = 8;
  const titleHeight = 34;
  const cols = Math.max(1, Math.min(columns, cards.length));
  const rows = Math.max(1, Math.ceil(cards.length / cols));
  // Wide enough for the title even with one card or none.
  const width = Math.max(560, cols * cellWidth + (cols + 1) * gap);
  const height = titleHeight + rows * cellHeight + (rows + 1) * gap;
  const header = svgDocument(
    width,
    titleHeight,
    label(fitText(title, width - 2 * gap, 17, true), gap, 24, 17, { bold: true }),
  );
  const layers: sharp.OverlayOptions[] = [{ input: header, top: 0, left: 0 }];
  cards.forEach((card, i) => {
    const col = i % cols;
    const row = Math.floor(i / cols);
    const cardWidth = sizes[i]?.width ?? cellWidth;
    layers.push({
      input: card,
      left: gap + col * (cellWidth + gap) + Math.floor((cellWidth - cardWidth) / 2),
      top: titleHeight + gap + row * (cellHeight + gap),
    });
  });
  return sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
    .composite(layers)
    .png()
    .toBuffer();
}

async function svgToPng(svg: Buffer): Promise<Buffer> {
  return sharp(svg).flatten({ background: '#ffffff' }).png().toBuffer();
}

export interface BarRow {
  name: string;
  count: number;
  /** Extra text after the count, e.g. the mean confidence. */
  note?: string;
}

/** A horizontal bar chart: one row per class, bars proportional to the count. */
export async function renderBarChart(title: string, rows: BarRow[]): Promise<Buffer> {
  const width = 720;
  const rowHeight = 26;
  const top = 44;
  const labelWidth = 150;
  const noteWidth = 250;
  const barArea = width - labelWidth - noteWidth - 20;
  const height = top + Math.max(1, rows.length) * rowHeight + 16;
  const max = Math.max(1, ...rows.map((r) => r.count));
  let body = `<rect width="${width}" height="${height}" fill="#ffffff"/>`;
  body += label(fitText(title, width - 20, 17, true), 10, 26, 17, { bold: true });
  if (rows.length === 0) body += label('no predictions', 10, top + 18, 14);
  rows.forEach((row, i) => {
    const y = top + i * rowHeight;
    const barWidth = Math.round((row.count / max) * barArea);
    body +=
      label(fitText(row.name, labelWidth - 14, 14), labelWidth, y + 17, 14, { anchor: 'end' }) +
      `<rect x="${labelWidth + 8}" y="${y + 4}" width="${Math.max(barWidth, row.count > 0 ? 1 : 0)}" height="${rowHeight - 8}" fill="${COLORS.bar}"/>` +
      label(`${row.count}${row.note ? `  ·  ${row.note}` : ''}`, labelWidth + 14 + barWidth, y + 17, 13);
  });
  return svgToPng(svgDocument(width, height, body));
}

/** A latency histogram with the p50/p90/p99 marked. */
export async function renderHistogram(
  title: string,
  hist: Histogram,
  markers: Array<{ label: string; value: number }>,
  unit: string,
): Promise<Buffer> {
  const width = 720;
  const height = 380;
  const left = 64;
  const right = 20;
  const top = 48;
  const bottom = 56;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const total = hist.counts.reduce((a, b) => a + b, 0);
  const max = Math.max(1, ...hist.counts);
  const range = hist.binWidth * hist.counts.length;
  const barWidth = plotWidth / Math.max(1, hist.counts.length);
  const x = (value: number): number => left + (Math.min(value, range) / range) * plotWidth;
  let body = `<rect width="${width}" height="${height}" fill="#ffffff"/>`;
  body += label(fitText(title, width - 20, 17, true), 10, 26, 17, { bold: true });
  if (total === 0) {
    body += label('no timed frames', left, top + 30, 14);
    return svgToPng(svgDocument(width, height, body));
  }
  hist.counts.forEach((count, i) => {
    const h = (count / max) * plotHeight;
    body += `<rect x="${(left + i * barWidth + 1).toFixed(1)}" y="${(top + plotHeight - h).toFixed(1)}" width="${Math.max(1, barWidth - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS.bar}"/>`;
  });
  // Axes with 5 ticks each.
  body += `<line x1="${left}" y1="${top + plotHeight}" x2="${width - right}" y2="${top + plotHeight}" stroke="#333"/>`;
  body += `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotHeight}" stroke="#333"/>`;
  for (let t = 0; t <= 5; t++) {
    const value = (range * t) / 5;
    const tx = left + (plotWidth * t) / 5;
    const tick = `${formatTick(value)}${t === 5 && hist.overflow > 0 ? '+' : ''}`;
    body += label(tick, tx, top + plotHeight + 18, 12, { anchor: 'middle' });
    const count = Math.round((max * t) / 5);
    const ty = top + plotHeight - (plotHeight * t) / 5;
    body += label(String(count), left - 6, ty + 4, 12, { anchor: 'end' });
  }
  const axis = `${unit} (n = ${total}${hist.overflow > 0 ? `, ${hist.overflow} above range in last bin` : ''})`;
  body += label(axis, left + plotWidth / 2, height - 14, 13, { anchor: 'middle' });
  markers.forEach((marker, i) => {
    const mx = x(marker.value);
    body += `<line x1="${mx.toFixed(1)}" y1="${top}" x2="${mx.toFixed(1)}" y2="${top + plotHeight}" stroke="${COLORS.wrong}" stroke-dasharray="4 3"/>`;
    // A white halo keeps the label readable where it crosses a bar.
    body += label(`${marker.label} ${formatTick(marker.value)}`, mx + 4, top + 14 + i * 16, 12, {
      fill: COLORS.wrong,
      attributes: 'stroke="#ffffff" stroke-width="4" paint-order="stroke"',
    });
  });
  return svgToPng(svgDocument(width, height, body));
}

function formatTick(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
