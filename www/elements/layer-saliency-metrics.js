// <layer-saliency-metrics>: the prediction (a bar per class), faithfulness (table, AOPC and
// a deletion curve), the integrated-gradients completeness check, timing per stage, and the
// explanation's notes in small print.
//
// Property: explanation. Attribute: top (classes shown before "show all", default 8).
// Event: layer-saliency-toggle (LayerSaliencyToggleEvent: expanded) when "show all" is used.
// Parts: base, empty, prediction, heading, classes, class, class-predicted, bar, toggle,
//        faithfulness, perturbation, faithfulness-table, deletion-curve,
//        integrated-gradients, timing, timing-table, notes, model.

import { fmtScore, fmtFixed, fmtProb, fmtMs } from '../lib/format.js';
import { adoptStyles, defineElement, h, upgradeProperty } from '../lib/dom.js';

/** Fired when the class list is expanded or collapsed. */
export class LayerSaliencyToggleEvent extends Event {
  constructor(expanded) {
    super('layer-saliency-toggle', { bubbles: true, composed: true });
    this.expanded = expanded;
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const DEFAULT_TOP = 8;

const CSS = `
:host { display: block; min-width: 0; color: inherit; font: inherit;
  --_muted: var(--ls-muted, #5f6670); --_border: var(--ls-border, rgba(127,127,127,.35));
  --_surface: var(--ls-surface, Canvas); --_focus: var(--ls-focus, #1f5fbf);
  --_accent: var(--ls-accent, #5b3a8e); --_bar: var(--ls-bar, #8c96a3); }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0; }
.base { display: grid; gap: 1.5rem 2rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 19rem), 1fr));
  align-items: start; }
section { min-width: 0; }
h3 { margin: 0 0 .6rem; font-size: .95rem; font-weight: 600; letter-spacing: .01em; }
p { margin: .4rem 0; }
.muted { color: var(--_muted); }
.small { font-size: .8125rem; line-height: 1.45; }
.empty { margin: 0; color: var(--_muted); font-style: italic; }
ol.classes { list-style: none; margin: 0; padding: 0; display: grid; gap: .55rem; }
li.class .line { display: flex; flex-wrap: wrap; align-items: baseline; gap: .2rem .45rem; font-size: .875rem; }
li.class .name { font-weight: 500; overflow-wrap: anywhere; }
li.class .pct { margin-left: auto; font-variant-numeric: tabular-nums; font-weight: 600; }
.badge { font-size: .6875rem; font-weight: 600; letter-spacing: .03em; text-transform: uppercase;
  border: 1px solid currentColor; border-radius: 999px; padding: 0 .45em; line-height: 1.45; color: var(--_muted); }
.badge.target { color: var(--_accent); }
.track { height: .5rem; border-radius: 999px; background: rgba(127,127,127,.16); margin-top: .25rem; overflow: hidden; }
.fill { height: 100%; border-radius: 999px; background: var(--_bar); min-width: 2px; }
li.predicted .fill { background: var(--ls-fg, #1d2330); }
li.target .fill { background: var(--_accent); }
button.toggle { margin-top: .7rem; font: inherit; font-size: .8125rem; color: inherit; background: transparent;
  border: 1px solid var(--_border); border-radius: 6px; padding: .3rem .7rem; cursor: pointer; }
button.toggle:hover { background: rgba(127,127,127,.1); }
button.toggle:focus-visible { outline: 2px solid var(--_focus); outline-offset: 2px; }
table { border-collapse: collapse; width: 100%; font-size: .8125rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; caption-side: bottom; padding-top: .4rem; color: var(--_muted); font-size: .75rem; line-height: 1.45; }
th, td { padding: .3rem .4rem; text-align: right; border-bottom: 1px solid var(--_border); }
th:first-child, td:first-child { text-align: left; padding-left: 0; }
th:last-child, td:last-child { padding-right: 0; }
thead th { font-weight: 600; color: var(--_muted); vertical-align: bottom; overflow-wrap: anywhere; }
thead th .dir { display: block; font-weight: 400; font-size: .6875rem; }
tfoot th, tfoot td { font-weight: 600; border-bottom: 0; border-top: 2px solid var(--_border); }
figure { margin: 1rem 0 0; }
figure svg { display: block; width: 100%; max-width: 26rem; height: auto; overflow: visible; }
figcaption { font-size: .75rem; color: var(--_muted); margin-top: .3rem; line-height: 1.45; }
.ax { fill: var(--_muted); font-size: 10px; font-variant-numeric: tabular-nums; }
.gl { stroke: var(--_border); stroke-width: 1; }
.area { fill: var(--_accent); opacity: .12; }
.curve { fill: none; stroke: var(--_accent); stroke-width: 2; stroke-linejoin: round; }
.dot { fill: var(--_accent); }
.timing td { white-space: nowrap; }
.timing td.bar-cell { width: 35%; }
.tbar { height: .4rem; border-radius: 999px; background: var(--_bar); min-width: 1px; }
.notes { grid-column: 1 / -1; border-top: 1px solid var(--_border); padding-top: .75rem; }
.notes ul { margin: .3rem 0 0; padding-left: 1.1rem; }
.notes li { margin: .15rem 0; }
.kv { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; font-size: .8125rem; margin: 0; }
.kv dt { color: var(--_muted); }
.kv dd { margin: 0; font-variant-numeric: tabular-nums; }
`;


function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

const finite = (v) => v !== null && v !== undefined && v !== '' && Number.isFinite(Number(v));
const q = (t) => `\u201c${t}\u201d`;

export class LayerSaliencyMetricsElement extends HTMLElement {
  /** Register under `tag` (idempotent). Importing the module registers nothing. */
  static define(tag = 'layer-saliency-metrics', registry = customElements) {
    return defineElement(this, tag, registry);
  }

  static get observedAttributes() {
    return ['top'];
  }

  #explanation = null;
  #queued = false;
  #expanded = false;
  #root;
  #base;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    adoptStyles(this.#root, CSS);
    this.#base = h('div', { part: 'base', class: 'base' });
    this.#root.append(this.#base);
  }

  connectedCallback() {
    upgradeProperty(this, 'explanation');
    if (!this.hasAttribute('role')) this.setAttribute('role', 'group');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Prediction and metrics');
    this.#invalidate();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue) this.#invalidate();
  }

  /** The Explanation object to show. */
  get explanation() {
    return this.#explanation;
  }

  set explanation(value) {
    this.#explanation = value ?? null;
    this.#expanded = false;
    this.#invalidate();
  }

  /** How many classes to list before the "show all" toggle (integer >= 1, default 8). */
  get top() {
    const n = Number(this.getAttribute('top'));
    return this.hasAttribute('top') && Number.isInteger(n) && n >= 1 ? n : DEFAULT_TOP;
  }

  set top(value) {
    if (value === null || value === undefined || value === '') {
      this.removeAttribute('top');
      return;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`top must be an integer >= 1, got ${value}`);
    this.setAttribute('top', String(n));
  }

  #invalidate() {
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      this.#render();
    });
  }

  #label(i) {
    const labels = Array.isArray(this.#explanation?.labels) ? this.#explanation.labels : [];
    return Number.isInteger(i) ? String(labels[i] ?? `class ${i}`) : null;
  }

  #render() {
    const ex = this.#explanation;
    if (!ex || typeof ex !== 'object') {
      this.#base.replaceChildren(h('p', { part: 'empty', class: 'empty', text: 'No explanation to show yet.' }));
      return;
    }
    const focusToggle = this.#root.activeElement?.classList?.contains('toggle');
    this.#base.replaceChildren(...[
      this.#prediction(ex),
      this.#faithfulness(ex),
      this.#integratedGradients(ex),
      this.#timing(ex),
      this.#notes(ex),
    ].filter(Boolean));
    if (focusToggle) this.#root.querySelector('.toggle')?.focus();
  }

  // --- prediction ---------------------------------------------------------------------------

  #prediction(ex) {
    const probs = Array.isArray(ex.probs) ? ex.probs : [];
    const n = Math.max(probs.length, Array.isArray(ex.labels) ? ex.labels.length : 0);
    if (!n) return null;
    const order = Array.from({ length: n }, (_, i) => i)
      .sort((a, b) => (Number(probs[b]) || 0) - (Number(probs[a]) || 0) || a - b);
    const top = this.top;
    const shown = this.#expanded || n <= top ? order : order.slice(0, top);
    const listId = 'classes';
    const list = h('ol', { part: 'classes', class: 'classes', id: listId });
    for (const i of shown) {
      const p = Number(probs[i]);
      const isPred = i === ex.predicted;
      const isTarget = i === ex.target;
      const isContrast = ex.contrast != null && i === ex.contrast;
      const badges = [];
      if (isPred) badges.push(h('span', { class: 'badge', text: 'predicted' }));
      if (isTarget) badges.push(h('span', { class: 'badge target', text: 'explained' }));
      if (isContrast) badges.push(h('span', { class: 'badge', text: 'contrast' }));
      const fill = h('div', { class: 'fill' });
      fill.style.width = `${Math.max(0, Math.min(1, Number.isFinite(p) ? p : 0)) * 100}%`;
      const cls = ['class', isPred && 'predicted', isTarget && 'target', isContrast && 'contrast'].filter(Boolean).join(' ');
      list.append(h('li', { part: isPred ? 'class class-predicted' : 'class', class: cls },
        h('div', { class: 'line' },
          h('span', { class: 'name', text: this.#label(i) }),
          ...badges,
          h('span', { class: 'pct', text: fmtProb(p) })),
        h('div', { part: 'bar', class: 'track', 'aria-hidden': 'true' }, fill)));
    }
    const kids = [h('h3', { part: 'heading', text: 'Prediction' })];
    const target = this.#label(ex.target);
    if (target) {
      const contrast = this.#label(ex.contrast);
      const what = contrast ? `${q(target)} against ${q(contrast)}` : q(target);
      const score = finite(ex.score) ? ` (score ${fmtScore(ex.score)})` : '';
      kids.push(h('p', { class: 'small muted', text: `Explaining ${what}${score}.` }));
    }
    kids.push(list);
    if (n > top) {
      const btn = h('button', {
        part: 'toggle',
        class: 'toggle',
        type: 'button',
        'aria-expanded': this.#expanded ? 'true' : 'false',
        'aria-controls': listId,
        text: this.#expanded ? `Show top ${top}` : `Show all ${n} classes`,
      });
      btn.addEventListener('click', () => {
        this.#expanded = !this.#expanded;
        this.dispatchEvent(new LayerSaliencyToggleEvent(this.#expanded));
        this.#invalidate();
      });
      kids.push(btn);
    }
    return h('section', { part: 'prediction', class: 'prediction' }, ...kids);
  }

  // --- faithfulness -------------------------------------------------------------------------

  #faithfulness(ex) {
    const f = ex.faithfulness;
    if (!f || typeof f !== 'object') return null;
    const target = this.#label(ex.target);
    const of = target ? ` of ${q(target)}` : '';
    const kids = [h('h3', { part: 'heading', text: 'Faithfulness' })];
    if (f.perturbation) {
      kids.push(h('p', { part: 'perturbation', class: 'small muted', text: `Perturbation: ${f.perturbation}.`.replace(/\.\.$/, '.') }));
    }
    const bins = Array.isArray(f.bins) ? f.bins : [];
    if (bins.length) {
      const body = h('tbody');
      bins.forEach((k, i) => {
        body.append(h('tr', {},
          h('th', { scope: 'row', text: `${Number(k)}%` }),
          h('td', { text: fmtFixed(f.comprehensiveness?.[i], 3) }),
          h('td', { text: fmtFixed(f.sufficiency?.[i], 3) })));
      });
      const colHead = (name, dir) => h('th', { scope: 'col' }, name, h('span', { class: 'dir', text: dir }));
      const table = h('table', { part: 'faithfulness-table', class: 'faith' },
        h('caption', {
          text: `Comprehensiveness: how much the probability${of} drops when the top k% most salient tokens `
            + 'are removed (higher is better). Sufficiency: how much it drops when only those tokens are kept '
            + '(lower is better). AOPC averages over k.',
        }),
        h('thead', {}, h('tr', {},
          h('th', { scope: 'col', text: 'top k%' }),
          colHead('Compre\u00adhensiveness', 'higher is better'),
          colHead('Sufficiency', 'lower is better'))),
        body,
        h('tfoot', {}, h('tr', {},
          h('th', { scope: 'row', text: 'AOPC' }),
          h('td', { text: fmtFixed(f.aopc_comprehensiveness, 3) }),
          h('td', { text: fmtFixed(f.aopc_sufficiency, 3) }))));
      kids.push(table);
    }
    const curve = this.#deletionCurve(f, of);
    if (curve) kids.push(curve);
    return h('section', { part: 'faithfulness', class: 'faithfulness' }, ...kids);
  }

  #deletionCurve(f, of) {
    const pts = (Array.isArray(f.deletion_curve) ? f.deletion_curve : [])
      .filter((p) => Array.isArray(p) && finite(p[0]) && finite(p[1]))
      .map(([x, y]) => [Math.max(0, Math.min(1, Number(x))), Math.max(0, Math.min(1, Number(y)))]);
    if (pts.length < 2) return null;
    const W = 320;
    const H = 150;
    const m = { l: 30, r: 8, t: 8, b: 30 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const x = (v) => m.l + v * pw;
    const y = (v) => m.t + (1 - v) * ph;
    const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, 'aria-hidden': 'true', focusable: 'false' });
    for (const v of [0, 0.5, 1]) {
      svg.append(s('line', { class: 'gl', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      svg.append(s('text', { class: 'ax', x: m.l - 5, y: y(v) + 3.5, 'text-anchor': 'end', text: String(v) }));
      const anchor = v === 0 ? 'start' : v === 1 ? 'end' : 'middle';
      svg.append(s('text', { class: 'ax', x: x(v), y: H - m.b + 13, 'text-anchor': anchor, text: `${v * 100}%` }));
    }
    svg.append(s('text', { class: 'ax', x: m.l + pw / 2, y: H - 3, 'text-anchor': 'middle', text: 'tokens deleted (most salient first)' }));
    const line = pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
    const first = pts[0];
    const last = pts[pts.length - 1];
    svg.append(s('polygon', { class: 'area', points: `${x(first[0])},${y(0)} ${line} ${x(last[0])},${y(0)}` }));
    svg.append(s('polyline', { class: 'curve', points: line }));
    for (const [a, b] of pts) svg.append(s('circle', { class: 'dot', cx: x(a), cy: y(b), r: 2.5 }));
    const auc = finite(f.deletion_auc) ? ` Area under the curve ${fmtFixed(f.deletion_auc, 3)} (lower is better).` : '';
    const described = pts.map(([a, b]) => `${Math.round(a * 100)}%: ${fmtProb(b)}`).join(', ');
    return h('figure', { part: 'deletion-curve', class: 'deletion' },
      svg,
      h('figcaption', {},
        `Deletion curve: probability${of} as the most salient tokens are deleted.${auc}`,
        h('span', { class: 'sr-only', text: ` Points: ${described}.` })));
  }

  // --- integrated gradients -----------------------------------------------------------------

  #integratedGradients(ex) {
    const ig = ex.integrated_gradients;
    if (!ig || typeof ig !== 'object') return null;
    const dl = h('dl', { class: 'kv' });
    const row = (k, v) => dl.append(h('dt', { text: k }), h('dd', { text: v }));
    if (finite(ig.completeness_error)) row('completeness error', fmtScore(ig.completeness_error).replace(/^\+/, ''));
    if (finite(ig.delta)) row('delta', fmtScore(ig.delta));
    if (finite(ig.steps)) row('steps', String(Number(ig.steps)));
    return h('section', { part: 'integrated-gradients', class: 'ig' },
      h('h3', { part: 'heading', text: 'Integrated gradients' }),
      dl,
      h('p', {
        class: 'small muted',
        text: 'Completeness: the attributions should add up to the change in the score from the baseline '
          + 'to the input; the error measures how far they are (smaller is better; more steps reduce it).',
      }));
  }

  // --- timing -------------------------------------------------------------------------------

  #timing(ex) {
    const t = ex.timing_ms;
    if (!t || typeof t !== 'object') return null;
    const stages = Object.entries(t).filter(([k, v]) => k !== 'total' && finite(v));
    const total = finite(t.total) ? Number(t.total) : stages.reduce((a, [, v]) => a + Number(v), 0);
    const max = Math.max(total, ...stages.map(([, v]) => Number(v)), 1e-9);
    const body = h('tbody');
    for (const [k, v] of stages) {
      const bar = h('div', { class: 'tbar' });
      bar.style.width = `${(Number(v) / max) * 100}%`;
      body.append(h('tr', {},
        h('th', { scope: 'row', text: k.replace(/_/g, ' ') }),
        h('td', { text: fmtMs(v) }),
        h('td', { class: 'bar-cell', 'aria-hidden': 'true' }, bar)));
    }
    const table = h('table', { part: 'timing-table', class: 'timing' },
      h('thead', { class: 'sr-only' }, h('tr', {},
        h('th', { scope: 'col', text: 'stage' }),
        h('th', { scope: 'col', text: 'time' }),
        h('th', { scope: 'col', text: 'share' }))),
      body,
      h('tfoot', {}, h('tr', {},
        h('th', { scope: 'row', text: 'total' }),
        h('td', { text: fmtMs(total) }),
        h('td', {}))));
    return h('section', { part: 'timing', class: 'timing-section' },
      h('h3', { part: 'heading', text: 'Timing' }), table);
  }

  // --- notes --------------------------------------------------------------------------------

  #notes(ex) {
    const notes = Array.isArray(ex.notes) ? ex.notes.filter((n) => n != null && String(n).trim()) : [];
    const model = ex.model && typeof ex.model === 'object' ? ex.model : null;
    if (!notes.length && !model) return null;
    const kids = [];
    if (model) {
      const bits = [
        model.name ? String(model.name) : null,
        model.layers != null ? `${model.layers} layers` : null,
        model.quant ? String(model.quant) : null,
        model.decoder ? `decoder: ${String(model.decoder).replace(/_/g, ' ')}` : null,
        ex.method ? `method: ${ex.method}` : null,
      ].filter(Boolean);
      kids.push(h('p', { part: 'model', class: 'small muted', text: `Model: ${bits.join(' \u00b7 ')}` }));
    }
    if (notes.length) {
      kids.push(h('ul', { class: 'small muted' }, ...notes.map((n) => h('li', { text: String(n) }))));
    }
    return h('footer', { part: 'notes', class: 'notes' }, ...kids);
  }
}
