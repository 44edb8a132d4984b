// A promise-based client of worker.js. It matches replies to requests by id, forwards
// progress, and recovers from a fatal error by starting a fresh worker and reloading the
// last model that loaded, so one bad input never leaves the page without a model.
import { LOAD, EXPLAIN, FAITHFULNESS, BENCH, PROGRESS, RESULT, ERROR } from '../protocol.js';

export class ModelClient {
  #url;
  #worker = null;
  #pending = new Map();
  #nextId = 1;
  #lastModel = null;
  /** Why there is no model after a restart, when it could not be reloaded. */
  #lost = null;
  #fromDisk = false;

  /** @param {URL|string} workerUrl the worker module's URL */
  constructor(workerUrl) {
    this.#url = workerUrl;
  }

  #start() {
    this.#worker = new Worker(this.#url, { type: 'module' });
    this.#worker.onmessage = (event) => this.#receive(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault?.();
      this.#failAll(`the model worker failed: ${event.message || 'it could not start'}`);
      this.#worker?.terminate();
      this.#worker = null;
    };
  }

  #failAll(message, cancelled = false) {
    for (const { reject } of this.#pending.values()) {
      const error = new Error(message);
      error.cancelled = cancelled;
      reject(error);
    }
    this.#pending.clear();
  }

  #receive(message) {
    const entry = this.#pending.get(message?.id);
    if (!entry) return;
    if (message.type === PROGRESS) {
      entry.onProgress?.(message);
      return;
    }
    this.#pending.delete(message.id);
    if (message.type === RESULT) {
      entry.resolve(message.result);
    } else if (message.type === ERROR) {
      const error = new Error(message.message);
      error.fatal = Boolean(message.fatal);
      if (error.fatal) this.#recover();
      entry.reject(error);
    }
  }

  /** Replaces a worker whose wasm trapped, and reloads the last good model into it. */
  #recover() {
    this.#restart('the model worker restarted after an internal error');
  }

  /** Ends the current worker, failing its requests with `message`, and starts loading
   * the last model that loaded by URL into a fresh one (requests queue behind that load). */
  #restart(message, cancelled = false) {
    this.#worker?.terminate();
    this.#worker = null;
    this.#failAll(message, cancelled);
    if (this.#lastModel) this.load(this.#lastModel).catch(() => {});
    else if (this.#fromDisk) this.#lost = 'the worker restarted and the model opened from your disk is gone: open its files again';
  }

  /**
   * Stops a running request (a long text's windows take seconds each, a Hub download
   * minutes): the wasm cannot be interrupted, so the worker is replaced and the last
   * model reloaded (from the Cache API, no download). Pending requests reject with an
   * error whose `cancelled` is true.
   */
  cancel() {
    this.#restart('stopped by the user', true);
  }

  #request(fields, onProgress, transfer = []) {
    if (this.#lost && fields.type !== LOAD) return Promise.reject(new Error(this.#lost));
    if (!this.#worker) this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ id, ...fields }, transfer);
    });
  }

  /**
   * Loads a model: {name, quant, files: [{role, url}] or [{role, name, bytes: ArrayBuffer}]}.
   * Byte buffers are transferred, not copied. Resolves with the model's info.
   */
  async load(model, onProgress) {
    const transfer = (model.files || []).map((f) => f.bytes).filter(Boolean);
    const info = await this.#request({ type: LOAD, model }, onProgress, transfer);
    // Keep a reloadable description: downloaded files are cached by the worker. Files
    // from disk were transferred and cannot be re-sent: such a model cannot be reloaded
    // after a restart (and an older one must not silently take its place).
    const reloadable = (model.files || []).every((f) => f.url);
    this.#lastModel = reloadable ? model : null;
    this.#fromDisk = !reloadable;
    this.#lost = null;
    return info;
  }

  /** Explains text with options; resolves with the Explanation object. */
  explain(text, options, onProgress) {
    return this.#request({ type: EXPLAIN, text, options }, onProgress);
  }

  /** Adds faithfulness metrics to the last explanation; resolves with the whole Explanation. */
  faithfulness(onProgress) {
    return this.#request({ type: FAITHFULNESS }, onProgress);
  }

  /**
   * Times the pipeline in the worker (dev/bench.html): {lengths, repeats, ig}; resolves with
   * {rows, peak_wasm_mb, throughput}, rows shaped as `saliency bench --json`'s.
   */
  bench({ lengths, repeats = 5, ig = false }, onProgress) {
    return this.#request({ type: BENCH, lengths, repeats, ig }, onProgress);
  }

  terminate() {
    this.#worker?.terminate();
    this.#worker = null;
    this.#failAll('the model worker was stopped');
  }
}
