// <layer-saliency-heatmap>: the original text with every word (or token) coloured by its
// saliency score, a tooltip with the exact score and what the position decodes to at the
// shown layer, a colour legend, and a visually hidden table of the scores.
//
// Property: explanation (an Explanation object).
// Attributes: layer (integer >= 0; absent = explanation.saliency), granularity (word|token).
// Event: layer-saliency-hover (LayerSaliencyHoverEvent: index, granularity, score, layer).
// Parts: base, caption, text, item, item-active, tooltip, legend, legend-ramp, table, empty.

import { colorFor, textColorFor, scaleOf, legendGradient } from '../lib/palette.js';
import { segments, tokenItems, wordItems } from '../lib/spans.js';
import { fmtScore, fmtProb } from '../lib/format.js';
import { adoptStyles, defineElement, h, upgradeProperty } from '../lib/dom.js';

/** Fired when a word/token is pointed at or focused; `index` is null when it is left. */
export class LayerSaliencyHoverEvent extends Event {
  constructor(index, granularity, score, layer = null) {
    super('layer-saliency-hover', { bubbles: true, composed: true });
    this.index = index;
    this.granularity = granularity;
    this.score = score;
    this.layer = layer;
  }
}

const GRANULARITIES = ['word', 'token'];
const MAX_TIP_POSITIONS = 4;
const MAX_TIP_DECODED = 3;

const CSS = `
:host { display: block; position: relative; min-width: 0; color: inherit; font: inherit;
  --_muted: var(--ls-muted, #5f6670); --_border: var(--ls-border, rgba(127,127,127,.35));
  --_surface: var(--ls-surface, Canvas); --_focus: var(--ls-focus, #1f5fbf); }
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap; border: 0; }
.wrap { position: relative; }
.caption { margin: 0 0 .5rem; font-size: .8125rem; color: var(--_muted); }
.notice { margin: 0 0 .5rem; padding: .4rem .6rem; font-size: .8125rem; border-left: 3px solid #c28a00; background: #fff8e1; color: #4a3b00; }
.text { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; word-break: normal;
  font-size: var(--ls-text-size, 1.125rem); line-height: 2; font-family: inherit; }
.item { border-radius: 3px; padding: .14em .06em; cursor: default;
  -webkit-box-decoration-break: clone; box-decoration-break: clone;
  transition: box-shadow .08s ease; }
.item:hover, .item.active { box-shadow: 0 0 0 1.5px rgba(0,0,0,.55); }
.item:focus { outline: none; }
.item:focus-visible { box-shadow: 0 0 0 2px var(--_surface), 0 0 0 4px var(--_focus); }
.tooltip { position: absolute; z-index: 10; left: 0; top: 0; max-width: min(22rem, 100%);
  padding: .5rem .65rem; border-radius: 6px; background: #1d2330; color: #f3f5f8;
  font-size: .8125rem; line-height: 1.35; box-shadow: 0 6px 20px rgba(0,0,0,.25);
  pointer-events: none; white-space: normal; overflow-wrap: anywhere; }
.tooltip[hidden] { display: none; }
.tip-head { display: flex; gap: .75rem; justify-content: space-between; align-items: baseline; }
.tip-word { font-weight: 600; white-space: pre-wrap; }
.tip-score { font-variant-numeric: tabular-nums; font-weight: 600; white-space: nowrap; }
.tip-sub { color: #aeb6c4; margin-top: .15rem; }
.tip-rows { margin-top: .4rem; display: grid; grid-template-columns: minmax(0, max-content) minmax(0, 1fr); gap: .25rem .5rem; }
.tip-in { color: #aeb6c4; white-space: pre-wrap; max-width: 9rem; overflow-wrap: anywhere; }
.tip-out { display: flex; flex-wrap: wrap; gap: .25rem; }
.tok { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .75rem;
  background: rgba(255,255,255,.12); border-radius: 3px; padding: 0 .3em; white-space: pre-wrap;
  overflow-wrap: anywhere; max-width: 100%; }
.tok .p { color: #aeb6c4; margin-left: .35em; white-space: nowrap; }
.legend { display: flex; flex-wrap: wrap; align-items: center; gap: .35rem .6rem;
  margin-top: .75rem; font-size: .8125rem; color: var(--_muted); }
.scale { display: inline-flex; align-items: center; gap: .4rem; font-variant-numeric: tabular-nums; }
.ramp { display: inline-block; width: 9rem; max-width: 40vw; height: .7rem; border-radius: 2px;
  border: 1px solid var(--_border); }
.legend-desc { display: inline-flex; flex-wrap: wrap; gap: .2rem .9rem; }
.key { overflow-wrap: anywhere; }
.swatch { display: inline-block; width: .7em; height: .7em; border-radius: 2px; vertical-align: -.05em;
  margin-right: .25em; border: 1px solid var(--_border); }
.empty { color: var(--_muted); font-style: italic; margin: 0; }
`;


function findLayer(explanation, n) {
  const layers = explanation?.layers;
  if (!Array.isArray(layers) || n == null) return null;
  return layers.find((l) => l && Number(l.layer) === n) ?? null;
}

function quoteLabel(s) {
  return `\u201c${s}\u201d`;
}

export class LayerSaliencyHeatmapElement extends HTMLElement {
  /** Register under `tag` (idempotent). Importing the module registers nothing. */
  static define(tag = 'layer-saliency-heatmap', registry = customElements) {
    return defineElement(this, tag, registry);
  }

  static get observedAttributes() {
    return ['granularity', 'layer'];
  }

  #explanation = null;
  #queued = false;
  #items = [];
  #spans = [];
  #shownLayer = null;
  #hoverIndex = -1;
  #focusIndex = -1;
  #pinned = -1;
  #root;
  #base;
  #tip;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open' });
    adoptStyles(this.#root, CSS);
    this.#base = h('div', { part: 'base', class: 'wrap' });
    this.#tip = h('div', { part: 'tooltip', class: 'tooltip', role: 'tooltip', id: 'tip', hidden: true });
    this.#root.append(this.#base);
    this.#root.addEventListener('keydown', (e) => this.#onKey(e));
    this.#root.addEventListener('pointerover', (e) => this.#onPointerOver(e));
    this.#root.addEventListener('pointerout', (e) => this.#onPointerOut(e));
    this.#root.addEventListener('focusin', (e) => this.#onFocusIn(e));
    this.#root.addEventListener('focusout', (e) => this.#onFocusOut(e));
    this.#root.addEventListener('click', (e) => this.#onClick(e));
  }

  connectedCallback() {
    upgradeProperty(this, 'explanation');
    if (!this.hasAttribute('role')) this.setAttribute('role', 'group');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Saliency heatmap');
    this.#invalidate();
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (oldValue !== newValue) this.#invalidate();
  }

  /** The Explanation object to show (see www/dev/sample-explanation.json). */
  get explanation() {
    return this.#explanation;
  }

  set explanation(value) {
    this.#explanation = value ?? null;
    this.#invalidate();
  }

  /** Layer to show (integer >= 0), or null for the method's own `saliency`. */
  get layer() {
    const raw = this.getAttribute('layer');
    if (raw === null || raw.trim() === '') return null;
    const n = Number(raw);
    return Number.isInteger(n) && n >= 0 ? n : null;
  }

  set layer(value) {
    if (value === null || value === undefined || value === '') {
      this.removeAttribute('layer');
      return;
    }
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`layer must be an integer >= 0, got ${value}`);
    this.setAttribute('layer', String(n));
  }

  /** 'word' (default) or 'token'. */
  get granularity() {
    const raw = this.getAttribute('granularity');
    return GRANULARITIES.includes(raw) ? raw : 'word';
  }

  set granularity(value) {
    if (value === null || value === undefined) {
      this.removeAttribute('granularity');
      return;
    }
    if (!GRANULARITIES.includes(value)) {
      throw new RangeError(`granularity must be one of ${GRANULARITIES.join(', ')}, got ${value}`);
    }
    this.setAttribute('granularity', value);
  }

  #invalidate() {
    if (this.#queued) return;
    this.#queued = true;
    queueMicrotask(() => {
      this.#queued = false;
      this.#render();
    });
  }

  // --- rendering ----------------------------------------------------------------------------

  #render() {
    const ex = this.#explanation;
    this.#hideTip();
    this.#items = [];
    this.#spans = [];
    this.#hoverIndex = -1;
    this.#focusIndex = -1;
    this.#pinned = -1;
    if (!ex || typeof ex !== 'object') {
      this.#base.replaceChildren(h('p', { part: 'empty', class: 'empty', text: 'No explanation to show yet.' }));
      return;
    }

    const granularity = this.granularity;
    const wanted = this.layer;
    const wantedLayer = wanted == null ? null : findLayer(ex, wanted);
    const scores = wantedLayer ? wantedLayer.saliency : null;
    this.#shownLayer = wantedLayer ? wanted : (Number.isInteger(ex.layer) ? ex.layer : null);

    const items = granularity === 'token' ? tokenItems(ex, scores) : wordItems(ex, scores);
    const scale = scaleOf(items.map((it) => it.score));
    const segs = segments(ex.text ?? '', items);

    const text = h('div', { part: 'text', class: 'text' });
    let first = true;
    for (const seg of segs) {
      if (seg.kind === 'gap') {
        text.append(document.createTextNode(seg.text));
        continue;
      }
      const it = seg.item;
      const pos = this.#items.length;
      const span = h('span', {
        part: 'item',
        class: 'item',
        role: 'button',
        tabindex: first ? '0' : '-1',
        'data-index': it.index,
        'data-pos': pos,
        'aria-label': `${seg.text}: ${fmtScore(it.score)}`,
      });
      span.textContent = seg.text;
      span.style.backgroundColor = colorFor(it.score, scale);
      span.style.color = textColorFor(it.score, scale);
      first = false;
      this.#items.push({ ...it, shown: seg.text });
      this.#spans.push(span);
      text.append(span);
    }

    const children = [this.#windowsNotice(ex), this.#caption(ex, wanted, wantedLayer, granularity), text, this.#legend(ex, scale)];
    children.push(this.#table(granularity));
    children.push(this.#tip);
    this.#base.replaceChildren(...children.filter(Boolean));
  }

  /** A text longer than the model reads was explained in windows: say so above it. */
  #windowsNotice(ex) {
    const w = ex.windows;
    if (!w || !Array.isArray(w.spans) || w.spans.length < 2) return null;
    const text = `Long text: ${w.tokens} tokens, but the model reads ${w.max_positions} at a time. `
      + `It was explained in ${w.spans.length} overlapping windows (at least ${w.overlap} tokens shared by neighbours); `
      + 'the prediction averages the windows, and scores in an overlap blend both windows. '
      + 'Faithfulness metrics are not computed for windowed texts.';
    return h('p', { part: 'notice', class: 'notice', role: 'note', text });
  }

  #caption(ex, wanted, wantedLayer, granularity) {
    const unit = granularity === 'token' ? 'token' : 'word';
    const parts = [];
    if (wanted != null && wantedLayer) {
      parts.push(`Layer ${wanted}${wanted === 0 ? ' (embeddings)' : ''}`);
      if (wanted === ex.layer && ex.layer_auto) parts.push('chosen automatically');
    } else {
      if (wanted != null) parts.push(`Layer ${wanted} is not available; showing the final saliency`);
      if (ex.method) parts.push(`method ${ex.method}`);
      if (Number.isInteger(ex.layer)) parts.push(`layer ${ex.layer}${ex.layer_auto ? ' (auto)' : ''}`);
    }
    parts.push(`per ${unit}`);
    return h('p', { part: 'caption', class: 'caption', text: parts.join(' \u00b7 ') });
  }

  #targetName(ex) {
    const labels = Array.isArray(ex.labels) ? ex.labels : [];
    const name = (i) => (Number.isInteger(i) ? String(labels[i] ?? `class ${i}`) : null);
    const target = name(ex.target);
    const contrast = name(ex.contrast);
    if (!target) return null;
    return contrast ? `${quoteLabel(target)} over ${quoteLabel(contrast)}` : quoteLabel(target);
  }

  #legend(ex, scale) {
    const target = this.#targetName(ex);
    const ramp = h('span', { part: 'legend-ramp', class: 'ramp', 'aria-hidden': 'true' });
    ramp.style.backgroundImage = legendGradient(9);
    const min = h('span', { class: 'legend-min', text: fmtScore(-scale) });
    const max = h('span', { class: 'legend-max', text: fmtScore(scale) });
    const neg = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    neg.style.backgroundColor = colorFor(-1, 1);
    const pos = h('span', { class: 'swatch', 'aria-hidden': 'true' });
    pos.style.backgroundColor = colorFor(1, 1);
    const desc = h('span', { class: 'legend-desc' },
      h('span', { class: 'key' }, pos, target ? `raises ${target}` : 'positive'),
      h('span', { class: 'key' }, neg, target ? 'lowers it' : 'negative'));
    const summary = scale === 0
      ? 'Colour scale: every score is 0.'
      : `Colour scale from ${fmtScore(-scale)} (blue) through 0 (white) to ${fmtScore(scale)} (orange).`;
    return h('div', { part: 'legend', class: 'legend', role: 'group', 'aria-label': summary },
      h('span', { class: 'scale', 'aria-hidden': 'true' }, min, ramp, max),
      desc);
  }

  #table(granularity) {
    const unit = granularity === 'token' ? 'Token' : 'Word';
    const layerText = this.#shownLayer == null ? '' : `, layer ${this.#shownLayer}`;
    const body = h('tbody');
    this.#items.forEach((it, i) => {
      body.append(h('tr', {},
        h('td', { text: String(i + 1) }),
        h('td', { text: it.shown }),
        h('td', { text: fmtScore(it.score, 4) })));
    });
    // (a table ignores width: 1px, so the visually hidden box is a wrapping div)
    return h('div', { class: 'sr-only' }, h('table', { part: 'table' },
      h('caption', { text: `Saliency per ${unit.toLowerCase()}${layerText}` }),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', text: '#' }),
        h('th', { scope: 'col', text: unit }),
        h('th', { scope: 'col', text: 'Score' }))),
      body));
  }

  // --- tooltip ------------------------------------------------------------------------------

  #fillTip(pos) {
    const it = this.#items[pos];
    const ex = this.#explanation;
    const layerObj = findLayer(ex, this.#shownLayer);
    const tip = this.#tip;
    const head = h('div', { class: 'tip-head' },
      h('span', { class: 'tip-word', text: it.shown }),
      h('span', { class: 'tip-score', text: fmtScore(it.score, 4) }));
    const kids = [head];
    const sub = [];
    if (this.granularity === 'token') sub.push(`token ${quoteLabel(it.label)}`);
    else if (it.tokens.length > 1) sub.push(`${it.tokens.length} tokens`);
    if (this.#shownLayer != null) sub.push(`layer ${this.#shownLayer}`);
    if (sub.length) kids.push(h('div', { class: 'tip-sub', text: sub.join(' \u00b7 ') }));

    const decoded = layerObj?.decoded;
    if (Array.isArray(decoded)) {
      const rows = h('div', { class: 'tip-rows' });
      let count = 0;
      for (const t of it.tokens.slice(0, MAX_TIP_POSITIONS)) {
        const list = Array.isArray(decoded[t]) ? decoded[t].slice(0, MAX_TIP_DECODED) : [];
        if (!list.length) continue;
        const input = ex.tokens?.[t]?.text ?? '';
        const out = h('span', { class: 'tip-out' });
        for (const d of list) {
          out.append(h('span', { class: 'tok' }, String(d?.token ?? ''), h('span', { class: 'p', text: fmtProb(d?.prob) })));
        }
        rows.append(h('span', { class: 'tip-in', text: `${input} \u2192` }), out);
        count += 1;
      }
      if (count) {
        kids.push(h('div', { class: 'tip-sub', text: 'decodes to' }), rows);
        if (it.tokens.length > MAX_TIP_POSITIONS) {
          kids.push(h('div', { class: 'tip-sub', text: `+ ${it.tokens.length - MAX_TIP_POSITIONS} more tokens` }));
        }
      }
    }
    tip.replaceChildren(...kids);
  }

  #showTip(pos) {
    const span = this.#spans[pos];
    if (!span) return;
    this.#fillTip(pos);
    const tip = this.#tip;
    tip.hidden = false;
    this.#spans.forEach((s, i) => {
      const on = i === pos;
      s.classList.toggle('active', on);
      s.setAttribute('part', on ? 'item item-active' : 'item');
      if (on) s.setAttribute('aria-describedby', 'tip');
      else s.removeAttribute('aria-describedby');
    });
    const wrap = this.#base.getBoundingClientRect();
    const rects = span.getClientRects();
    const r = rects.length ? rects[0] : span.getBoundingClientRect();
    const tw = tip.offsetWidth;
    const th = tip.offsetHeight;
    const maxLeft = Math.max(0, wrap.width - tw);
    const left = Math.min(maxLeft, Math.max(0, r.left - wrap.left + r.width / 2 - tw / 2));
    let top = r.bottom - wrap.top + 6;
    const viewportH = window.innerHeight || document.documentElement.clientHeight;
    if (r.bottom + th + 8 > viewportH && r.top - th - 8 > 0) top = r.top - wrap.top - th - 6;
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  #hideTip() {
    this.#tip.hidden = true;
    for (const s of this.#spans) {
      s.classList.remove('active');
      s.setAttribute('part', 'item');
      s.removeAttribute('aria-describedby');
    }
  }

  #refreshTip() {
    const pos = this.#hoverIndex >= 0 ? this.#hoverIndex
      : this.#pinned >= 0 ? this.#pinned : -1;
    if (pos >= 0) this.#showTip(pos);
    else this.#hideTip();
  }

  #emit(pos) {
    const it = pos >= 0 ? this.#items[pos] : null;
    this.dispatchEvent(new LayerSaliencyHoverEvent(
      it ? it.index : null, this.granularity, it ? it.score : null, this.#shownLayer));
  }

  // --- interaction --------------------------------------------------------------------------

  #posOf(target) {
    const span = target instanceof Element ? target.closest('.item') : null;
    if (!span) return -1;
    const pos = Number(span.dataset.pos);
    return Number.isInteger(pos) && this.#spans[pos] === span ? pos : -1;
  }

  #onPointerOver(e) {
    const pos = this.#posOf(e.target);
    if (pos < 0 || pos === this.#hoverIndex) return;
    this.#hoverIndex = pos;
    this.#refreshTip();
    this.#emit(pos);
  }

  #onPointerOut(e) {
    const pos = this.#posOf(e.target);
    if (pos < 0) return;
    if (this.#posOf(e.relatedTarget) === pos) return;
    this.#hoverIndex = -1;
    this.#refreshTip();
    if (this.#posOf(e.relatedTarget) < 0) this.#emit(this.#pinned);
  }

  #focusPos(pos) {
    const span = this.#spans[pos];
    if (!span) return;
    for (const s of this.#spans) s.tabIndex = -1;
    span.tabIndex = 0;
    span.focus();
  }

  #onFocusIn(e) {
    const pos = this.#posOf(e.target);
    if (pos < 0) return;
    for (const s of this.#spans) s.tabIndex = -1;
    this.#spans[pos].tabIndex = 0;
    this.#focusIndex = pos;
    this.#pinned = pos;
    this.#hoverIndex = -1;
    this.#refreshTip();
    this.#emit(pos);
  }

  #onFocusOut(e) {
    if (this.#posOf(e.target) < 0) return;
    if (this.#posOf(e.relatedTarget) >= 0) return;
    this.#focusIndex = -1;
    this.#pinned = -1;
    this.#refreshTip();
    this.#emit(-1);
  }

  #onClick(e) {
    const pos = this.#posOf(e.target);
    if (pos < 0) return;
    // a tap focuses the span (showing its tooltip); a second tap on it hides it
    if (this.#focusIndex === pos && this.#pinned === pos && !this.#tip.hidden && e.pointerType !== 'mouse') {
      this.#pinned = -1;
      this.#hoverIndex = -1;
      this.#hideTip();
      return;
    }
    this.#pinned = pos;
    if (this.#focusIndex !== pos) this.#focusPos(pos);
    this.#refreshTip();
  }

  #onKey(e) {
    const pos = this.#posOf(e.target);
    if (pos < 0) return;
    const last = this.#spans.length - 1;
    let next = -1;
    switch (e.key) {
      case 'ArrowRight':
      case 'ArrowDown':
        next = Math.min(last, pos + 1);
        break;
      case 'ArrowLeft':
      case 'ArrowUp':
        next = Math.max(0, pos - 1);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = last;
        break;
      case 'Enter':
      case ' ':
        e.preventDefault();
        if (this.#pinned === pos && !this.#tip.hidden) {
          this.#pinned = -1;
          this.#hideTip();
        } else {
          this.#pinned = pos;
          this.#showTip(pos);
          this.#emit(pos);
        }
        return;
      case 'Escape':
        if (!this.#tip.hidden) {
          e.preventDefault();
          this.#pinned = -1;
          this.#hoverIndex = -1;
          this.#hideTip();
        }
        return;
      default:
        return;
    }
    e.preventDefault();
    if (next !== pos) this.#focusPos(next);
  }
}
