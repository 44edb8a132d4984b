// Benchmark page: times our engine in its worker, then onnxruntime-web's forward pass of an
// int8 all-MiniLM-L6-v2 on exactly the token ids our engine used, both single-threaded wasm
// in this browser. tests/browser/bench.js drives it headless and reads window.benchResult.
import { ModelClient } from '../lib/worker-client.js';

// ORT and its model are copied here by `./build.sh bench` (git-ignored, 37 MB).
const ORT_DIR = new URL('./vendor/ort/', import.meta.url);
const ORT_MODEL = new URL('./vendor/ort-model/model.onnx', import.meta.url);
const INDEX = new URL('../models/index.json', import.meta.url);
const WARM_UP_MS = 2000;

const CSS = `
body { font: 15px/1.5 system-ui, sans-serif; margin: 1.5rem; max-width: 60rem; color: #1d2330; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #dfe2e7; padding: .3rem .8rem; text-align: right; }
#status.bad { color: #a02c00; }
`;

const statusEl = document.getElementById('status');
function status(text, bad = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle('bad', bad);
}

function params() {
  const q = new URLSearchParams(location.search);
  const lengths = (q.get('lengths') || '16,64,256,512').split(',').map(Number);
  const repeats = Number(q.get('repeats') || 5);
  if (!lengths.every((n) => Number.isInteger(n) && n >= 2) || !(Number.isInteger(repeats) && repeats >= 1)) {
    throw new Error(`bad query: lengths=${q.get('lengths')} repeats=${q.get('repeats')}`);
  }
  return { model: q.get('model') || 'minilm-sentiment', lengths, repeats };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Loads a bundled model from index.json the way <layer-saliency> does, and benches it. */
async function benchOurs(name, lengths, repeats) {
  const res = await fetch(INDEX);
  if (!res.ok) throw new Error(`models/index.json: HTTP ${res.status}`);
  const index = await res.json();
  const entry = index.models.find((m) => m.name === name);
  if (!entry) throw new Error(`no model "${name}" in models/index.json`);
  const files = Object.entries(entry.files).map(([role, path]) => ({ role, url: new URL(path, INDEX).href }));
  const client = new ModelClient(new URL('../worker.js', import.meta.url));
  try {
    status(`Loading ${name}…`);
    await client.load({ name: entry.name, quant: entry.quant, files });
    status(`Timing our engine at ${lengths.join(', ')} tokens (${repeats} runs each)…`);
    // IG is left out: the native bench already compares it, and in wasm it takes minutes.
    return await client.bench({ lengths, repeats, ig: false });
  } finally {
    // Frees the worker's wasm memory before ORT allocates its own; the peak is already read.
    client.terminate();
  }
}

/** Median ORT forward time per row, on the row's own ids. */
async function benchOrt(rows, repeats) {
  let ort;
  try {
    ort = await import(new URL('ort.wasm.min.mjs', ORT_DIR).href);
  } catch (err) {
    throw new Error(`onnxruntime-web is missing from dev/vendor/ort/ (run ./build.sh bench): ${err.message}`);
  }
  // One thread like our engine; no proxy worker; the loader and wasm from our own origin.
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = ORT_DIR.href;
  status('Loading the ONNX reference model…');
  const session = await ort.InferenceSession.create(ORT_MODEL.href, { executionProviders: ['wasm'] });
  const feedsOf = (row) => {
    const n = row.ids.length;
    const tensor = (data) => new ort.Tensor('int64', data, [1, n]);
    const all = {
      input_ids: tensor(BigInt64Array.from(row.ids, BigInt)),
      attention_mask: tensor(new BigInt64Array(n).fill(1n)),
      token_type_ids: tensor(new BigInt64Array(n)),
    };
    return Object.fromEntries(session.inputNames.map((name) => {
      if (!all[name]) throw new Error(`the ONNX model wants an input "${name}" this page does not know`);
      return [name, all[name]];
    }));
  };
  const feeds = rows.map(feedsOf);
  // Warm up every length before timing any, for at least WARM_UP_MS: V8 first runs wasm
  // from its baseline compiler and swaps in optimised code once it is hot, in background
  // threads that a busy 2-core machine delays. With a single warm-up run, that switch
  // landed in the timed runs (16 tokens measured 25-77 ms, then 15 ms once settled).
  status('Warming up onnxruntime-web…');
  const warmUntil = performance.now() + WARM_UP_MS;
  do {
    for (const f of feeds) await session.run(f);
  } while (performance.now() < warmUntil);
  const times = [];
  const allRuns = []; // kept in the result: the spread tells how much to trust a median
  for (const [i, row] of rows.entries()) {
    status(`Timing onnxruntime-web at ${row.tokens} tokens…`);
    const runs = [];
    for (let r = 0; r < repeats; r++) {
      const t0 = performance.now();
      await session.run(feeds[i]);
      runs.push(performance.now() - t0);
    }
    times.push(median(runs));
    allRuns.push(runs);
  }
  await session.release();
  return { times, allRuns, version: ort.env.versions?.web };
}

function render(result) {
  const body = document.querySelector('#results tbody');
  const fmt = (x, digits) => (x == null ? '–' : x.toFixed(digits));
  for (const r of result.rows) {
    const tr = document.createElement('tr');
    for (const cell of [r.tokens, fmt(r.ours_forward_wasm, 1), fmt(r.ours_explain_wasm, 1), fmt(r.ort_forward_wasm, 1),
      fmt(r.forward_over_ort, 2), fmt(r.explain_over_ort, 2)]) {
      const td = document.createElement('td');
      td.textContent = String(cell);
      tr.append(td);
    }
    body.append(tr);
  }
  document.getElementById('results').hidden = false;
  document.getElementById('memory').textContent = `Peak wasm memory of our worker: ${result.peak_wasm_mb.toFixed(1)} MB.`;
}

async function run() {
  const { model, lengths, repeats } = params();
  const ours = await benchOurs(model, lengths, repeats);
  for (const row of ours.rows) {
    if (!Array.isArray(row.ids) || row.ids.length !== row.tokens) {
      throw new Error(`the engine's ${row.tokens}-token row has no matching ids; ORT needs the same input`);
    }
  }
  const ort = await benchOrt(ours.rows, repeats);
  const rows = ours.rows.map((row, i) => ({
    tokens: row.tokens,
    ours_forward_wasm: row.forward_ms,
    ours_explain_wasm: row.dls_ms,
    ort_forward_wasm: ort.times[i],
    ort_runs_ms: ort.allRuns[i],
    forward_over_ort: row.forward_ms / ort.times[i],
    explain_over_ort: row.dls_ms / ort.times[i],
    stages_ms: row.stages_ms,
  }));
  return {
    model, userAgent: navigator.userAgent, ort_version: ort.version, ort_warm_up_ms: WARM_UP_MS, repeats, rows,
    peak_wasm_mb: ours.peak_wasm_mb,
    throughput: ours.throughput,
  };
}

const sheet = new CSSStyleSheet();
sheet.replaceSync(CSS); // constructed sheets pass style-src 'self'; inline <style> would not
document.adoptedStyleSheets = [sheet];

run().then((result) => {
  render(result);
  status('Done.');
  window.benchResult = result;
  window.benchDone = true;
}, (err) => {
  status(`Failed: ${err.message}`, true);
  window.benchError = err.message || String(err);
});
