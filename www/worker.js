// The model worker: the only module that imports the wasm package. It downloads model
// files (with byte progress, cached by the Cache API), loads them, and answers explain
// requests. A failed load keeps the previous model; a trap in the wasm is reported as
// fatal so the page can start a fresh worker.
import init, { ModelFileSet, WasmExplainer } from './pkg/layer_saliency.js';
import { LOAD, EXPLAIN, FAITHFULNESS, BENCH, PROGRESS, RESULT, ERROR } from './protocol.js';

const CACHE_NAME = 'layer-saliency-models-v1';
let ready = null;
let explainer = null;
let poisoned = false;
let wasmMemory = null;

function post(id, type, fields = {}) {
  self.postMessage({ id, type, ...fields });
}

async function cachedResponse(url) {
  if (!('caches' in self)) return null;
  try {
    const cache = await caches.open(CACHE_NAME);
    return (await cache.match(url)) || null;
  } catch {
    return null; // no Cache API (e.g. an opaque origin): just download
  }
}

async function remember(url, bytes, contentType) {
  if (!('caches' in self)) return;
  try {
    const cache = await caches.open(CACHE_NAME);
    await cache.put(url, new Response(bytes, { headers: { 'content-type': contentType || 'application/octet-stream' } }));
  } catch {
    // A full or unavailable cache only costs a download next time.
  }
}

/** Downloads one file with byte progress; refuses HTML where a model file was expected. */
async function download(id, file, index, count) {
  const url = new URL(file.url, self.location.href).href;
  const label = `${file.role} (${index + 1}/${count})`;
  const cached = await cachedResponse(url);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    post(id, PROGRESS, { stage: 'download', message: `${label} from cache`, loaded: bytes.length, total: bytes.length });
    return bytes;
  }
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new Error(`cannot download ${file.url}: ${err.message}`);
  }
  if (!response.ok) throw new Error(`cannot download ${file.url}: HTTP ${response.status} ${response.statusText}`);
  const type = response.headers.get('content-type') || '';
  if (type.includes('text/html')) throw new Error(`${file.url} returned a web page, not a model file`);
  const total = Number(response.headers.get('content-length')) || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    if (loaded - lastReport > 1 << 20 || (total && loaded === total)) {
      lastReport = loaded;
      post(id, PROGRESS, { stage: 'download', message: label, loaded, total });
    }
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  post(id, PROGRESS, { stage: 'download', message: label, loaded, total: loaded });
  await remember(url, bytes, type);
  return bytes;
}

async function load(id, model) {
  wasmMemory = (await (ready ??= init())).memory;
  const files = new ModelFileSet();
  const list = model.files || [];
  for (let i = 0; i < list.length; i++) {
    const f = list[i];
    const bytes = f.bytes ? new Uint8Array(f.bytes) : await download(id, f, i, list.length);
    files.add(f.role, f.name || f.url || f.role, bytes);
  }
  if (model.quantize) files.quantize(model.quantize);
  post(id, PROGRESS, { stage: 'load', message: model.quantize ? `quantizing ${model.name} to ${model.quantize}` : `loading ${model.name}` });
  // The model reports how its weights are stored (f32, f32+q8_0, ...) itself.
  const next = new WasmExplainer(files, model.name);
  const previous = explainer;
  explainer = next;
  previous?.free();
  return JSON.parse(explainer.infoJson());
}

function explain(id, text, options) {
  if (!explainer) throw new Error('no model is loaded yet');
  post(id, PROGRESS, { stage: 'explain', message: 'explaining' });
  // Called by the engine as the windows of a long text finish (once for a short text).
  const windowDone = (done, total) => {
    if (total > 1) post(id, PROGRESS, { stage: 'explain', message: `explaining a long text: window ${Math.min(done + 1, total)} of ${total}`, loaded: done, total });
  };
  return JSON.parse(explainer.explainJson(text, options || {}, windowDone));
}

function faithfulness(id) {
  if (!explainer) throw new Error('no model is loaded yet');
  post(id, PROGRESS, { stage: 'faithfulness', message: 'measuring faithfulness' });
  return JSON.parse(explainer.faithfulnessJson());
}

/** Benchmark rows, the wasm memory size (which never shrinks: the peak of the run) and
 * the kernels' throughput against the tight-kernel ceilings. */
function bench(id, { lengths, repeats, ig }) {
  if (!explainer) throw new Error('no model is loaded yet');
  post(id, PROGRESS, { stage: 'bench', message: `timing ${lengths.join(', ')} tokens` });
  const rows = JSON.parse(explainer.benchJson(Uint32Array.from(lengths), repeats || 5, Boolean(ig)));
  const peak_wasm_mb = wasmMemory.buffer.byteLength / (1 << 20);
  post(id, PROGRESS, { stage: 'bench', message: 'timing tight kernels and the int8 matmuls' });
  const throughput = JSON.parse(explainer.throughputJson(repeats || 5));
  return { rows, peak_wasm_mb, throughput };
}

// Requests run one after another in arrival order: a load still downloading must finish
// before the explain sent after it (as after a restart, when the client reloads the model
// and the page explains again at once) finds a model.
let queue = Promise.resolve();
self.onmessage = (event) => {
  queue = queue.then(() => handle(event));
};

async function handle(event) {
  const { id, type } = event.data || {};
  if (poisoned) {
    post(id, ERROR, { message: 'the model worker stopped after an internal error', fatal: true });
    return;
  }
  try {
    let result;
    if (type === LOAD) result = await load(id, event.data.model);
    else if (type === EXPLAIN) result = explain(id, event.data.text, event.data.options);
    else if (type === FAITHFULNESS) result = faithfulness(id);
    else if (type === BENCH) result = bench(id, event.data);
    else throw new Error(`unknown request type ${type}`);
    post(id, RESULT, { result });
  } catch (err) {
    // A trap (panic, out of memory) leaves the wasm instance unusable.
    const fatal = err instanceof WebAssembly.RuntimeError || /unreachable|memory access out of bounds/i.test(String(err?.message));
    if (fatal) poisoned = true;
    post(id, ERROR, { message: String(err?.message || err), fatal });
  }
}
