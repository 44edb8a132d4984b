// End-to-end tests of the built site in real headless Chromium: the page served from a
// subfolder, the default model loaded by the worker, and the results compared with the
// native CLI on the same model and text.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './server.js';
import { launch, openPage, nextResult, firstResult } from './browser.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TARGET = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache/layer-saliency/target');
const CLI = process.env.SALIENCY_BIN || path.join(TARGET, 'debug/saliency');
const MODEL = 'minilm-sentiment';

function nativeExplain(model, text, extra = []) {
  const out = execFileSync(CLI, ['explain', '--model', path.join(REPO, 'www/models', model), '--json', ...extra, text], {
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.toString());
}

function spearman(a, b) {
  const ranks = (v) => {
    const order = v.map((x, i) => [x, i]).sort((p, q) => p[0] - q[0]);
    const r = new Array(v.length);
    order.forEach(([, i], k) => { r[i] = k; });
    return r;
  };
  const [ra, rb] = [ranks(a), ranks(b)];
  const n = a.length;
  const d2 = ra.reduce((acc, x, i) => acc + (x - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

function shadowQueryCount(page, hostPath, selector) {
  return page.evaluate(([hostPath, selector]) => {
    let root = document;
    for (const sel of hostPath) root = root.querySelector(sel).shadowRoot;
    return root.querySelectorAll(selector).length;
  }, [hostPath, selector]);
}

/**
 * Inside the model worker: the next explain first asks the Rust allocator for 4 GB, which
 * it cannot give, so Rust aborts: a genuine wasm trap ("unreachable"), as out of memory is.
 */
function trapNextExplain(worker) {
  return worker.evaluate(async () => {
    const pkg = await import(new URL('pkg/layer_saliency.js', self.location.href).href);
    const wasm = await pkg.default();
    const original = pkg.WasmExplainer.prototype.explainJson;
    pkg.WasmExplainer.prototype.explainJson = function (...args) {
      pkg.WasmExplainer.prototype.explainJson = original;
      wasm.__wbindgen_malloc(0xfffffff0, 8);
      return original.apply(this, args);
    };
  });
}

let server;
let browser;

test.before(async () => {
  server = await serve('/demo/sub/');
  browser = await launch();
});

test.after(async () => {
  await browser?.close();
  await server?.close();
});

test('on an f32 model, wasm and native agree within 1e-4 word by word', { timeout: 300000 }, async () => {
  // The page reads a model list that offers the f32 Hugging Face files of the default model.
  const f32Index = {
    models: [{
      name: 'minilm-sentiment-f32',
      title: 'MiniLM sentiment (f32, test)',
      quant: 'f32',
      files: Object.fromEntries(['config.json', 'tokenizer.json', 'model.safetensors', 'classifier.safetensors']
        .map((f) => [f, `minilm-sentiment/${f}`])),
    }],
  };
  const browserContext = await browser.newContext();
  await browserContext.route(/models\/index\.json/, (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify(f32Index) }));
  const page = await browserContext.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  await page.goto(server.url);
  const result = await firstResult(page);
  assert.equal(result.model.quant, 'f32');
  const native = nativeExplain(MODEL, result.text);
  assert.deepEqual(result.tokens.map((t) => t.id), native.tokens.map((t) => t.id));
  assert.equal(result.words.length, native.words.length);
  for (let i = 0; i < native.words.length; i++) {
    assert.equal(result.words[i].text, native.words[i].text);
    const scale = Math.max(1, Math.abs(native.words[i].saliency));
    assert.ok(Math.abs(result.words[i].saliency - native.words[i].saliency) <= 1e-4 * scale,
      `word ${i} ${native.words[i].text}: wasm ${result.words[i].saliency} vs native ${native.words[i].saliency}`);
  }
  for (let c = 0; c < native.probs.length; c++) assert.ok(Math.abs(result.probs[c] - native.probs[c]) < 1e-4);
  assert.equal(result.layer, native.layer);
  assert.deepEqual(errors, []);
  await browserContext.close();
});

// The served model is quantized: its results agree with native closely but not to 1e-4.
// Measured 2026-11-27 on the first 12 test tweets and this example (Node, wasm against the
// native CLI): class probabilities differ by 0.003 on average and at most 0.014 for a q8_0
// MiniLM, 0.004 and 0.012 for the model served until session 7 (0.0104 on this example),
// 0.002 and 0.0065 for the one served since, hence 2e-2. The
// same MiniLM packed as f32 agrees within 5e-5 on those texts, so the difference arises in
// the quantized path, though not in its int8 kernel: that gives the same bits natively and
// as wasm (int8.rs `matmul_gives_the_portable_reference_bits`, run in both by ./build.sh
// test). It rounds every input row to 8 bits, so the f32 operations that do differ (e.g.
// candle's f32 matmuls use FMA natively and cannot in wasm) move a rounding step now and
// then, and each moved step perturbs the next layers far more than the f32 noise did.
test('the served quantized example explains, one chart point per layer, close to native', { timeout: 300000 }, async () => {
  const { page, errors, context } = await openPage(browser, server.url);
  const result = await firstResult(page);
  assert.equal(result.model.name, MODEL);
  // The default model's table keeps its most used rows at q8_0, the rest at q3k (MODELS.md),
  // and the file the page downloads is at most 15 MB (issue 4), as index.json says.
  assert.match(result.model.quant, /q3k/);
  assert.match(result.model.quant, /q8_0/);
  const entry = JSON.parse(readFileSync(path.join(REPO, 'www/models/index.json'), 'utf8')).models.find((m) => m.name === MODEL);
  const bytes = readFileSync(path.join(REPO, 'www/models', `${MODEL}.gguf`)).length;
  assert.equal(entry.size, bytes);
  assert.ok(bytes <= 15e6, `the default model is ${bytes} bytes`);
  assert.equal(result.method, 'dls');
  const native = nativeExplain(`${MODEL}.gguf`, result.text);
  assert.deepEqual(result.words.map((w) => w.text), native.words.map((w) => w.text));
  for (let c = 0; c < native.probs.length; c++) {
    const gap = Math.abs(result.probs[c] - native.probs[c]);
    assert.ok(gap < 2e-2, `class ${c}: wasm ${result.probs[c]}, native ${native.probs[c]}`);
  }
  const rho = spearman(result.words.map((w) => w.saliency), native.words.map((w) => w.saliency));
  assert.ok(rho > 0.95, `word saliency rank correlation wasm vs native ${rho}`);

  // The chart has one point per layer (0..L).
  const points = await shadowQueryCount(page, ['#app', 'layer-saliency-layers'], '[part~=point]');
  assert.equal(points, result.layers.length);
  assert.equal(result.layers.length, result.model.layers + 1);
  assert.deepEqual(errors, []);
  await context.close();
});

test('changing method, layer and class updates the view', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  let wait = nextResult(page);
  await page.evaluate(() => document.getElementById('app').setAttribute('method', 'gxa'));
  assert.equal((await wait).method, 'gxa');
  wait = nextResult(page);
  await page.evaluate(() => {
    const app = document.getElementById('app');
    app.setAttribute('method', 'dls');
  });
  await wait;
  wait = nextResult(page);
  await page.evaluate(() => document.getElementById('app').setAttribute('layer', '2'));
  const atLayer2 = await wait;
  assert.equal(atLayer2.layer, 2);
  assert.equal(atLayer2.layer_auto, false);
  wait = nextResult(page);
  await page.evaluate(() => document.getElementById('app').setAttribute('target', 'negative'));
  const negative = await wait;
  assert.equal(negative.labels[negative.target], 'negative');
  // The URL now holds the state.
  const hash = new URLSearchParams(new URL(page.url()).hash.slice(1));
  assert.equal(hash.get('layer'), '2');
  assert.equal(hash.get('target'), 'negative');
  await context.close();
});

test('a link restores text, method and layer (query and fragment)', { timeout: 300000 }, async () => {
  const text = 'Dreadful service, lovely view.';
  const { page, context } = await openPage(browser, `${server.url}?text=${encodeURIComponent('ignored')}#text=${encodeURIComponent(text)}&method=occlusion&layer=1`);
  const result = await firstResult(page);
  assert.equal(result.text, text);
  assert.equal(result.method, 'occlusion');
  const box = await page.evaluate(() => document.getElementById('app').shadowRoot.querySelector('textarea').value);
  assert.equal(box, text);
  await context.close();
});

test('text with HTML and script renders literally', { timeout: 300000 }, async () => {
  const hostile = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> <b>bold</b> javascript:alert(3)';
  const { page, context } = await openPage(browser, `${server.url}#text=${encodeURIComponent(hostile)}`);
  const result = await firstResult(page);
  assert.equal(result.text, hostile);
  const check = await page.evaluate(() => {
    const heat = document.getElementById('app').shadowRoot.querySelector('layer-saliency-heatmap').shadowRoot;
    return {
      xss: window.__xss,
      injected: heat.querySelectorAll('img, script, b').length + document.querySelectorAll('img, b').length,
      text: heat.textContent,
    };
  });
  assert.equal(check.xss, undefined);
  assert.equal(check.injected, 0);
  assert.ok(check.text.includes('<script>window.__xss=2</script>'));
  await context.close();
});

test('exported JSON parses and has the CLI schema', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  const json = JSON.parse(readFileSync(await download.path(), 'utf8'));
  for (const key of ['model', 'labels', 'probs', 'tokens', 'method', 'layer', 'saliency', 'layers', 'words', 'faithfulness', 'timing_ms']) {
    assert.ok(key in json, `missing ${key}`);
  }
  const [svg] = await Promise.all([page.waitForEvent('download'), page.click('#export-svg')]);
  assert.match(readFileSync(await svg.path(), 'utf8'), /^<svg/);
  await context.close();
});

test('a corrupt model file shows an error and the page keeps working', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  // tiny-sentiment's packed file is replaced by garbage.
  await page.route(/tiny-sentiment\.gguf/, (route) =>
    route.fulfill({ status: 200, contentType: 'application/octet-stream', body: Buffer.from('not a safetensors file at all') }));
  const error = page.evaluate(() => new Promise((resolve) => {
    document.getElementById('app').addEventListener('layer-saliency-error', (e) => resolve(e.message), { once: true });
  }));
  await page.evaluate(() => document.getElementById('app').setAttribute('model', 'tiny-sentiment'));
  const message = await error;
  assert.match(message, /tiny-sentiment/);
  assert.match(message, /GGUF/);
  const status = await page.evaluate(() => document.getElementById('app').shadowRoot.querySelector('[part=status]').textContent);
  assert.match(status, /did not load/);
  // The previous model still explains.
  const wait = nextResult(page);
  await page.evaluate(() => document.getElementById('app').explain());
  const again = await wait;
  assert.equal(again.model.name, MODEL);
  await context.close();
});

test('a model URL that answers with a web page or a 404 gets a clear message; the previous model keeps working', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  const cases = [
    // A static host's fallback page served for any path, with status 200.
    [{ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Home</title>' }, /returned a web page, not a model file/],
    [{ status: 404, contentType: 'text/plain', body: 'gone' }, /HTTP 404/],
  ];
  for (const [answer, expected] of cases) {
    await page.unroute(/tiny-sentiment\.gguf/);
    await page.route(/tiny-sentiment\.gguf/, (route) => route.fulfill(answer));
    const error = page.evaluate(() => new Promise((resolve) => {
      document.getElementById('app').addEventListener('layer-saliency-error', (e) => resolve(e.message), { once: true });
    }));
    await page.evaluate(() => document.getElementById('app').setAttribute('model', 'tiny-sentiment'));
    const message = await error;
    assert.match(message, expected);
    assert.match(message, /tiny-sentiment/);
    const wait = nextResult(page);
    await page.evaluate(() => document.getElementById('app').explain());
    assert.equal((await wait).model.name, MODEL);
    await page.evaluate((m) => document.getElementById('app').setAttribute('model', m), MODEL);
  }
  await context.close();
});

test('a Hugging Face repo with the LM head of its base loads by URL (mock hub) and explains', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  const wait = nextResult(page);
  await page.evaluate((hub) => {
    const app = document.getElementById('app');
    app.setAttribute('hub-url', hub);
    app.setAttribute('text', 'this movie was not good , but the acting was great !');
    app.loadFromHub('test/distilbert-cls', 'test/distilbert-mlm');
  }, server.hub);
  const result = await wait;
  assert.equal(result.model.name, 'test/distilbert-cls + test/distilbert-mlm');
  assert.equal(result.model.decoder, 'distilbert_mlm');
  assert.deepEqual(result.labels, ['negative', 'neutral', 'positive']);
  assert.match(result.model.quant, /q8_0/, 'hub weights are quantized while loading');
  const description = await page.evaluate(() => document.getElementById('app').shadowRoot.querySelector('[part=model-description]').textContent);
  assert.match(description, /MB download, quantized to q8_0/, 'the download size is told');
  // A repo the hub does not have: a clear error, and the loaded model stays.
  const error = page.evaluate(() => new Promise((resolve) => {
    document.getElementById('app').addEventListener('layer-saliency-error', (e) => resolve(e.message), { once: true });
  }));
  await page.evaluate(() => document.getElementById('app').loadFromHub('test/missing'));
  assert.match(await error, /cannot be fetched/);
  const again = nextResult(page);
  await page.evaluate(() => document.getElementById('app').explain());
  assert.equal((await again).model.decoder, 'distilbert_mlm');
  await context.close();
});

test('a link to a Hub model fills in the Hub fields and waits for the user, explaining with a bundled model meanwhile', { timeout: 300000 }, async () => {
  const url = `${server.url}?model=${encodeURIComponent('test/distilbert-cls + test/distilbert-mlm')}`;
  const { page, context } = await openPage(browser, url);
  const result = await firstResult(page);
  assert.equal(result.model.name, MODEL);
  await page.waitForFunction(() => /from the Hugging Face Hub/.test(document.getElementById('app').shadowRoot.querySelector('[part=status]').textContent));
  const fields = await page.evaluate(() => {
    const root = document.getElementById('app').shadowRoot;
    return [root.querySelector('[part=hub-repo]').value, root.querySelector('[part=hub-lm-repo]').value];
  });
  assert.deepEqual(fields, ['test/distilbert-cls', 'test/distilbert-mlm']);
  await context.close();
});

test('a text longer than the model reads is explained in windows, with a notice and progress, as natively', { timeout: 300000 }, async () => {
  const sentence = 'The soup was cold and the waiter forgot us, but the view over the harbour was lovely and the bread was the best in town. ';
  const text = sentence.repeat(30); // about 900 tokens: two windows of 512 positions at least
  const { page, errors, context } = await openPage(browser, `${server.url}#model=tiny-sentiment&text=${encodeURIComponent(text)}`);
  const result = await firstResult(page);
  assert.equal(result.model.name, 'tiny-sentiment');
  assert.ok(result.windows && result.windows.spans.length >= 2, JSON.stringify(result.windows));
  assert.equal(result.saliency.length, result.tokens.length);
  const native = nativeExplain('tiny-sentiment.gguf', text);
  assert.deepEqual(result.windows, native.windows);
  assert.deepEqual(result.words.map((w) => w.text), native.words.map((w) => w.text));
  for (let c = 0; c < native.probs.length; c++) {
    const gap = Math.abs(result.probs[c] - native.probs[c]);
    assert.ok(gap < 2e-2, `class ${c}: wasm ${result.probs[c]}, native ${native.probs[c]}`);
  }
  const rho = spearman(result.words.map((w) => w.saliency), native.words.map((w) => w.saliency));
  assert.ok(rho > 0.95, `windowed word saliency rank correlation wasm vs native ${rho}`);
  // The notice sits above the highlighted text and says what was done.
  const notice = await page.evaluate(() => document.getElementById('app').shadowRoot
    .querySelector('layer-saliency-heatmap').shadowRoot.querySelector('[part=notice]')?.textContent);
  assert.match(notice ?? '', new RegExp(`${result.windows.spans.length} overlapping windows`));
  // Explaining again reports progress window by window in the status line.
  const seen = page.evaluate(() => new Promise((resolve) => {
    const status = document.getElementById('app').shadowRoot.querySelector('[part=status]');
    const texts = [];
    const observer = new MutationObserver(() => texts.push(status.textContent));
    observer.observe(status, { subtree: true, childList: true, characterData: true });
    document.getElementById('app').addEventListener('layer-saliency-result', () => {
      observer.disconnect();
      resolve(texts);
    }, { once: true });
  }));
  await page.evaluate(() => document.getElementById('app').explain());
  const statuses = await seen;
  assert.ok(statuses.some((s) => /window 2 of \d/.test(s)), statuses.join(' | '));
  assert.ok(statuses.some((s) => /in \d windows/.test(s)), statuses.join(' | '));
  assert.deepEqual(errors, []);
  await context.close();
});

test('a trap in the wasm restarts the worker; the text, the settings and the next explanation survive', { timeout: 300000 }, async () => {
  const text = 'The soup was cold but the staff were lovely.';
  const { page, context } = await openPage(browser, `${server.url}#text=${encodeURIComponent(text)}&method=gxa`);
  const first = await firstResult(page);
  await trapNextExplain(page.workers()[0]);
  const failed = page.evaluate(() => new Promise((resolve) => {
    document.getElementById('app').addEventListener('layer-saliency-error', (e) => resolve(e.message), { once: true });
  }));
  await page.evaluate(() => document.getElementById('app').explain());
  const message = await failed;
  assert.match(message, /unreachable/);
  assert.match(message, /restarted; your text and settings are kept/);
  const kept = await page.evaluate(() => ({
    box: document.getElementById('app').shadowRoot.querySelector('textarea').value,
    hash: location.hash,
  }));
  assert.equal(kept.box, text);
  const hash = new URLSearchParams(kept.hash.slice(1));
  assert.equal(hash.get('text'), text);
  assert.equal(hash.get('method'), 'gxa');
  // The fresh worker reloads the model and explains the same text to the same numbers.
  const wait = nextResult(page);
  await page.evaluate(() => document.getElementById('app').explain());
  const again = await wait;
  assert.equal(again.text, text);
  assert.equal(again.method, 'gxa');
  assert.deepEqual(again.saliency, first.saliency);
  assert.deepEqual(again.probs, first.probs);
  await context.close();
});

test('Stop ends a long explanation at once; the model comes back and explains the next text', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  // About 1,500 tokens: three windows of seconds each on the default model.
  const long = 'The soup was cold and the waiter forgot us, but the view over the harbour was lovely. '.repeat(80);
  await page.evaluate((text) => document.getElementById('app').setAttribute('text', text), long);
  // Not awaited: explain() resolves only when the explanation is done.
  await page.evaluate(() => { document.getElementById('app').explain(); });
  await page.waitForFunction(() => /window 1 of/.test(document.getElementById('app').shadowRoot.querySelector('[part=status]').textContent));
  const stopVisible = await page.evaluate(() => !document.getElementById('app').shadowRoot.querySelector('[part=stop-button]').hidden);
  assert.ok(stopVisible, 'a Stop button shows while explaining');
  const started = Date.now();
  await page.evaluate(() => document.getElementById('app').shadowRoot.querySelector('[part=stop-button]').click());
  await page.waitForFunction(() => /^Stopped\./.test(document.getElementById('app').shadowRoot.querySelector('[part=status]').textContent));
  assert.ok(Date.now() - started < 2000, `stopping took ${Date.now() - started} ms`);
  const after = await page.evaluate(() => ({
    box: document.getElementById('app').shadowRoot.querySelector('textarea').value,
    stopHidden: document.getElementById('app').shadowRoot.querySelector('[part=stop-button]').hidden,
  }));
  assert.equal(after.box, long);
  assert.ok(after.stopHidden);
  const wait = nextResult(page);
  await page.evaluate(() => {
    const app = document.getElementById('app');
    app.setAttribute('text', 'Short and sweet.');
    app.explain();
  });
  const next = await wait;
  assert.equal(next.text, 'Short and sweet.');
  assert.equal(next.model.name, MODEL);
  await context.close();
});

test('after a restart, a model opened from disk is not silently replaced by an older one', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  let wait = nextResult(page);
  await page.locator('layer-saliency input[type=file]').setInputFiles(path.join(REPO, 'www/models/tiny-sentiment.gguf'));
  assert.equal((await wait).model.name, 'your model');
  await trapNextExplain(page.workers().at(-1));
  const errors = [];
  await page.exposeFunction('recordError', (m) => errors.push(m));
  await page.evaluate(() => document.getElementById('app').addEventListener('layer-saliency-error', (e) => window.recordError(e.message)));
  await page.evaluate(() => document.getElementById('app').explain());
  await page.evaluate(() => document.getElementById('app').explain());
  await page.waitForFunction(() => /open its files again/.test(document.getElementById('app').shadowRoot.querySelector('[part=status]').textContent));
  assert.match(errors[0], /restarted/);
  assert.match(errors[1], /opened from your disk is gone: open its files again/);
  await context.close();
});

test('Stop also ends a model download that hangs; the previous model keeps explaining', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  await firstResult(page);
  // The packed file never arrives, as a stalled half-gigabyte download would not.
  await page.route(/tiny-sentiment\.gguf/, () => {});
  await page.evaluate(() => document.getElementById('app').setAttribute('model', 'tiny-sentiment'));
  await page.waitForFunction(() => !document.getElementById('app').shadowRoot.querySelector('[part=stop-button]').hidden);
  await page.evaluate(() => document.getElementById('app').stop());
  await page.waitForFunction(() => /^Stopped loading tiny-sentiment\. The previous model is still in use\./
    .test(document.getElementById('app').shadowRoot.querySelector('[part=status]').textContent));
  const wait = nextResult(page);
  await page.evaluate(() => document.getElementById('app').explain());
  assert.equal((await wait).model.name, MODEL);
  await context.close();
});

test('while the model is still downloading, the last explanation shows and the text box takes input', { timeout: 300000 }, async () => {
  const { page, context } = await openPage(browser, server.url);
  const first = await firstResult(page);
  // Remembered once its faithfulness metrics are in too (the result event).
  await page.waitForFunction(() => localStorage.getItem('layer-saliency:last-result'));
  // The next visit in this browser: the model file never arrives.
  const stalled = await context.newPage();
  await stalled.route(new RegExp(`${MODEL}\\.gguf`), () => {});
  await stalled.goto(server.url);
  const loading = () => stalled.evaluate(() => {
    const root = document.getElementById('app').shadowRoot;
    return !root.querySelector('[part=stop-button]').hidden && !/ready/.test(root.querySelector('[part=status]').textContent);
  });
  await stalled.waitForFunction(() => !document.getElementById('app').shadowRoot.querySelector('[part=stop-button]').hidden);
  assert.ok(await loading(), 'the model is loading');
  // Shown, not made the result: the next explanation replaces it.
  const heatmapText = (p) => p.evaluate(() => document.getElementById('app').shadowRoot
    .querySelector('layer-saliency-heatmap').shadowRoot.querySelector('[part~=text]')?.textContent);
  assert.ok(first.words.length > 0);
  assert.equal(await heatmapText(stalled), await heatmapText(page), 'the remembered explanation is on screen');
  assert.equal(await shadowQueryCount(stalled, ['#app', 'layer-saliency-heatmap'], '[part~=item]'),
    await shadowQueryCount(page, ['#app', 'layer-saliency-heatmap'], '[part~=item]'), 'its words are highlighted');
  const box = stalled.locator('#app').locator('[part=textarea]');
  await box.fill('Typed while the model loads.');
  assert.equal(await stalled.evaluate(() => document.getElementById('app').getAttribute('text')), 'Typed while the model loads.');
  assert.ok(await loading(), 'the model is still not there');
  await context.close();
});
