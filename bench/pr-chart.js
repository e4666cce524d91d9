// Precision/recall chart as SVG, rendered to PNG with sharp: one panel per method, one curve per data set
// (points = the threshold sweep), the default threshold's point ringed. Text is drawn with the shipped font.
import sharp from 'sharp';
import { svgText } from '../dist/common/font-text.js';

const COLORS = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00'];

export async function renderPrChart(panels, file) {
  const pw = 380;
  const ph = 340;
  const m = { l: 52, r: 14, t: 34, b: 46 };
  const cols = Math.min(3, panels.length);
  const rows = Math.ceil(panels.length / cols);
  const W = cols * pw;
  const H = rows * ph + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  const sets = [...new Set(panels.flatMap((p) => p.curves.map((c) => c.set)))];
  sets.forEach((s, i) => {
    const x = 10 + i * 170;
    parts.push(`<rect x="${x}" y="${H - 28}" width="14" height="14" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(svgText(s, x + 20, H - 16, { size: 13 }));
  });
  panels.forEach((panel, k) => {
    const ox = (k % cols) * pw;
    const oy = Math.floor(k / cols) * ph;
    const x = (r) => ox + m.l + r * (pw - m.l - m.r);
    const y = (p) => oy + m.t + (1 - p) * (ph - m.t - m.b);
    parts.push(svgText(panel.title, ox + pw / 2, oy + 20, { size: 14, anchor: 'middle', bold: true }));
    for (let g = 0; g <= 10; g += 2) {
      const v = g / 10;
      parts.push(`<line x1="${x(0)}" y1="${y(v)}" x2="${x(1)}" y2="${y(v)}" stroke="#ddd"/>`);
      parts.push(`<line x1="${x(v)}" y1="${y(0)}" x2="${x(v)}" y2="${y(1)}" stroke="#ddd"/>`);
      parts.push(svgText(v.toFixed(1), x(0) - 6, y(v) + 4, { size: 11, anchor: 'end' }));
      parts.push(svgText(v.toFixed(1), x(v), y(0) + 16, { size: 11, anchor: 'middle' }));
    }
    parts.push(
      `<rect x="${x(0)}" y="${y(1)}" width="${x(1) - x(0)}" height="${y(0) - y(1)}" fill="none" stroke="#333"/>`,
    );
    parts.push(svgText('recall', (x(0) + x(1)) / 2, oy + ph - 12, { size: 12, anchor: 'middle' }));
    const mid = (y(0) + y(1)) / 2;
    parts.push(
      `<g transform="rotate(-90 ${ox + 14} ${mid})">${svgText('precision', ox + 14, mid, { size: 12, anchor: 'middle' })}</g>`,
    );
    for (const curve of panel.curves) {
      const color = COLORS[sets.indexOf(curve.set) % COLORS.length];
      const pts = curve.points.map((p) => `${x(p.recall).toFixed(1)},${y(p.precision).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"/>`);
      for (const p of curve.points)
        parts.push(`<circle cx="${x(p.recall)}" cy="${y(p.precision)}" r="2.5" fill="${color}"/>`);
      const d = curve.points.find((p) => p.threshold === panel.defaultThreshold);
      if (d)
        parts.push(
          `<circle cx="${x(d.recall)}" cy="${y(d.precision)}" r="7" fill="none" stroke="${color}" stroke-width="2.5"/>`,
        );
    }
    parts.push(
      svgText(`ring = default threshold ${panel.defaultThreshold}`, x(0) + 6, y(0) - 8, {
        size: 11,
        fill: '#555',
      }),
    );
  });
  parts.push('</svg>');
  await sharp(Buffer.from(parts.join('\n')))
    .png()
    .toFile(file);
}
