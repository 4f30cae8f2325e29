// A small SVG line chart: one line per series over shared x labels. Described for screen
// readers by its title and a table-like summary in aria-label.

import { h } from './dom.js';

const WIDTH = 600;
const HEIGHT = 180;
const PAD = { left: 36, right: 8, top: 10, bottom: 22 };

/**
 * `series`: [{name, values: number[]}] (same length as `labels`). Returns a figure with the
 * SVG and a legend.
 */
export function lineChart(title, labels, series) {
  const max = Math.max(1, ...series.flatMap((s) => s.values));
  const n = Math.max(labels.length, 2);
  const x = (i) => PAD.left + (i * (WIDTH - PAD.left - PAD.right)) / (n - 1);
  const y = (v) => HEIGHT - PAD.bottom - (v * (HEIGHT - PAD.top - PAD.bottom)) / max;
  const totals = series.map((s) => `${s.name} ${s.values.reduce((a, b) => a + b, 0)}`).join(', ');
  const svg = h(
    'svg',
    { class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': `${title}: totals ${totals}` },
    h('title', { text: title }),
    h('line', { class: 'axis', x1: PAD.left, y1: y(0), x2: WIDTH - PAD.right, y2: y(0) }),
    h('line', { class: 'axis', x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: y(0) }),
    h('text', { x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end', text: String(max) }),
    h('text', { x: PAD.left - 4, y: y(0), 'text-anchor': 'end', text: '0' }),
    h('text', { x: PAD.left, y: HEIGHT - 6, text: labels[0] ?? '' }),
    h('text', { x: WIDTH - PAD.right, y: HEIGHT - 6, 'text-anchor': 'end', text: labels[labels.length - 1] ?? '' }),
    series.map((s, index) =>
      h('polyline', { class: `s${index % 4}`, points: s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ') }),
    ),
  );
  const legend = h(
    'ul',
    { class: 'legend' },
    series.map((s, index) => h('li', {}, h('span', { class: `key s${index % 4}` }), s.name)),
  );
  return h('figure', { class: 'panel' }, h('figcaption', {}, h('strong', { text: title })), svg, legend);
}
