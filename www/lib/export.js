// Export of an explanation as a standalone SVG (the PNG export rasterises the same SVG):
// the highlighted text, the prediction, a legend and the per-layer coherence chart.
// Built with DOM methods (createElementNS + textContent), never markup strings, so text
// with HTML in it stays text.
import { colorFor, textColorFor, scaleOf, legendStops } from './palette.js';
import { segments, wordItems, tokenItems } from './spans.js';
import { fmtScore, fmtProb } from './format.js';

const NS = 'http://www.w3.org/2000/svg';
const FONT = '16px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const WIDTH = 820;
const PAD = 24;
const LINE = 30;

function node(doc, tag, attrs = {}, text) {
  const n = doc.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

/** Splits text into runs that may wrap: words, spaces, and newlines kept apart. */
function runs(text) {
  return text.match(/\n|[^\S\n]+|[^\s]+/g) || [];
}

/**
 * The explanation as an <svg> element (width/height set, self-contained).
 * @param {Document} doc
 * @param {object} e the Explanation
 * @param {'word'|'token'} granularity
 */
export function explanationSvg(doc, e, granularity = 'word') {
  const measure = doc.createElement('canvas').getContext('2d');
  measure.font = FONT;
  const width = (s) => measure.measureText(s).width;
  const items = granularity === 'token' ? tokenItems(e) : wordItems(e);
  const scale = scaleOf(items.map((i) => i.score));
  const svg = node(doc, 'svg', { xmlns: NS, width: WIDTH, 'font-family': 'system-ui, sans-serif', 'font-size': 16 });
  const body = node(doc, 'g');
  let y = PAD;

  const title = `${e.labels[e.predicted]} ${fmtProb(e.probs[e.predicted])} · explaining ${e.labels[e.target]}`
    + (e.contrast != null ? ` rather than ${e.labels[e.contrast]}` : '')
    + ` · ${e.method}${e.method === 'dls' || e.method === 'layer-gxa' ? ` at layer ${e.layer}` : ''} · ${e.model.name}`;
  body.append(node(doc, 'text', { x: PAD, y: y + 14, fill: '#1d2330', 'font-weight': 600 }, title));
  y += 36;

  let x = PAD;
  const newline = () => {
    x = PAD;
    y += LINE;
  };
  for (const seg of segments(e.text, items)) {
    for (const run of runs(seg.text)) {
      if (run === '\n') {
        newline();
        continue;
      }
      const w = width(run);
      if (x + w > WIDTH - PAD && x > PAD) {
        newline();
        if (/^\s+$/.test(run)) continue;
      }
      if (seg.kind === 'item' && !/^\s+$/.test(run)) {
        const fill = colorFor(seg.item.score, scale);
        body.append(node(doc, 'rect', { x: x - 2, y: y, width: w + 4, height: LINE - 6, rx: 4, fill }));
        const t = node(doc, 'text', { x, y: y + 18, fill: textColorFor(seg.item.score, scale) }, run);
        t.append(node(doc, 'title', {}, `${seg.item.label}: ${fmtScore(seg.item.score)}`));
        body.append(t);
      } else {
        body.append(node(doc, 'text', { x, y: y + 18, fill: '#1d2330', 'xml:space': 'preserve' }, run));
      }
      x += w;
    }
  }
  y += LINE + 16;

  // Legend: the diverging ramp with its scale.
  const grad = node(doc, 'linearGradient', { id: 'ls-legend' });
  const stops = legendStops(9);
  stops.forEach((s, i) => grad.append(node(doc, 'stop', { offset: `${(100 * i) / (stops.length - 1)}%`, 'stop-color': s.color })));
  const defs = node(doc, 'defs');
  defs.append(grad);
  svg.append(defs);
  body.append(node(doc, 'rect', { x: PAD, y, width: 200, height: 10, fill: 'url(#ls-legend)', rx: 2 }));
  body.append(node(doc, 'text', { x: PAD, y: y + 26, 'font-size': 12, fill: '#4a5468' }, fmtScore(-scale)));
  body.append(node(doc, 'text', { x: PAD + 200, y: y + 26, 'font-size': 12, fill: '#4a5468', 'text-anchor': 'end' }, fmtScore(scale)));
  body.append(node(doc, 'text', { x: PAD + 215, y: y + 10, 'font-size': 12, fill: '#4a5468' }, 'saliency towards the explained class (blue against, orange for)'));
  y += 44;

  // Coherence per layer.
  if (e.layers?.length) {
    const cw = 360;
    const ch = 120;
    const top = y + 18;
    body.append(node(doc, 'text', { x: PAD, y: y + 10, 'font-size': 13, fill: '#2c3445', 'font-weight': 600 }, 'Coherence per layer'));
    body.append(node(doc, 'rect', { x: PAD, y: top, width: cw, height: ch, fill: 'none', stroke: '#d5dae2' }));
    const px = (l) => PAD + (cw * l) / Math.max(1, e.layers.length - 1);
    const py = (v) => top + ch - ch * Math.max(0, Math.min(1, v));
    body.append(node(doc, 'line', { x1: PAD, x2: PAD + cw, y1: py(e.theta), y2: py(e.theta), stroke: '#8a93a3', 'stroke-dasharray': '4 3' }));
    body.append(node(doc, 'polyline', { points: e.layers.map((l) => `${px(l.layer)},${py(l.coherence)}`).join(' '), fill: 'none', stroke: '#2b4a7e', 'stroke-width': 2 }));
    for (const l of e.layers) {
      const chosen = l.layer === e.layer;
      body.append(node(doc, 'circle', { cx: px(l.layer), cy: py(l.coherence), r: chosen ? 6 : 3.5, fill: chosen ? '#e66101' : '#2b4a7e' }));
      body.append(node(doc, 'text', { x: px(l.layer), y: top + ch + 16, 'font-size': 11, fill: '#4a5468', 'text-anchor': 'middle' }, String(l.layer)));
    }
    y = top + ch + 28;
  }
  body.append(node(doc, 'text', { x: PAD, y: y + 6, 'font-size': 11, fill: '#6b7486' }, 'Decoded layer saliency after Hou & Castanon (2023), computed in the browser by Layer Saliency.'));
  y += 20;
  svg.setAttribute('height', String(Math.ceil(y + PAD / 2)));
  svg.setAttribute('viewBox', `0 0 ${WIDTH} ${Math.ceil(y + PAD / 2)}`);
  svg.insertBefore(node(doc, 'rect', { width: '100%', height: '100%', fill: '#ffffff' }), svg.firstChild);
  svg.append(body);
  return svg;
}
