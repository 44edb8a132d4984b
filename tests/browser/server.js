// A small static server for the browser tests: serves www/ under a subfolder (to prove
// the page works from one), with the right MIME types, on a free loopback port.
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../www');
const GOLDEN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../golden');

// A stand-in for the Hugging Face Hub's URL layout, /hub/<org>/<repo>/resolve/main/<file>,
// serving the small golden checkpoints (the real Hub cannot be reached from here).
const HUB_REPOS = {
  'test/distilbert-cls': 'distilbert/classifier',
  'test/distilbert-mlm': 'distilbert/lm_head',
};

function hubFile(pathname) {
  const m = pathname.match(/^\/hub\/([^/]+\/[^/]+)\/resolve\/main\/([^/]+)$/);
  const dir = m && HUB_REPOS[m[1]];
  return dir ? path.join(GOLDEN, dir, m[2]) : null;
}
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.onnx': 'application/octet-stream',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/** Starts the server; resolves with {url, close}. `prefix` is the subfolder, e.g. '/demo/'. */
export function serve(prefix = '/demo/') {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const fromHub = url.pathname.startsWith('/hub/');
    if (!url.pathname.startsWith(prefix) && !fromHub) {
      res.writeHead(404).end('not found');
      return;
    }
    let rel = decodeURIComponent(url.pathname.slice(prefix.length)) || 'index.html';
    if (rel.endsWith('/')) rel += 'index.html';
    const file = fromHub ? hubFile(url.pathname) || '/nonexistent' : path.resolve(ROOT, rel);
    let stat;
    try {
      stat = statSync(file);
    } catch {
      stat = null;
    }
    if (!(file.startsWith(ROOT + path.sep) || file.startsWith(GOLDEN + path.sep)) || !stat?.isFile()) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>not found</h1>');
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({
        url: `http://127.0.0.1:${port}${prefix}`,
        hub: `http://127.0.0.1:${port}/hub`,
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}
