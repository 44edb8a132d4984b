// The demo page: registers the elements, restores the state from the URL (or the last
// session's text), keeps the URL in step with every change, and offers share and export.
import { LayerSaliencyElement } from './elements/layer-saliency.js';
import { readState, writeState } from './lib/state.js';
import { explanationSvg } from './lib/export.js';

const STORAGE_KEY = 'layer-saliency:state';
// The last explanation, shown on the next visit while the model loads (if the text is the same).
const RESULT_KEY = 'layer-saliency:last-result';
const RESULT_MAX_CHARS = 2_000_000;
const app = document.getElementById('app');
const status = document.getElementById('action-status');

function saved() {
  try {
    return JSON.parse(localStorage.getItem(STORAGE_KEY) || '{}');
  } catch {
    return {};
  }
}

// ?embed (for an iframe): only the explainer, no page header or footer.
if (new URL(location.href).searchParams.has('embed')) {
  document.documentElement.classList.add('embedded');
  app.setAttribute('controls', 'compact');
}

// The URL wins over what this browser remembers, which wins over the page's example.
const state = { ...saved(), ...readState(location.href) };
for (const [key, value] of Object.entries(state)) {
  if (typeof value === 'string') app.setAttribute(key, value);
}
LayerSaliencyElement.define();

try {
  const last = JSON.parse(localStorage.getItem(RESULT_KEY) || 'null');
  if (last && last.text === app.getAttribute('text') && (!state.model || last.model?.name === state.model)) app.show(last);
} catch {
  // Nothing usable remembered: the first explanation arrives once the model is ready.
}

app.addEventListener('layer-saliency-state', (event) => {
  history.replaceState(null, '', writeState(location.href, event.state));
  try {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(event.state));
  } catch {
    // Private mode or a full quota: the URL still holds the state.
  }
});
app.addEventListener('layer-saliency-result', (event) => {
  history.replaceState(null, '', writeState(location.href, app.state));
  try {
    const json = JSON.stringify(event.detail);
    if (json.length <= RESULT_MAX_CHARS) localStorage.setItem(RESULT_KEY, json);
  } catch {
    // A full quota only costs the early view next time.
  }
});

function say(message) {
  status.textContent = message;
}

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function needResult() {
  if (!app.result) say('Explain a text first.');
  return app.result;
}

document.getElementById('copy-link').addEventListener('click', async () => {
  const link = writeState(location.href, app.state);
  try {
    await navigator.clipboard.writeText(link);
    say('Link copied.');
  } catch {
    say('Copy this link from the address bar: it holds the whole state.');
  }
});

document.getElementById('export-json').addEventListener('click', () => {
  const result = needResult();
  if (!result) return;
  download('layer-saliency.json', new Blob([JSON.stringify(result, null, 2)], { type: 'application/json' }));
  say('JSON saved.');
});

document.getElementById('export-svg').addEventListener('click', () => {
  const result = needResult();
  if (!result) return;
  const svg = explanationSvg(document, result, app.granularity);
  download('layer-saliency.svg', new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' }));
  say('SVG saved.');
});

document.getElementById('export-png').addEventListener('click', async () => {
  const result = needResult();
  if (!result) return;
  const svg = explanationSvg(document, result, app.granularity);
  const width = Number(svg.getAttribute('width'));
  const height = Number(svg.getAttribute('height'));
  const url = URL.createObjectURL(new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = width * 2;
    canvas.height = height * 2;
    const ctx = canvas.getContext('2d');
    ctx.scale(2, 2);
    ctx.drawImage(image, 0, 0);
    canvas.toBlob((blob) => {
      if (blob) download('layer-saliency.png', blob);
      say(blob ? 'PNG saved.' : 'This browser could not make a PNG; try SVG.');
    }, 'image/png');
  } catch (err) {
    say(`PNG failed: ${err.message}`);
  } finally {
    URL.revokeObjectURL(url);
  }
});
