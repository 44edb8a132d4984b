// Merges the three benchmark pieces into one table per input length:
//
//   node scripts/bench_merge.mjs --native bench/native.json --browser bench/browser.json \
//                                --torch bench/torch.json [--native-128 bench/native-sse2.json] \
//                                --out bench/results.json [--command '...']
//
// native: `saliency bench --json`; browser: tests/browser/bench.js; torch: scripts/bench_torch.py;
// native-128 (optional): `saliency bench --vocabulary-kernel sse2 --no-ig --json`, the native
// engine with the decoder on the 128-bit vector width wasm has.
// A length missing from one piece gets nulls there (and a warning) rather than a made-up number.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    native: { type: 'string' },
    browser: { type: 'string' },
    torch: { type: 'string' },
    'native-128': { type: 'string' },
    out: { type: 'string' },
    command: { type: 'string' }, // what produced the pieces, e.g. './build.sh bench'; default: this command
  },
});

function fail(message) {
  console.error(`bench_merge: ${message}`);
  process.exit(1);
}

function read(kind) {
  const file = opts[kind];
  if (!file) fail(`--${kind} FILE is required (usage: --native F --browser F --torch F --out F)`);
  let data;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    fail(`cannot read the ${kind} results ${file}: ${err.message}`);
  }
  const rows = Array.isArray(data) ? data : data.rows; // the native CLI may print a bare array
  if (!Array.isArray(rows) || !rows.every((r) => Number.isInteger(r.tokens))) {
    fail(`${file} has no rows with a "tokens" length: is it ${kind} bench output?`);
  }
  return { meta: Array.isArray(data) ? {} : data, byTokens: new Map(rows.map((r) => [r.tokens, r])) };
}

if (!opts.out) fail('--out FILE is required');
const native = read('native');
const browser = read('browser');
const torch = read('torch');
const native128 = opts['native-128'] ? read('native-128') : null;

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : a / b);
const num = (x) => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** Forward+backward of the native stages: split stages if present, else the older combined one. */
function forwardBackward(stages = {}) {
  if (stages.forward != null && stages.backward != null) return stages.forward + stages.backward;
  return num(stages.forward_backward);
}

const lengths = [...new Set([...native.byTokens.keys(), ...browser.byTokens.keys(), ...torch.byTokens.keys()])].sort((a, b) => a - b);
const rows = lengths.map((tokens) => {
  const n = native.byTokens.get(tokens);
  const b = browser.byTokens.get(tokens);
  const t = torch.byTokens.get(tokens);
  const n128 = native128?.byTokens.get(tokens);
  const absent = [['native', n], ['browser', b], ['torch', t]].filter(([, r]) => !r).map(([k]) => k);
  if (absent.length) console.error(`bench_merge: warning: ${tokens} tokens has no ${absent.join(' or ')} row`);
  const row = {
    tokens,
    ours_forward_wasm: num(b?.ours_forward_wasm),
    ours_explain_wasm: num(b?.ours_explain_wasm),
    ort_forward_wasm: num(b?.ort_forward_wasm),
    ours_forward_native: num(n?.forward_ms),
    ours_explain_native: num(n?.dls_ms),
    ours_forward_backward_native: forwardBackward(n?.stages_ms),
    ours_explain_native_128: num(n128?.dls_ms),
    ig32_native: num(n?.ig32_ms),
    torch_forward_native: num(t?.torch_forward_ms),
    torch_forward_backward_native: num(t?.torch_forward_backward_ms),
    peak_wasm_mb: num(browser.meta.peak_wasm_mb),
  };
  return {
    ...row,
    forward_over_ort: ratio(row.ours_forward_wasm, row.ort_forward_wasm),
    explain_over_ort: ratio(row.ours_explain_wasm, row.ort_forward_wasm),
    ig32_over_dls_native: ratio(row.ig32_native, row.ours_explain_native),
    wasm_over_native: ratio(row.ours_explain_wasm, row.ours_explain_native),
    wasm_over_native_128: ratio(row.ours_explain_wasm, row.ours_explain_native_128),
    forward_backward_over_torch: ratio(row.ours_forward_backward_native, row.torch_forward_backward_native),
    stages_ms: { native: n?.stages_ms ?? null, native_128: n128?.stages_ms ?? null, wasm: b?.stages_ms ?? null },
  };
});

function machine() {
  let cpu = os.cpus()[0]?.model || 'unknown';
  try {
    cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)?.[1] ?? cpu;
  } catch {} // not Linux: os.cpus() is the best there is
  return { cpu, cores: os.cpus().length, memory_gb: +(os.totalmem() / 2 ** 30).toFixed(1), os: `${os.type()} ${os.release()}` };
}

const result = {
  command: opts.command ?? ['node', path.relative(process.cwd(), process.argv[1]), ...process.argv.slice(2)].join(' '),
  date: new Date().toISOString(),
  machine: machine(),
  sources: {
    native: { file: opts.native, model: native.meta.model, quant: native.meta.quant, threads: native.meta.threads, vocabulary_kernel: native.meta.vocabulary_kernel },
    native_128: native128 && { file: opts['native-128'], vocabulary_kernel: native128.meta.vocabulary_kernel },
    browser: { file: opts.browser, model: browser.meta.model, userAgent: browser.meta.userAgent, ort_version: browser.meta.ort_version },
    torch: { file: opts.torch, version: torch.meta.torch_version, threads: torch.meta.threads, logit_check: torch.meta.logit_check },
  },
  rows,
  // Tight-kernel ceilings and the int8 kernel on the model's largest products (64 tokens),
  // natively and in the browser (src/metrics/peak.rs).
  throughput: { native: native.meta.throughput ?? null, wasm: browser.meta.throughput ?? null },
};
mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
console.error(`bench_merge: ${rows.length} lengths -> ${opts.out}`);
