// Runs a WASI program (here: the library's unit tests compiled for wasm32-wasip1) in Node,
// whose V8 is the engine of the Chromium the page is tested in. Used as cargo's runner:
//
//   CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings scripts/wasi-run.mjs" \
//       cargo test --lib --target wasm32-wasip1 -- --test-threads=1
//
// The program sees the file system from / (tests read fixtures by absolute path) and no
// environment; its exit status is this process's.
import { WASI } from 'node:wasi';
import { readFileSync } from 'node:fs';

const [file, ...args] = process.argv.slice(2);
if (!file) {
  console.error('usage: node scripts/wasi-run.mjs PROGRAM.wasm [ARGS...]');
  process.exit(2);
}
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, preopens: { '/': '/' }, returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
