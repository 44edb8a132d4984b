// <layer-saliency>: the whole explainer as one element, for the demo page and for
// embedding. It owns a model worker, the text box and the controls, and composes the
// view elements (heatmap, layers, metrics). Attributes are the source of truth for the
// state; the finished explanation is the `result` property and a `layer-saliency-result`
// event whose detail is the Explanation JSON (the schema of `saliency explain --json`).
import { ModelClient } from '../lib/worker-client.js';
import { adoptStyles, defineElement } from '../lib/dom.js';
import { LayerSaliencyHeatmapElement } from './layer-saliency-heatmap.js';
import { LayerSaliencyLayersElement } from './layer-saliency-layers.js';
import { LayerSaliencyMetricsElement } from './layer-saliency-metrics.js';

const METHODS = [
  ['dls', 'Decoded layer saliency'],
  ['grad-norm', 'Gradient norm (embeddings)'],
  ['gxa', 'Gradient × input (embeddings)'],
  ['ig', 'Integrated gradients'],
  ['layer-gxa', 'Layer gradient × activation (no decoding)'],
  ['attention', 'Last-layer [CLS] attention'],
  ['rollout', 'Attention rollout'],
  ['occlusion', 'Occlusion (leave one out)'],
  ['random', 'Random (control)'],
];
const AGGREGATIONS = [['gxa', 'gradient × activation'], ['grad-norm', 'gradient norm'], ['gradcam', 'Grad-CAM']];

export class LayerSaliencyResultEvent extends CustomEvent {
  constructor(explanation) {
    super('layer-saliency-result', { bubbles: true, composed: true, detail: explanation });
    this.explanation = explanation;
  }
}

export class LayerSaliencyErrorEvent extends Event {
  constructor(message) {
    super('layer-saliency-error', { bubbles: true, composed: true });
    this.message = message;
  }
}

/** Fired whenever the user changes the text, model or an option (for URL and storage). */
export class LayerSaliencyStateEvent extends Event {
  constructor(state) {
    super('layer-saliency-state', { bubbles: true, composed: true });
    this.state = state;
  }
}

function el(tag, props = {}, children = []) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'text') node.textContent = value;
    else if (key === 'part' || key.startsWith('aria-') || key === 'role' || key === 'for') node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function options(select, pairs, selected) {
  select.replaceChildren(...pairs.map(([value, label]) => el('option', { value, text: label, selected: value === selected })));
}

const STYLE = `
:host { display: block; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2330; }
* { box-sizing: border-box; }
.row { display: flex; flex-wrap: wrap; gap: .5rem .75rem; align-items: end; margin: .5rem 0; }
label { display: flex; flex-direction: column; font-size: .8rem; color: #4a5468; gap: .15rem; }
select, input, textarea, button { font: inherit; color: inherit; }
select, input[type=url] { padding: .3rem .4rem; border: 1px solid #b8c0cc; border-radius: 6px; background: #fff; max-width: 100%; }
textarea { width: 100%; min-height: 6.5rem; padding: .6rem .7rem; border: 1px solid #b8c0cc; border-radius: 8px; resize: vertical; }
button { padding: .4rem .9rem; border-radius: 6px; border: 1px solid #2b4a7e; background: #2b4a7e; color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: #2b4a7e; }
button:disabled { opacity: .55; cursor: progress; }
:focus-visible { outline: 3px solid #e66101; outline-offset: 2px; }
[part=status] { min-height: 1.6rem; font-size: .9rem; color: #4a5468; display: flex; gap: .6rem; align-items: center; }
[part=status][data-state=error] { color: #8a1c1c; }
progress { width: 10rem; }
progress[hidden], button[hidden] { display: none; }
section { margin-top: 1rem; }
h3 { font-size: .95rem; margin: 1.2rem 0 .4rem; color: #2c3445; }
.hint { font-size: .8rem; color: #5b6578; }
:host([controls=compact]) [part~=advanced] { display: none; }
`;

export class LayerSaliencyElement extends HTMLElement {
  static define(tag = 'layer-saliency', registry = customElements) {
    LayerSaliencyHeatmapElement.define(undefined, registry);
    LayerSaliencyLayersElement.define(undefined, registry);
    LayerSaliencyMetricsElement.define(undefined, registry);
    return defineElement(this, tag, registry);
  }

  static observedAttributes = ['agg', 'contrast', 'granularity', 'hub-url', 'layer', 'method', 'model', 'models-url', 'target', 'text'];

  #client = null;
  #models = [];
  #loaded = null; // name of the loaded model
  #info = null;
  /** The last complete explanation (faithfulness included): the public `result`. */
  #result = null;
  /** What the views show: the result, or a newer explanation whose faithfulness is still
   * being measured, or the last visit's result while the model loads. */
  #shown = null;
  #busy = false;
  #queued = false;
  #ui = {};

  constructor() {
    super();
    this.attachShadow({ mode: 'open' });
  }

  // --- attributes (the state) ---
  get text() { return this.getAttribute('text') ?? ''; }
  set text(v) { this.setAttribute('text', String(v ?? '')); }
  get model() { return this.getAttribute('model') ?? ''; }
  set model(v) { this.setAttribute('model', String(v ?? '')); }
  get method() {
    const m = this.getAttribute('method');
    return METHODS.some(([name]) => name === m) ? m : 'dls';
  }
  set method(v) { this.setAttribute('method', String(v)); }
  get layer() {
    const v = this.getAttribute('layer');
    return v !== null && /^\d+$/.test(v) ? v : 'auto';
  }
  set layer(v) { this.setAttribute('layer', String(v)); }
  get target() { return this.getAttribute('target') ?? ''; }
  set target(v) { this.setAttribute('target', String(v ?? '')); }
  get contrast() { return this.getAttribute('contrast') ?? ''; }
  set contrast(v) { this.setAttribute('contrast', String(v ?? '')); }
  get agg() {
    const a = this.getAttribute('agg');
    return AGGREGATIONS.some(([name]) => name === a) ? a : 'gxa';
  }
  set agg(v) { this.setAttribute('agg', String(v)); }
  get granularity() { return this.getAttribute('granularity') === 'token' ? 'token' : 'word'; }
  set granularity(v) { this.setAttribute('granularity', v === 'token' ? 'token' : 'word'); }
  /** Where Hugging Face repos are downloaded from (`<hub>/<repo>/resolve/main/<file>`). */
  get hubUrl() {
    return (this.getAttribute('hub-url') || 'https://huggingface.co').replace(/\/+$/, '');
  }

  get modelsUrl() {
    return this.getAttribute('models-url') || new URL('../models/index.json', import.meta.url).href;
  }

  /** The last complete explanation (the Explanation JSON object), or null. */
  get result() { return this.#result; }

  /**
   * Shows an explanation made earlier (e.g. the last visit's, while the model loads)
   * without making it the result; the next explanation replaces it.
   */
  show(explanation) {
    if (!explanation || !Array.isArray(explanation.tokens) || !Array.isArray(explanation.words)) return;
    this.#render(explanation);
  }

  /** The current state, as written to a share link. */
  get state() {
    return { text: this.text, model: this.#loaded || this.model, method: this.method, layer: this.layer, target: this.target, contrast: this.contrast, agg: this.agg, granularity: this.granularity };
  }

  connectedCallback() {
    if (!this.#ui.root) this.#build();
    this.#client ??= new ModelClient(new URL('../worker.js', import.meta.url));
    this.#syncControls();
    this.#start();
  }

  disconnectedCallback() {
    this.#client?.terminate();
    this.#client = null;
  }

  attributeChangedCallback(name, oldValue, newValue) {
    if (!this.#ui.root || oldValue === newValue) return;
    this.#syncControls();
    if (name === 'model') this.#loadSelected();
    else if (name === 'granularity') this.#render(this.#shown);
    else if (name !== 'text' && name !== 'models-url' && name !== 'hub-url') this.explain();
  }

  #build() {
    const ui = this.#ui;
    ui.modelSelect = el('select', { 'aria-label': 'Model' });
    ui.files = el('input', { type: 'file', multiple: true, hidden: true, accept: '.gguf,.json,.safetensors' });
    ui.openFiles = el('button', { className: 'secondary', type: 'button', text: 'Open model files…' });
    ui.modelDescription = el('p', { className: 'hint', part: 'model-description' });
    ui.hubRepo = el('input', { type: 'text', placeholder: 'org/classifier-repo', spellcheck: false, part: 'hub-repo' });
    ui.hubLm = el('input', { type: 'text', placeholder: 'org/masked-lm-repo (optional)', spellcheck: false, part: 'hub-lm-repo' });
    ui.hubLoad = el('button', { className: 'secondary', type: 'button', text: 'Load from the Hub', part: 'hub-load' });
    ui.paperPreset = el('button', { className: 'secondary', type: 'button', text: 'Paper setting (DistilBERT SST-2)', part: 'paper-preset' });
    const modelRow = el('div', { className: 'row', part: 'model-bar advanced' }, [
      el('label', {}, ['Model', ui.modelSelect]),
      ui.openFiles,
      ui.files,
    ]);
    const hubRow = el('div', { className: 'row', part: 'hub-bar advanced' }, [
      el('label', {}, ['Hugging Face classifier', ui.hubRepo]),
      el('label', {}, ['LM head of its base', ui.hubLm]),
      ui.hubLoad,
      ui.paperPreset,
    ]);
    ui.textarea = el('textarea', { 'aria-label': 'Text to explain', part: 'textarea', spellcheck: false });
    ui.explain = el('button', { type: 'button', text: 'Explain', part: 'explain-button' });
    ui.stop = el('button', { className: 'secondary', type: 'button', text: 'Stop', part: 'stop-button', hidden: true });
    ui.method = el('select');
    ui.agg = el('select');
    ui.layer = el('select');
    ui.target = el('select');
    ui.contrast = el('select');
    ui.granularity = el('select');
    options(ui.method, METHODS, this.method);
    options(ui.agg, AGGREGATIONS, this.agg);
    options(ui.granularity, [['word', 'words'], ['token', 'sub-word tokens']], this.granularity);
    const controls = el('div', { className: 'row', part: 'controls' }, [
      el('label', {}, ['Method', ui.method]),
      el('label', { part: 'advanced' }, ['Aggregation', ui.agg]),
      el('label', {}, ['Layer', ui.layer]),
      el('label', {}, ['Explain class', ui.target]),
      el('label', { part: 'advanced' }, ['…rather than', ui.contrast]),
      el('label', {}, ['Show', ui.granularity]),
      ui.explain,
      ui.stop,
    ]);
    ui.progress = el('progress', { hidden: true, max: 1, value: 0 });
    ui.statusText = el('span', { text: 'Starting…' });
    ui.status = el('div', { part: 'status', role: 'status', 'aria-live': 'polite' }, [ui.progress, ui.statusText]);
    ui.heatmap = el('layer-saliency-heatmap', { part: 'heatmap' });
    ui.layers = el('layer-saliency-layers', { part: 'layers' });
    ui.metrics = el('layer-saliency-metrics', { part: 'metrics' });
    ui.root = el('div', { part: 'root' }, [
      modelRow,
      hubRow,
      ui.modelDescription,
      ui.textarea,
      controls,
      ui.status,
      el('section', { part: 'result' }, [ui.heatmap]),
      el('section', {}, [el('h3', { text: 'Layer by layer' }), ui.layers]),
      el('section', {}, [ui.metrics]),
    ]);
    this.shadowRoot.replaceChildren(ui.root);
    adoptStyles(this.shadowRoot, STYLE);

    ui.textarea.value = this.text;
    ui.textarea.addEventListener('input', () => {
      this.setAttribute('text', ui.textarea.value);
      this.#emitState();
    });
    ui.textarea.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        this.explain();
      }
    });
    ui.explain.addEventListener('click', () => this.explain());
    ui.stop.addEventListener('click', () => this.stop());
    const bind = (select, attr) => select.addEventListener('change', () => {
      this.setAttribute(attr, select.value);
      this.#emitState();
    });
    bind(ui.method, 'method');
    bind(ui.agg, 'agg');
    bind(ui.layer, 'layer');
    bind(ui.target, 'target');
    bind(ui.contrast, 'contrast');
    bind(ui.granularity, 'granularity');
    bind(ui.modelSelect, 'model');
    ui.openFiles.addEventListener('click', () => ui.files.click());
    ui.hubLoad.addEventListener('click', () => this.loadFromHub(ui.hubRepo.value.trim(), ui.hubLm.value.trim()));
    ui.paperPreset.addEventListener('click', () => {
      // Hou & Castanon's setting: the SST-2 DistilBERT decoded by its base model's MLM head.
      ui.hubRepo.value = 'distilbert/distilbert-base-uncased-finetuned-sst-2-english';
      ui.hubLm.value = 'distilbert/distilbert-base-uncased';
      this.loadFromHub(ui.hubRepo.value, ui.hubLm.value);
    });
    ui.files.addEventListener('change', () => this.#loadFromDisk([...ui.files.files]));
    ui.layers.addEventListener('layer-saliency-select', (e) => {
      this.setAttribute('layer', String(e.layer));
      this.#emitState();
    });
  }

  #emitState() {
    this.dispatchEvent(new LayerSaliencyStateEvent(this.state));
  }

  #syncControls() {
    const ui = this.#ui;
    if (ui.textarea.value !== this.text) ui.textarea.value = this.text;
    ui.method.value = this.method;
    ui.agg.value = this.agg;
    ui.granularity.value = this.granularity;
    const layers = this.#info?.layers ?? 0;
    options(ui.layer, [['auto', 'auto (by coherence)'], ...Array.from({ length: layers + 1 }, (_, l) => [String(l), l === 0 ? '0 (embeddings)' : String(l)])], this.layer);
    const labels = this.#info?.labels ?? [];
    const classes = labels.map((label, i) => [String(i), label]);
    options(ui.target, [['', 'predicted class'], ...classes], this.#classValue(this.target, labels));
    options(ui.contrast, [['', '(no contrast)'], ...classes], this.#classValue(this.contrast, labels));
    if (this.#models.length) {
      options(ui.modelSelect, this.#models.map((m) => [m.name, m.title || m.name]), this.#loaded || this.model);
    }
  }

  /** Class attributes may hold an index or a label; the selects hold indices. */
  #classValue(value, labels) {
    if (value === '' || /^\d+$/.test(value)) return value;
    const i = labels.findIndex((l) => l.toLowerCase() === value.toLowerCase());
    return i >= 0 ? String(i) : '';
  }

  #status(message, state = 'ok', progress = null) {
    const ui = this.#ui;
    ui.statusText.textContent = message;
    ui.status.dataset.state = state;
    ui.status.setAttribute('role', state === 'error' ? 'alert' : 'status');
    if (progress && progress.total) {
      ui.progress.hidden = false;
      ui.progress.max = progress.total;
      ui.progress.value = progress.loaded;
    } else {
      ui.progress.hidden = true;
    }
  }

  #fail(err) {
    // A trap in the wasm (a panic, out of memory): the client has already started a fresh
    // worker and is reloading the model; the text box and the URL still hold everything.
    const message = err?.fatal
      ? `The model stopped on an internal error (${err.message}) and was restarted; your text and settings are kept. Press Explain to try again.`
      : err?.message || String(err);
    this.#status(message, 'error');
    this.dispatchEvent(new LayerSaliencyErrorEvent(message));
  }

  async #start() {
    try {
      const response = await fetch(this.modelsUrl);
      if (!response.ok) throw new Error(`cannot read the model list (${response.status})`);
      const index = await response.json();
      const base = new URL(this.modelsUrl, location.href);
      this.#models = (index.models || []).map((m) => ({ ...m, base }));
      this.#syncControls();
      await this.#loadSelected();
    } catch (err) {
      this.#fail(err);
    }
  }

  async #loadSelected() {
    const wanted = this.model || this.#models[0]?.name;
    let entry = this.#models.find((m) => m.name === wanted);
    // A link to a Hugging Face model ("org/name" or "org/name + org/base"): never start a
    // large download from a link alone. Fill in the Hub fields and say how to load it;
    // meanwhile the first bundled model explains.
    const hub = !entry && /^([\w.-]+\/[\w.-]+)(?: \+ ([\w.-]+\/[\w.-]+))?$/.exec(wanted || '');
    if (hub && this.#models.length) {
      this.#ui.hubRepo.value = hub[1];
      this.#ui.hubLm.value = hub[2] || '';
      entry = this.#models[0];
      await this.#loadEntry(entry);
      this.#status(`This link uses ${wanted} from the Hugging Face Hub: press “Load from the Hub” to download it (its size is shown first). Shown meanwhile: ${entry.name}.`);
      return;
    }
    if (!entry) {
      if (this.#models.length) this.#fail(new Error(`there is no bundled model called “${wanted}”`));
      return;
    }
    await this.#loadEntry(entry);
  }

  /** Loads a bundled model (an entry of models/index.json) unless it is loaded already. */
  async #loadEntry(entry) {
    if (this.#loaded === entry.name) return;
    const files = Object.entries(entry.files).map(([role, path]) => ({ role, url: new URL(path, entry.base).href }));
    await this.#load({ name: entry.name, quant: entry.quant, files }, entry);
  }

  async #loadFromDisk(fileList) {
    const roles = { 'config.json': 'config.json', 'tokenizer.json': 'tokenizer.json', 'model.safetensors': 'model.safetensors', 'classifier.safetensors': 'classifier.safetensors' };
    const files = [];
    for (const file of fileList) {
      const role = file.name.endsWith('.gguf') ? 'model.gguf' : roles[file.name];
      if (!role) {
        this.#fail(new Error(`${file.name}: expected a packed .gguf file, or config.json, tokenizer.json, model.safetensors and optionally classifier.safetensors`));
        return;
      }
      files.push({ role, name: file.name, bytes: await file.arrayBuffer() });
    }
    await this.#load({ name: 'your model', quant: '', files }, null);
  }

  /**
   * Loads a classifier (and optionally the LM head of its base) from Hugging Face repos,
   * telling the download size before any weights are fetched.
   */
  async loadFromHub(repo, lmRepo = '') {
    const valid = /^[\w.-]+(\/[\w.-]+)?$/;
    if (!valid.test(repo) || (lmRepo && !valid.test(lmRepo))) {
      this.#fail(new Error('A Hugging Face repo is written like org/name.'));
      return;
    }
    const url = (r, file) => `${this.hubUrl}/${r}/resolve/main/${file}`;
    const files = ['config.json', 'model.safetensors'].map((f) => ({ role: f, url: url(repo, f) }));
    // Some fine-tuned repos ship only vocab.txt; the base model's tokenizer.json is the same.
    const tokenizers = [repo, lmRepo].filter(Boolean).map((r) => url(r, 'tokenizer.json'));
    let tokenizer = null;
    for (const candidate of tokenizers) {
      try {
        if ((await fetch(candidate, { method: 'HEAD' })).ok) {
          tokenizer = candidate;
          break;
        }
      } catch {
        // try the next repo
      }
    }
    if (!tokenizer) {
      this.#fail(new Error(`${tokenizers[0]} cannot be fetched: the repo needs a tokenizer.json; the current model stays.`));
      return;
    }
    files.push({ role: 'tokenizer.json', url: tokenizer });
    if (lmRepo) {
      files.push({ role: 'lm_head/config.json', url: url(lmRepo, 'config.json') });
      files.push({ role: 'lm_head/model.safetensors', url: url(lmRepo, 'model.safetensors') });
    }
    this.#status(`Asking ${new URL(this.hubUrl).host} for the size of ${repo}…`, 'busy');
    let total = 0;
    for (const f of files) {
      try {
        const head = await fetch(f.url, { method: 'HEAD' });
        if (!head.ok) throw new Error(`HTTP ${head.status}`);
        total += Number(head.headers.get('content-length')) || 0;
      } catch (err) {
        this.#fail(new Error(`${f.url} cannot be fetched (${err.message}); the current model stays.`));
        return;
      }
    }
    this.#status(`Downloading ${(total / 1e6).toFixed(1)} MB from ${new URL(this.hubUrl).host}…`, 'busy');
    const name = lmRepo ? `${repo} + ${lmRepo}` : repo;
    this.#models = this.#models.filter((m) => m.name !== name);
    // Quantized to 8 bits while loading: a quarter of the f32 memory, and the int8
    // kernels are the fast path in wasm.
    await this.#load({ name, quant: 'q8_0', quantize: 'q8_0', files }, { description: `${name} from ${this.hubUrl} (${(total / 1e6).toFixed(1)} MB download, quantized to q8_0 in this browser)` });
  }

  async #load(model, entry) {
    this.#busy = true;
    this.#ui.explain.disabled = true;
    this.#ui.stop.hidden = false; // a Hub download can be half a gigabyte
    try {
      const info = await this.#client.load(model, (p) => this.#status(this.#progressText(p), 'busy', p));
      this.#info = info;
      this.#loaded = model.name;
      this.#ui.modelDescription.textContent = entry?.description || `${model.name}: ${info.layers} layers, ${info.labels.length} classes`;
      this.#syncControls();
      this.#status(`Model ready: ${model.name}.`);
    } catch (err) {
      if (err?.cancelled) this.#status(`Stopped loading ${model.name}.${this.#info ? ' The previous model is still in use.' : ''}`);
      else this.#fail(new Error(`${model.name} did not load: ${err.message}${this.#info ? ' (the previous model is still in use)' : ''}`));
      return;
    } finally {
      this.#busy = false;
      this.#ui.explain.disabled = false;
      this.#ui.stop.hidden = true;
    }
    if (this.text.trim()) await this.explain();
  }

  #progressText(p) {
    if (p.stage === 'download' && p.total) {
      return `Downloading ${p.message}: ${(p.loaded / 1e6).toFixed(1)} of ${(p.total / 1e6).toFixed(1)} MB`;
    }
    return p.message ? `${p.message[0].toUpperCase()}${p.message.slice(1)}…` : 'Working…';
  }

  /** Explains the current text with the current options; resolves with the explanation. */
  async explain() {
    if (!this.#info) return null;
    if (this.#busy) {
      this.#queued = true;
      return null;
    }
    const text = this.text;
    if (!text.trim()) {
      this.#fail(new Error('Type or paste some text to explain.'));
      return null;
    }
    this.#busy = true;
    this.#ui.explain.disabled = true;
    this.#ui.stop.hidden = false;
    this.#status('Explaining…', 'busy');
    const request = { method: this.method, layer: this.layer, agg: this.agg };
    if (this.target !== '') request.target = this.target;
    if (this.contrast !== '') request.contrast = this.contrast;
    try {
      // The explanation is shown as soon as it exists; its faithfulness metrics (several
      // more forward passes) follow in a second request, then the result event fires.
      const shown = await this.#client.explain(text, { ...request, faithfulness: false },
        (p) => this.#status(this.#progressText(p), 'busy', p));
      this.#render(shown);
      const t = shown.timing_ms?.total;
      const windows = shown.windows?.spans?.length > 1 ? ` in ${shown.windows.spans.length} windows` : '';
      const done = `Explained ${shown.tokens.length} tokens${windows}${t ? ` in ${Math.round(t)} ms` : ''}.`;
      this.#status(`${done} Measuring faithfulness…`, 'busy');
      const explanation = await this.#client.faithfulness();
      this.#result = explanation;
      if (this.#shown === shown) this.#render(explanation);
      this.#status(done);
      this.dispatchEvent(new LayerSaliencyResultEvent(explanation));
      return explanation;
    } catch (err) {
      if (err?.cancelled) this.#status('Stopped. Your text and settings are kept; the model is ready again in a moment.');
      else this.#fail(err);
      return null;
    } finally {
      this.#busy = false;
      this.#ui.explain.disabled = false;
      this.#ui.stop.hidden = true;
      if (this.#queued) {
        this.#queued = false;
        queueMicrotask(() => this.explain());
      }
    }
  }

  /** Stops a running explanation or model download (the last model that loaded is
   * reloaded into a fresh worker). */
  stop() {
    if (!this.#busy) return;
    this.#queued = false;
    this.#client.cancel();
  }

  #render(e) {
    this.#shown = e;
    if (!e) return;
    const ui = this.#ui;
    ui.heatmap.explanation = e;
    ui.heatmap.setAttribute('granularity', this.granularity);
    ui.layers.explanation = e;
    ui.layers.setAttribute('selected', String(e.layer));
    ui.metrics.explanation = e;
  }
}
