// Not a test: runs www/dev/bench.html in headless Chromium and writes its result as JSON.
//
//   node tests/browser/bench.js --out bench/browser.json [--lengths 16,64,256,512] [--repeats 5]
//                               [--model minilm-sentiment] [--timeout-min 30]
//
// It serves www/ under a subfolder itself: ORT's loader is a .mjs file, which a module import
// only accepts with a JavaScript MIME type, and the ONNX model is fetched as bytes.
import http from 'node:http';
import { createReadStream, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launch, openPage } from './browser.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../www');
const PREFIX = '/bench/';
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
};

function serve() {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://localhost');
    const file = path.resolve(ROOT, decodeURIComponent(pathname.slice(PREFIX.length)));
    let stat = null;
    try {
      stat = statSync(file);
    } catch {}
    if (!pathname.startsWith(PREFIX) || !file.startsWith(ROOT + path.sep) || !stat?.isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    const type = TYPES[path.extname(file)] || 'application/octet-stream';
    res.writeHead(200, { 'content-type': type, 'content-length': stat.size, 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const { values: opts } = parseArgs({
  options: {
    out: { type: 'string' },
    lengths: { type: 'string', default: '16,64,256,512' },
    repeats: { type: 'string', default: '5' },
    model: { type: 'string', default: 'minilm-sentiment' },
    'timeout-min': { type: 'string', default: '30' },
  },
});
if (!opts.out) {
  console.error('usage: node tests/browser/bench.js --out FILE [--lengths 16,64] [--repeats 5] [--model NAME]');
  process.exit(2);
}

const server = await serve();
const browser = await launch();
let failure = null;
try {
  const query = new URLSearchParams({ model: opts.model, lengths: opts.lengths, repeats: opts.repeats });
  const url = `http://127.0.0.1:${server.address().port}${PREFIX}dev/bench.html?${query}`;
  console.error(`bench: ${url}`);
  const { page, errors } = await openPage(browser, url);
  // Echo the page's progress so a long 512-token run shows it is alive.
  let last = '';
  const timer = setInterval(async () => {
    const text = await page.textContent('#status').catch(() => '');
    if (text && text !== last) console.error(`bench: ${(last = text)}`);
  }, 2000);
  try {
    await page.waitForFunction(() => window.benchDone || window.benchError, null, {
      timeout: Number(opts['timeout-min']) * 60000,
      polling: 1000,
    });
  } finally {
    clearInterval(timer);
  }
  const { result, error } = await page.evaluate(() => ({ result: window.benchResult, error: window.benchError }));
  if (error) throw new Error(`${error}${errors.length ? `\n  page errors: ${errors.join('\n  ')}` : ''}`);
  mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(result, null, 2)}\n`);
  for (const r of result.rows) {
    console.error(`bench: ${r.tokens} tokens: ours forward ${r.ours_forward_wasm.toFixed(1)} ms, explain ${r.ours_explain_wasm.toFixed(1)} ms, ORT forward ${r.ort_forward_wasm.toFixed(1)} ms`);
  }
  // A CSP refusal or a failed fetch shows up here even when the page recovered from it.
  for (const e of errors) console.error(`bench: warning: the page logged: ${e}`);
  console.error(`bench: peak wasm ${result.peak_wasm_mb.toFixed(1)} MB; wrote ${opts.out}`);
} catch (err) {
  failure = err;
} finally {
  await browser.close();
  server.close();
}
if (failure) {
  console.error(`bench failed: ${failure.message}`);
  process.exit(1);
}
