// <layer-saliency-layers>: how the explanation evolves through the network.
//   (a) an SVG line chart of coherence (and, lighter, self-recovery) per layer, with the
//       threshold theta dashed and the selected layer marked; points are buttons;
//   (b) a grid of layers (rows) x words (columns), each cell coloured by that word's
//       saliency at that layer on one shared scale; the selected row is highlighted.
// Pointing at / focusing a cell shows what the word's position(s) decode to at that layer.
//
// Property: explanation. Attribute: selected (layer number; default explanation.layer).
// Event: layer-saliency-select (LayerSaliencySelectEvent: layer).
// Parts: base, empty, chart-section, heading, chart-key, chart, point, point-selected,
//        grid-section, legend, legend-ramp, grid-scroll, grid, row-header, cell, tooltip.

import { colorFor, textColorFor, scaleOf, legendGradient } from '../lib/palette.js';
import { wordItems } from '../lib/spans.js';
import { fmtScore, fmtCompact, fmtFixed, fmtProb } from '../lib/format.js';
import { adoptStyles, defineElement, h, upgradeProperty } from '../lib/dom.js';

/** Fired when the user picks a layer (chart point, grid row or cell). */
export class LayerSaliencySelectEvent extends Event {
  constructor(layer) {
    super('layer-saliency-select', { bubbles: true, composed: true });
    this.layer = layer;
  }
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const COMPACT_WORDS = 48; // more words than this: cell numbers are visually hidden
const MAX_TIP_POSITIONS = 4;
const MAX_TIP_DECODED = 5;

const CSS = `
:host { display: block; position: relative; min-width: 0; color: inherit; font: inherit;
  --_muted: var(--ls-muted, #5f6670); --_border: var(--ls-border, rgba(127,127,127,.35));
  --_surface: var(--ls-surface, Canvas); --_focus: var(--ls-focus, #1f5fbf);
  --_accent: var(--ls-accent, #5b3a8e); }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0; }
.base { position: relative; display: grid; grid-template-columns: minmax(0, 1fr); gap: 1.75rem; }
.empty { margin: 0; color: var(--_muted); font-style: italic; }
.head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between;
  gap: .35rem 1rem; margin-bottom: .5rem; }
h3 { margin: 0; font-size: .95rem; font-weight: 600; letter-spacing: .01em; }
.key, .legend { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem .9rem;
  font-size: .8125rem; color: var(--_muted); }
.key > span, .legend > span { white-space: nowrap; display: inline-flex; align-items: center; gap: .35rem; }
.k-dot { width: .6rem; height: .6rem; border-radius: 50%; background: currentColor; color: var(--ls-fg, #1d2330); }
.k-ring { width: .6rem; height: .6rem; border-radius: 50%; border: 1.5px solid #8c96a3; }
.k-dash { width: 1.1rem; border-top: 2px dashed #a0742a; }
.k-sel { width: .8rem; height: .8rem; border-radius: 50%; background: var(--_accent);
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--_accent) 25%, transparent); }
.chart { width: 100%; min-height: 10rem; }
.chart svg { display: block; overflow: visible; font-size: 11px; }
.axis-label { fill: var(--_muted); font-variant-numeric: tabular-nums; }
.axis-title { fill: var(--_muted); font-size: 11px; }
.gridline { stroke: var(--_border); stroke-width: 1; }
.theta { stroke: #a0742a; stroke-width: 1.5; stroke-dasharray: 5 4; }
.theta-label { fill: #8a6220; font-size: 11px; font-weight: 600; }
.band { fill: transparent; cursor: pointer; }
.band:hover { fill: rgba(127,127,127,.08); }
.guide { stroke: var(--_accent); stroke-width: 1.5; opacity: .35; }
.line-coh { fill: none; stroke: var(--ls-fg, #1d2330); stroke-width: 2; stroke-linejoin: round; }
.line-rec { fill: none; stroke: #8c96a3; stroke-width: 1.5; stroke-dasharray: 1 3; stroke-linecap: round; }
.pt-rec { fill: var(--_surface); stroke: #8c96a3; stroke-width: 1.5; }
.point { fill: var(--ls-fg, #1d2330); stroke: var(--_surface); stroke-width: 2; cursor: pointer; }
.point.selected { fill: var(--_accent); }
.halo { fill: var(--_accent); opacity: .18; pointer-events: none; }
.point:focus { outline: none; }
.point:focus-visible { stroke: var(--_focus); stroke-width: 3; }
.auto-label { fill: var(--_muted); font-size: 10px; }
.grid-section { position: relative; min-width: 0; }
.ramp { display: inline-block; width: 7rem; height: .65rem; border-radius: 2px; border: 1px solid var(--_border); }
.scroll { overflow-x: auto; overflow-y: hidden; max-width: 100%; border: 1px solid var(--_border);
  border-radius: 6px; -webkit-overflow-scrolling: touch; }
table.grid { border-collapse: separate; border-spacing: 0; font-size: .8rem; line-height: 1.2; }
.grid th, .grid td { padding: .35rem .4rem; text-align: center; white-space: nowrap; }
.grid thead th { font-weight: 500; color: var(--_muted); border-bottom: 1px solid var(--_border);
  max-width: 9em; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; }
.grid th.corner { position: sticky; left: 0; z-index: 2; background: var(--_surface);
  text-align: left; font-size: .75rem; border-right: 1px solid var(--_border); }
.grid th.row { position: sticky; left: 0; z-index: 1; background: var(--_surface); cursor: pointer;
  text-align: left; font-weight: 600; font-variant-numeric: tabular-nums; border-right: 1px solid var(--_border);
  min-width: 3.6rem; }
.grid .tag { font-weight: 500; font-size: .68rem; color: var(--_muted); margin-left: .3em; }
.grid td { min-width: 2.8em; cursor: pointer; font-variant-numeric: tabular-nums;
  border-bottom: 1px solid rgba(255,255,255,.6); }
.grid tr.selected th.row { background: var(--_accent); color: #fff; }
.grid tr.selected th.row .tag { color: rgba(255,255,255,.85); }
.grid tr.selected td { box-shadow: inset 0 2px 0 var(--_accent), inset 0 -2px 0 var(--_accent); }
.grid th.row:focus, .grid td:focus { outline: none; }
.grid th.row:focus-visible, .grid td:focus-visible { box-shadow: inset 0 0 0 2px var(--_focus), inset 0 0 0 4px #fff; }
.grid td.hot { box-shadow: inset 0 0 0 2px rgba(0,0,0,.55); }
.grid.compact td { min-width: 1.4em; padding: .45rem .2rem; }
.hint { margin: .4rem 0 0; font-size: .75rem; color: var(--_muted); }
.tooltip { position: absolute; z-index: 10; left: 0; top: 0; max-width: min(24rem, 100%);
  padding: .5rem .65rem; border-radius: 6px; background: #1d2330; color: #f3f5f8;
  font-size: .8125rem; line-height: 1.35; box-shadow: 0 6px 20px rgba(0,0,0,.25);
  pointer-events: none; overflow-wrap: anywhere; }
.tooltip[hidden] { display: none; }
.tip-head { display: flex; gap: .75rem; justify-content: space-between; align-items: baseline; }
.tip-word { font-weight: 600; white-space: pre-wrap; }
.tip-score { font-weight: 600; font-variant-numeric: tabular-nums; white-space: nowrap; }
.tip-sub { color: #aeb6c4; margin-top: .15rem; }
.tip-rows { margin-top: .4rem; display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: .3rem .5rem; }
.tip-in { color: #aeb6c4; white-space: pre-wrap; max-width: 9rem; overflow-wrap: anywhere; }
.tip-out { display: flex; flex-wrap: wrap; gap: .25rem; }
.tok { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .75rem;
  background: rgba(255,255,255,.12); border-radius: 3px; padding: 0 .3em; white-space: pre-wrap;
  overflow-wrap: anywhere; max-width: 100%; }
.tok .p { color: #aeb6c4; margin-left: .35em; white-space: nowrap; }
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

function num(v, fallback = 0) {
  const n = Number(v);
  return Number.isFinite(n) ? n : fallback;
}

const clamp01 = (v) => Math.max(0, Math.min(1, v));

export class LayerSaliencyLayersElement extends HTMLElement {
  /** Register under `tag` (idempotent). Importing the module registers nothing. */
  static define(tag = 'layer-saliency-layers', registry = customElements) {
    return defineElement(this, tag, registry);
  }

  static get observedAttributes() {
    return ['selected'];
  }

  #explanation = null;
  #queued = false;
  #needFull = false;
  #root;
  #base;
  #tip;
  #layers = []; // layer objects, sorted by .layer
  #words = []; // word items (labels, token indices)
  #values = []; // [row][word] scores
  #scale = 0;
  #chartBox = null;
  #chartWidth = 0;
  #points = [];
  #halo = null;
  #guide = null;
  #rowsEl = []; // <tr> per layer row
  #cells = []; // [row][col] focusables: col 0 = row header
  #focus = { r: 0, c: 0 };
  #hover = null;
  #resize = null;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    adoptStyles(this.#root, CSS);
    this.#base = h('div', { part: 'base', class: 'base' });
    this.#tip = h('div', { part: 'tooltip', class: 'tooltip', role: 'tooltip', id: 'tip', hidden: true });
    this.#root.append(this.#base);
    this.#root.addEventListener('click', (e) => this.#onClick(e));
    this.#root.addEventListener('keydown', (e) => this.#onKey(e));
    this.#root.addEventListener('pointerover', (e) => this.#onPointerOver(e));
    this.#root.addEventListener('pointerout', (e) => this.#onPointerOut(e));
    this.#root.addEventListener('focusin', (e) => this.#onFocusIn(e));
    this.#root.addEventListener('focusout', (e) => this.#onFocusOut(e));
  }

  connectedCallback() {
    upgradeProperty(this, 'explanation');
    if (!this.hasAttribute('role')) this.setAttribute('role', 'group');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Saliency by layer');
    if (typeof ResizeObserver === 'function' && !this.#resize) {
      this.#resize = new ResizeObserver(() => {
        if (this.#chartBox && Math.round(this.#chartBox.clientWidth) !== this.#chartWidth) this.#drawChart();
      });
    }
    this.#invalidate(true);
  }

  disconnectedCallback() {
    this.#resize?.disconnect();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue) this.#invalidate(false);
  }

  /** The Explanation object to show. */
  get explanation() {
    return this.#explanation;
  }

  set explanation(value) {
    this.#explanation = value ?? null;
    this.#invalidate(true);
  }

  /** Selected layer (integer >= 0); defaults to explanation.layer, else the first layer. */
  get selected() {
    const raw = this.getAttribute('selected');
    if (raw !== null && raw.trim() !== '') {
      const n = Number(raw);
      if (Number.isInteger(n) && n >= 0) return n;
    }
    const ex = this.#explanation;
    if (Number.isInteger(ex?.layer)) return ex.layer;
    const first = this.#layers[0]?.layer;
    return Number.isInteger(first) ? first : null;
  }

  set selected(value) {
    if (value === null || value === undefined || value === '') {
      this.removeAttribute('selected');
      return;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`selected must be an integer >= 0, got ${value}`);
    this.setAttribute('selected', String(n));
  }

  #invalidate(full) {
    if (full) this.#needFull = true;
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      const fullRender = this.#needFull;
      this.#needFull = false;
      if (fullRender) this.#render();
      else this.#applySelection();
    });
  }

  // --- data ---------------------------------------------------------------------------------

  #prepare(ex) {
    const layers = Array.isArray(ex?.layers) ? ex.layers.filter((l) => l && Number.isInteger(Number(l.layer))) : [];
    this.#layers = [...layers].sort((a, b) => Number(a.layer) - Number(b.layer));
    this.#words = wordItems(ex);
    this.#values = this.#layers.map((l) => wordItems(ex, Array.isArray(l.saliency) ? l.saliency : []).map((w) => w.score));
    this.#scale = scaleOf(this.#values);
  }

  #rowOf(layer) {
    return this.#layers.findIndex((l) => Number(l.layer) === layer);
  }

  // --- rendering ----------------------------------------------------------------------------

  #render() {
    const ex = this.#explanation;
    this.#tip.hidden = true;
    this.#hover = null;
    this.#points = [];
    this.#rowsEl = [];
    this.#cells = [];
    this.#resize?.disconnect();
    this.#chartBox = null;
    if (!ex || typeof ex !== 'object') {
      this.#base.replaceChildren(h('p', { part: 'empty', class: 'empty', text: 'No explanation to show yet.' }));
      return;
    }
    this.#prepare(ex);
    if (this.#layers.length === 0) {
      const method = ex.method ? ` (method ${ex.method})` : '';
      this.#base.replaceChildren(h('p', {
        part: 'empty',
        class: 'empty',
        text: `No per-layer view for this explanation${method}: choose decoded layer saliency (dls) to see one.`,
      }));
      return;
    }
    const sel = this.#rowOf(this.selected);
    this.#focus = { r: sel >= 0 ? sel : 0, c: 0 };
    this.#base.replaceChildren(this.#chartSection(ex), this.#gridSection(ex), this.#tip);
    this.#drawChart();
    this.#resize?.observe(this.#chartBox);
    this.#applySelection();
  }

  #chartSection(ex) {
    const theta = Number(ex.theta);
    const key = h('div', { part: 'chart-key', class: 'key' },
      h('span', {}, h('span', { class: 'k-dot', 'aria-hidden': 'true' }), 'coherence'),
      h('span', {}, h('span', { class: 'k-ring', 'aria-hidden': 'true' }), 'self-recovery'),
      Number.isFinite(theta)
        ? h('span', {}, h('span', { class: 'k-dash', 'aria-hidden': 'true' }), `threshold \u03b8 = ${fmtFixed(theta, 2)}`)
        : null,
      h('span', {}, h('span', { class: 'k-sel', 'aria-hidden': 'true' }), 'selected'));
    this.#chartBox = h('div', { part: 'chart', class: 'chart' });
    return h('section', { part: 'chart-section', class: 'chart-section' },
      h('div', { class: 'head' }, h('h3', { part: 'heading', text: 'Coherence per layer' }), key),
      this.#chartBox);
  }

  #drawChart() {
    const box = this.#chartBox;
    if (!box) return;
    const ex = this.#explanation;
    const layers = this.#layers;
    const focusedLayer = this.#root.activeElement?.classList?.contains('point')
      ? Number(this.#root.activeElement.dataset.layer) : null;
    const measured = Math.round(box.clientWidth);
    this.#chartWidth = measured;
    const W = Math.max(240, measured || 560);
    const narrow = W < 480;
    const H = narrow ? 190 : 220;
    const m = { l: 34, r: narrow ? 14 : 20, t: 14, b: 40 };
    const pw = W - m.l - m.r;
    const ph = H - m.t - m.b;
    const first = Number(layers[0].layer);
    const last = Number(layers[layers.length - 1].layer);
    const span = Math.max(1, last - first);
    const x = (l) => (layers.length === 1 ? m.l + pw / 2 : m.l + ((Number(l) - first) / span) * pw);
    const y = (v) => m.t + (1 - clamp01(num(v))) * ph;

    const svg = s('svg', {
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: 'group',
      'aria-label': 'Coherence per layer, from 0 to 1. Each point is a button that selects its layer.',
    });
    const deco = s('g', { 'aria-hidden': 'true' });
    for (const v of [0, 0.25, 0.5, 0.75, 1]) {
      deco.append(s('line', { class: 'gridline', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      if (v === 0 || v === 0.5 || v === 1) {
        deco.append(s('text', { class: 'axis-label', x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end', text: v === 0.5 ? '0.5' : String(v) }));
      }
    }
    const labelEvery = Math.max(1, Math.ceil(layers.length / Math.max(2, Math.floor(pw / 26))));
    layers.forEach((l, i) => {
      if (i % labelEvery !== 0 && i !== layers.length - 1) return;
      deco.append(s('text', { class: 'axis-label', x: x(l.layer), y: H - m.b + 16, 'text-anchor': 'middle', text: String(l.layer) }));
    });
    deco.append(s('text', {
      class: 'axis-title', x: m.l + pw / 2, y: H - 6, 'text-anchor': 'middle', text: 'layer (0 = embeddings)',
    }));

    // click bands: a whole column selects its layer (large touch targets)
    const bandW = layers.length === 1 ? pw : pw / span;
    const bands = s('g', { 'aria-hidden': 'true' });
    for (const l of layers) {
      const x0 = Math.max(0, x(l.layer) - bandW / 2);
      const x1 = Math.min(W, x(l.layer) + bandW / 2);
      bands.append(s('rect', {
        class: 'band', 'data-layer': l.layer, x: x0, y: m.t - 8, width: Math.max(0, x1 - x0), height: ph + 16,
      }));
    }

    this.#guide = s('line', { class: 'guide', y1: m.t - 6, y2: m.t + ph, x1: 0, x2: 0, 'aria-hidden': 'true' });
    const theta = Number(ex.theta);
    const thetaG = s('g', { 'aria-hidden': 'true' });
    if (Number.isFinite(theta)) {
      thetaG.append(s('line', { class: 'theta', x1: m.l, x2: W - m.r, y1: y(theta), y2: y(theta) }));
      thetaG.append(s('text', {
        class: 'theta-label', x: W - m.r, y: y(theta) - 5, 'text-anchor': 'end', text: `\u03b8 ${fmtFixed(theta, 2)}`,
      }));
    }
    const rec = layers.filter((l) => Number.isFinite(Number(l.self_recovery)));
    const recG = s('g', { 'aria-hidden': 'true' });
    if (rec.length) {
      recG.append(s('polyline', { class: 'line-rec', points: rec.map((l) => `${x(l.layer)},${y(l.self_recovery)}`).join(' ') }));
      for (const l of rec) recG.append(s('circle', { class: 'pt-rec', cx: x(l.layer), cy: y(l.self_recovery), r: 3 }));
    }
    const cohLine = s('polyline', {
      class: 'line-coh', 'aria-hidden': 'true', points: layers.map((l) => `${x(l.layer)},${y(l.coherence)}`).join(' '),
    });
    this.#halo = s('circle', { class: 'halo', r: 11, cx: -100, cy: -100, 'aria-hidden': 'true' });
    const pointsG = s('g');
    this.#points = layers.map((l) => {
      const c = s('circle', {
        part: 'point',
        class: 'point',
        'data-layer': l.layer,
        cx: x(l.layer),
        cy: y(l.coherence),
        r: 5,
        role: 'button',
        tabindex: '-1',
        'aria-pressed': 'false',
        'aria-label': `layer ${l.layer}: coherence ${fmtFixed(l.coherence, 2)}`
          + (Number.isFinite(Number(l.self_recovery)) ? `, self-recovery ${fmtFixed(l.self_recovery, 2)}` : ''),
      });
      pointsG.append(c);
      return c;
    });
    const autoG = s('g', { 'aria-hidden': 'true' });
    const autoRow = ex.layer_auto ? this.#rowOf(ex.layer) : -1;
    if (autoRow >= 0) {
      const l = layers[autoRow];
      const above = y(l.coherence) - 14 > m.t + 4;
      const edge = autoRow === 0 ? 'start' : autoRow === layers.length - 1 ? 'end' : 'middle';
      const dx = edge === 'start' ? 6 : edge === 'end' ? -6 : 0;
      autoG.append(s('text', {
        class: 'auto-label', x: x(l.layer) + dx, y: above ? y(l.coherence) - 13 : y(l.coherence) + 22,
        'text-anchor': edge, text: 'auto',
      }));
    }
    svg.append(deco, bands, this.#guide, thetaG, recG, cohLine, this.#halo, autoG, pointsG);
    box.replaceChildren(svg);
    this.#applySelection();
    if (focusedLayer != null) {
      const p = this.#points.find((pt) => Number(pt.dataset.layer) === focusedLayer);
      p?.focus();
    }
  }

  #gridSection(ex) {
    const words = this.#words;
    const compact = words.length > COMPACT_WORDS;
    const ramp = h('span', { part: 'legend-ramp', class: 'ramp', 'aria-hidden': 'true' });
    ramp.style.backgroundImage = legendGradient(9);
    const legend = h('div', {
      part: 'legend',
      class: 'legend',
      role: 'group',
      'aria-label': this.#scale === 0
        ? 'Colour scale: every score is 0.'
        : `Colour scale shared by the whole grid, from ${fmtScore(-this.#scale)} (blue) to ${fmtScore(this.#scale)} (orange).`,
    },
    h('span', { 'aria-hidden': 'true' }, fmtScore(-this.#scale), ramp, fmtScore(this.#scale)));

    const table = h('table', {
      part: 'grid',
      class: compact ? 'grid compact' : 'grid',
      role: 'grid',
      'aria-label': 'Word saliency at every layer: rows are layers, columns are words. '
        + 'Arrow keys move; Enter selects a layer.',
      'aria-readonly': 'true',
      'aria-rowcount': this.#layers.length + 1,
      'aria-colcount': words.length + 1,
    });
    const headRow = h('tr', { role: 'row' }, h('th', { class: 'corner', role: 'columnheader', scope: 'col', text: 'layer' }));
    for (const w of words) {
      headRow.append(h('th', { role: 'columnheader', scope: 'col', title: w.label, text: w.label }));
    }
    const body = h('tbody');
    this.#layers.forEach((l, r) => {
      const layer = Number(l.layer);
      const tr = h('tr', { role: 'row', 'data-layer': layer });
      const rh = h('th', {
        part: 'row-header',
        class: 'row',
        role: 'rowheader',
        scope: 'row',
        tabindex: '-1',
        'data-layer': layer,
        'data-r': r,
        'data-c': 0,
      }, String(layer));
      if (layer === 0) rh.append(h('span', { class: 'sr-only', text: ' (embeddings)' }));
      if (ex.layer_auto && layer === ex.layer) rh.append(h('span', { class: 'tag', text: 'auto' }));
      rh.append(h('span', { class: 'sr-only sel-text', text: '' }));
      tr.append(rh);
      const row = [rh];
      words.forEach((w, c) => {
        const v = this.#values[r][c];
        const td = h('td', {
          part: 'cell',
          role: 'gridcell',
          tabindex: '-1',
          'data-layer': layer,
          'data-r': r,
          'data-c': c + 1,
          'aria-label': `layer ${layer}, ${w.label}: ${fmtScore(v)}`,
        });
        // the short score is the cell's text; in a very wide grid it is visually hidden
        if (compact) td.append(h('span', { class: 'sr-only', text: fmtCompact(v) }));
        else td.textContent = fmtCompact(v);
        td.style.backgroundColor = colorFor(v, this.#scale);
        td.style.color = textColorFor(v, this.#scale);
        tr.append(td);
        row.push(td);
      });
      this.#rowsEl.push(tr);
      this.#cells.push(row);
      body.append(tr);
    });
    table.append(h('thead', {}, headRow), body);

    return h('section', { part: 'grid-section', class: 'grid-section' },
      h('div', { class: 'head' }, h('h3', { part: 'heading', text: 'Word saliency by layer' }), legend),
      h('div', { part: 'grid-scroll', class: 'scroll' }, table),
      h('p', { class: 'hint', text: 'Point at a cell to see what that position decodes to; click a row to select its layer.' }));
  }

  #applySelection() {
    if (!this.#layers.length) return;
    const selected = this.selected;
    const row = this.#rowOf(selected);
    this.#points.forEach((p) => {
      const on = Number(p.dataset.layer) === selected;
      p.classList.toggle('selected', on);
      p.setAttribute('part', on ? 'point point-selected' : 'point');
      p.setAttribute('aria-pressed', on ? 'true' : 'false');
      p.setAttribute('r', on ? '7' : '5');
    });
    // roving tab stop among points: the selected one (or the first)
    const stop = this.#points.find((p) => Number(p.dataset.layer) === selected) ?? this.#points[0];
    for (const p of this.#points) p.setAttribute('tabindex', p === stop ? '0' : '-1');
    if (stop && this.#halo && this.#guide) {
      const on = row >= 0;
      this.#halo.setAttribute('cx', on ? stop.getAttribute('cx') : '-100');
      this.#halo.setAttribute('cy', on ? stop.getAttribute('cy') : '-100');
      this.#guide.setAttribute('x1', on ? stop.getAttribute('cx') : '-100');
      this.#guide.setAttribute('x2', on ? stop.getAttribute('cx') : '-100');
    }
    this.#rowsEl.forEach((tr, r) => {
      const on = r === row;
      tr.classList.toggle('selected', on);
      const sel = tr.querySelector('.sel-text');
      if (sel) sel.textContent = on ? ' (selected)' : '';
      for (const cell of this.#cells[r].slice(1)) cell.setAttribute('aria-selected', on ? 'true' : 'false');
    });
    this.#setRoving(this.#focus.r, this.#focus.c);
  }

  #setRoving(r, c) {
    const rows = this.#cells;
    if (!rows.length) return;
    const rr = Math.max(0, Math.min(rows.length - 1, r));
    const cc = Math.max(0, Math.min(rows[rr].length - 1, c));
    this.#focus = { r: rr, c: cc };
    rows.forEach((row, i) => row.forEach((el, j) => {
      el.tabIndex = i === rr && j === cc ? 0 : -1;
    }));
    return rows[rr][cc];
  }

  // --- selection ----------------------------------------------------------------------------

  #select(layer) {
    if (!Number.isInteger(layer)) return;
    if (this.getAttribute('selected') !== String(layer)) this.selected = layer;
    this.dispatchEvent(new LayerSaliencySelectEvent(layer));
  }

  // --- tooltip ------------------------------------------------------------------------------

  #tipForCell(r, c) {
    const ex = this.#explanation;
    const l = this.#layers[r];
    if (!l) return;
    const tip = this.#tip;
    if (c === 0) {
      const rows = [
        `coherence ${fmtFixed(l.coherence, 3)}`,
        Number.isFinite(Number(l.self_recovery)) ? `self-recovery ${fmtFixed(l.self_recovery, 3)}` : null,
        Number.isFinite(Number(l.unassigned)) ? `unassigned ${fmtFixed(l.unassigned, 3)}` : null,
      ].filter(Boolean);
      tip.replaceChildren(
        h('div', { class: 'tip-head' }, h('span', { class: 'tip-word', text: `Layer ${l.layer}${Number(l.layer) === 0 ? ' (embeddings)' : ''}` })),
        ...rows.map((t) => h('div', { class: 'tip-sub', text: t })),
      );
      return;
    }
    const w = this.#words[c - 1];
    const v = this.#values[r][c - 1];
    const kids = [
      h('div', { class: 'tip-head' },
        h('span', { class: 'tip-word', text: w.label }),
        h('span', { class: 'tip-score', text: fmtScore(v, 4) })),
      h('div', { class: 'tip-sub', text: `layer ${l.layer}${w.tokens.length > 1 ? ` \u00b7 ${w.tokens.length} tokens` : ''}` }),
    ];
    const decoded = Array.isArray(l.decoded) ? l.decoded : [];
    const rows = h('div', { class: 'tip-rows' });
    let count = 0;
    for (const t of w.tokens.slice(0, MAX_TIP_POSITIONS)) {
      const list = Array.isArray(decoded[t]) ? decoded[t].slice(0, MAX_TIP_DECODED) : [];
      if (!list.length) continue;
      const out = h('span', { class: 'tip-out' });
      for (const d of list) {
        out.append(h('span', { class: 'tok' }, String(d?.token ?? ''), h('span', { class: 'p', text: fmtProb(d?.prob) })));
      }
      rows.append(h('span', { class: 'tip-in', text: `${ex.tokens?.[t]?.text ?? ''} \u2192` }), out);
      count += 1;
    }
    if (count) kids.push(h('div', { class: 'tip-sub', text: 'decodes to' }), rows);
    else kids.push(h('div', { class: 'tip-sub', text: 'no decoded tokens for this position' }));
    tip.replaceChildren(...kids);
  }

  #tipForPoint(layer) {
    const r = this.#rowOf(layer);
    if (r >= 0) this.#tipForCell(r, 0);
  }

  #placeTip(anchor) {
    const tip = this.#tip;
    tip.hidden = false;
    const base = this.#base.getBoundingClientRect();
    const a = anchor.getBoundingClientRect();
    const tw = tip.offsetWidth;
    const th = tip.offsetHeight;
    const left = Math.min(Math.max(0, base.width - tw), Math.max(0, a.left - base.left + a.width / 2 - tw / 2));
    let top = a.bottom - base.top + 6;
    const viewportH = window.innerHeight || document.documentElement.clientHeight;
    if (a.bottom + th + 8 > viewportH && a.top - th - 8 > 0) top = a.top - base.top - th - 6;
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  #show(el) {
    for (const row of this.#cells) for (const cell of row) cell.classList.remove('hot');
    if (!el) {
      this.#tip.hidden = true;
      return;
    }
    if (el.classList.contains('point')) {
      this.#tipForPoint(Number(el.dataset.layer));
    } else {
      const r = Number(el.dataset.r);
      const c = Number(el.dataset.c);
      this.#tipForCell(r, c);
      if (c > 0) el.classList.add('hot');
    }
    this.#placeTip(el);
  }

  #refreshTip() {
    const active = this.#root.activeElement;
    const focused = active && (active.classList.contains('point') || active.dataset?.r != null) ? active : null;
    this.#show(this.#hover ?? focused);
  }

  // --- interaction --------------------------------------------------------------------------

  #target(node) {
    if (!(node instanceof Element)) return null;
    const el = node.closest('.point, th.row, td[data-r], .band');
    return el && this.#root.contains(el) ? el : null;
  }

  #onPointerOver(e) {
    const el = this.#target(e.target);
    if (!el || el.classList.contains('band') || el === this.#hover) return;
    this.#hover = el;
    this.#refreshTip();
  }

  #onPointerOut(e) {
    const el = this.#target(e.target);
    if (!el || el !== this.#hover) return;
    if (this.#target(e.relatedTarget) === el) return;
    this.#hover = null;
    this.#refreshTip();
  }

  #onFocusIn(e) {
    const el = this.#target(e.target);
    if (!el) return;
    if (el.dataset.r != null) this.#setRoving(Number(el.dataset.r), Number(el.dataset.c));
    this.#refreshTip();
  }

  #onFocusOut(e) {
    if (this.#target(e.relatedTarget)) return;
    queueMicrotask(() => this.#refreshTip());
  }

  #onClick(e) {
    const el = this.#target(e.target);
    if (!el) return;
    const layer = Number(el.dataset.layer);
    if (el.classList.contains('band')) {
      this.#select(layer);
      this.#points.find((p) => Number(p.dataset.layer) === layer)?.focus();
      return;
    }
    if (el.dataset.r != null) {
      this.#setRoving(Number(el.dataset.r), Number(el.dataset.c));
      el.focus();
    } else {
      el.focus();
    }
    this.#select(layer);
    this.#refreshTip();
  }

  #onKey(e) {
    const el = this.#target(e.target);
    if (!el || el.classList.contains('band')) return;
    if (e.key === 'Escape') {
      if (!this.#tip.hidden) {
        e.preventDefault();
        this.#hover = null;
        this.#tip.hidden = true;
      }
      return;
    }
    if (el.classList.contains('point')) {
      this.#onPointKey(e, el);
      return;
    }
    const r = Number(el.dataset.r);
    const c = Number(el.dataset.c);
    const rows = this.#cells;
    let nr = r;
    let nc = c;
    switch (e.key) {
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.#select(Number(el.dataset.layer));
        this.#refreshTip();
        return;
      case 'ArrowLeft': nc = c - 1; break;
      case 'ArrowRight': nc = c + 1; break;
      case 'ArrowUp': nr = r - 1; break;
      case 'ArrowDown': nr = r + 1; break;
      case 'Home': nc = 0; if (e.ctrlKey) nr = 0; break;
      case 'End': nc = rows[r].length - 1; if (e.ctrlKey) nr = rows.length - 1; break;
      case 'PageUp': nr = 0; break;
      case 'PageDown': nr = rows.length - 1; break;
      default: return;
    }
    e.preventDefault();
    nr = Math.max(0, Math.min(rows.length - 1, nr));
    nc = Math.max(0, Math.min(rows[nr].length - 1, nc));
    if (nr === r && nc === c) return;
    const next = this.#setRoving(nr, nc);
    this.#hover = null;
    next.focus();
    next.scrollIntoView?.({ block: 'nearest', inline: 'nearest' });
    if (nr !== r) this.#select(Number(next.dataset.layer));
  }

  #onPointKey(e, el) {
    const i = this.#points.indexOf(el);
    let j = i;
    switch (e.key) {
      case 'Enter':
      case ' ':
        e.preventDefault();
        this.#select(Number(el.dataset.layer));
        return;
      case 'ArrowLeft':
      case 'ArrowDown': j = i - 1; break;
      case 'ArrowRight':
      case 'ArrowUp': j = i + 1; break;
      case 'Home': j = 0; break;
      case 'End': j = this.#points.length - 1; break;
      default: return;
    }
    e.preventDefault();
    j = Math.max(0, Math.min(this.#points.length - 1, j));
    if (j === i) return;
    const next = this.#points[j];
    this.#hover = null;
    this.#select(Number(next.dataset.layer));
    this.#applySelection();
    next.focus();
  }
}
