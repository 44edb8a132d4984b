// Dev fixture: renders the three elements from sample-explanation.json and from a hostile
// explanation built here (markup, emoji, ZWJ sequence, combining mark, CJK, tabs and
// newlines) whose offsets are computed in code points, then checks that nothing was parsed
// as markup and that the text came through exactly.

import { LayerSaliencyHeatmapElement } from '../elements/layer-saliency-heatmap.js';
import { LayerSaliencyLayersElement } from '../elements/layer-saliency-layers.js';
import { LayerSaliencyMetricsElement } from '../elements/layer-saliency-metrics.js';
import { h } from '../lib/dom.js';

LayerSaliencyHeatmapElement.define();
LayerSaliencyLayersElement.define();
LayerSaliencyMetricsElement.define();
LayerSaliencyHeatmapElement.define(); // a repeat definition is tolerated

const PAGE_CSS = `
:root { color-scheme: light; --ls-surface: #ffffff; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1d2330;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
header, main { max-width: 64rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1.5rem; }
h1 { font-size: 1.5rem; margin: 0 0 .4rem; letter-spacing: -.01em; }
header p { margin: .3rem 0; color: #4a525e; max-width: 46rem; }
code { font-size: .9em; background: #e9ebef; border-radius: 4px; padding: 0 .25em; }
#status { font-size: .875rem; padding: .45rem .7rem; border-radius: 6px; background: #e9ebef; margin: .8rem 0 0; }
#status.ok { background: #e3eefa; color: #163d6b; }
#status.bad { background: #fde7d6; color: #7a3300; }
main { display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.5rem; padding-top: 1.25rem; padding-bottom: 3rem; }
section.card { background: #fff; border: 1px solid #dfe2e7; border-radius: 10px; padding: 1.25rem;
  display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.5rem; min-width: 0; }
@media (max-width: 30rem) { header, main { padding: 0 .6rem; } section.card { padding: 1rem .85rem; } }
section.card > h2 { margin: 0; font-size: 1.15rem; }
.sub { margin: -1.1rem 0 0; color: #5f6670; font-size: .875rem; }
.controls { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: center; font-size: .875rem; }
.controls label { display: inline-flex; gap: .35rem; align-items: center; }
.controls select { font: inherit; padding: .15rem .3rem; }
.log { font-size: .75rem; color: #5f6670; font-family: ui-monospace, Menlo, Consolas, monospace;
  overflow-wrap: anywhere; min-height: 1.2em; margin: 0; }
.panel { border-top: 1px solid #eceef1; padding-top: 1.25rem; min-width: 0; }
`;

function adoptPageStyles() {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(PAGE_CSS);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
}


// --- the hostile explanation ------------------------------------------------------------------

export const HOSTILE_TEXT = '<img src=x onerror=alert(1)> <script>alert(2)</script> \u{1F642} e\u0301 '
  + '<b>bold</b> \u{1F468}\u200d\u{1F469}\u200d\u{1F467} \u4e2d\u6587 & "quotes" &amp;\n'
  + '  second line:\tcaf\u00e9 \u2014 <i>done</i>.';

/** Build an explanation for `text` in the shape of `sample`, offsets in code points. */
export function hostileExplanation(sample, text = HOSTILE_TEXT) {
  const cps = Array.from(text);
  const isSpace = (c) => /\s/u.test(c);
  const spans = [];
  for (let i = 0; i < cps.length;) {
    if (isSpace(cps[i])) { i += 1; continue; }
    let j = i;
    while (j < cps.length && !isSpace(cps[j])) j += 1;
    spans.push([i, j]);
    i = j;
  }
  const tokens = [{ id: 101, text: '[CLS]', start: 0, end: 0, special: true, word: null }];
  const words = [];
  spans.forEach(([a, b], w) => {
    const cuts = b - a > 6 ? [a, a + Math.ceil((b - a) / 2), b] : [a, b]; // long words: 2 tokens
    const idx = [];
    for (let k = 0; k + 1 < cuts.length; k += 1) {
      idx.push(tokens.length);
      const piece = cps.slice(cuts[k], cuts[k + 1]).join('').toLowerCase();
      tokens.push({ id: 1000 + tokens.length, text: k ? `##${piece}` : piece, start: cuts[k], end: cuts[k + 1], special: false, word: w });
    }
    words.push({ text: cps.slice(a, b).join(''), start: a, end: b, saliency: 0, tokens: idx });
  });
  tokens.push({ id: 102, text: '[SEP]', start: 0, end: 0, special: true, word: null });

  const base = tokens.map((t, k) => (t.special ? 0 : 0.42 * Math.sin(1.7 * k + 0.3) * (k % 3 === 0 ? 1 : 0.55)));
  const sumWords = (sal) => words.map((w) => w.tokens.reduce((acc, t) => acc + sal[t], 0));
  const L = sample.layers.length;
  const layers = sample.layers.map((l, li) => {
    const saliency = tokens.map((t, k) => (t.special ? 0 : base[k] * (1 - li / (L + 1)) + 0.08 * Math.cos(k + 2 * li)));
    const decoded = tokens.map((t, k) => [
      { id: 1, token: li < 2 ? t.text : '<b>x</b>', prob: 0.31 / (li + 1) },
      { id: 2, token: '<script>alert(3)</script>', prob: 0.012 },
      { id: 3, token: k % 2 ? '\u{1F642}' : 'e\u0301', prob: 0.004 },
      { id: 4, token: '&lt;', prob: 0.0009 },
      { id: 5, token: ' spaced ', prob: 0.00002 },
    ]);
    return { layer: l.layer, coherence: l.coherence, self_recovery: l.self_recovery, unassigned: l.unassigned, saliency, decoded };
  });
  const shown = layers[2]?.saliency ?? base;
  sumWords(shown).forEach((v, i) => { words[i].saliency = v; });

  const labels = ['<i>negative</i>', 'neutral & "calm"', 'positive <script>alert(4)</script>', 'joy', 'anger',
    'fear', 'surprise', 'disgust', 'trust', 'anticipation', 'sadness', 'love \u2764\ufe0f'];
  const raw = labels.map((_, i) => Math.exp(2.2 * Math.cos(i * 1.3 + 0.4)));
  const z = raw.reduce((a, b) => a + b, 0);
  const probs = raw.map((v) => v / z);
  const predicted = probs.indexOf(Math.max(...probs));
  return {
    ...sample,
    text,
    labels,
    logits: raw.map(Math.log),
    probs,
    predicted,
    target: predicted,
    contrast: predicted === 1 ? 0 : 1,
    score: Math.log(raw[predicted]),
    tokens,
    layer: 2,
    layer_auto: false,
    saliency: shown,
    layers,
    words,
    integrated_gradients: { steps: 32, delta: -0.0123, completeness_error: 0.0041 },
    notes: ['<b>Not bold</b>: notes are plain text.', ...(sample.notes ?? [])],
  };
}

// --- page -------------------------------------------------------------------------------------

function layerSelect(explanation, onChange) {
  const select = h('select', { 'aria-label': 'Layer shown in the heatmap' },
    h('option', { value: '', text: 'method output' }),
    ...(explanation.layers ?? []).map((l) => h('option', { value: String(l.layer), text: `layer ${l.layer}` })));
  select.addEventListener('change', () => onChange(select.value === '' ? null : Number(select.value)));
  return select;
}

function card(title, subtitle, explanation) {
  const heatmap = new LayerSaliencyHeatmapElement();
  heatmap.explanation = explanation;
  const layers = new LayerSaliencyLayersElement();
  layers.explanation = explanation;
  const metrics = new LayerSaliencyMetricsElement();
  metrics.explanation = explanation;

  const log = h('p', { class: 'log', 'aria-live': 'off', text: 'events: (point at a word or pick a layer)' });
  const select = layerSelect(explanation, (layer) => {
    heatmap.layer = layer;
    if (layer != null) layers.selected = layer;
  });
  const granularity = h('select', { 'aria-label': 'Granularity' },
    h('option', { value: 'word', text: 'words' }),
    h('option', { value: 'token', text: 'tokens' }));
  granularity.addEventListener('change', () => { heatmap.granularity = granularity.value; });

  layers.addEventListener('layer-saliency-select', (e) => {
    heatmap.layer = e.layer;
    select.value = String(e.layer);
    log.textContent = `layer-saliency-select: layer=${e.layer}`;
  });
  heatmap.addEventListener('layer-saliency-hover', (e) => {
    log.textContent = `layer-saliency-hover: index=${e.index} granularity=${e.granularity} score=${e.score}`;
  });

  return h('section', { class: 'card' },
    h('h2', { text: title }),
    h('p', { class: 'sub', text: subtitle }),
    h('div', { class: 'controls' },
      h('label', {}, 'Show', granularity),
      h('label', {}, 'at', select)),
    heatmap,
    log,
    h('div', { class: 'panel' }, layers),
    h('div', { class: 'panel' }, metrics));
}

const nextFrame = () => new Promise((resolve) => { requestAnimationFrame(() => resolve()); });

function literalCheck(root, text) {
  const problems = [];
  const heatmap = root.querySelector('layer-saliency-heatmap');
  const shown = heatmap?.shadowRoot?.querySelector('[part~="text"]')?.textContent;
  if (shown !== text) problems.push('heatmap text differs from the original');
  for (const el of root.querySelectorAll('layer-saliency-heatmap, layer-saliency-layers, layer-saliency-metrics')) {
    const bad = el.shadowRoot.querySelectorAll('img, script, b, i');
    if (bad.length) problems.push(`${el.localName} contains parsed markup (${bad.length})`);
  }
  if (document.querySelector('main img, main script')) problems.push('markup leaked into the page');
  return problems;
}

async function main() {
  adoptPageStyles();
  const status = document.getElementById('status');
  const mainEl = document.getElementById('main');
  let sample;
  try {
    const res = await fetch(new URL('./sample-explanation.json', import.meta.url));
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    sample = await res.json();
  } catch (err) {
    status.textContent = `Could not load sample-explanation.json: ${err.message}`;
    status.className = 'bad';
    return;
  }
  const evil = hostileExplanation(sample);
  const hostileCard = card('Hostile text', 'Markup, an emoji, a ZWJ family, a combining accent, CJK, a tab and a newline: all must render literally.', evil);
  mainEl.replaceChildren(
    card('Sample explanation', `${sample.model?.name ?? 'model'} \u00b7 method ${sample.method}`, sample),
    hostileCard);
  await nextFrame();
  const problems = literalCheck(hostileCard, evil.text);
  if (problems.length) {
    status.textContent = `Literal rendering check FAILED: ${problems.join('; ')}`;
    status.className = 'bad';
    console.error('literal rendering check failed', problems);
  } else {
    status.textContent = 'Literal rendering check passed: the hostile text is shown character for character and no markup was parsed.';
    status.className = 'ok';
  }
}

if (document.getElementById('main')) main();
