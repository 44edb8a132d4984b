// The messages between the page and the model worker. Every message is {id, type, ...}.
// Requests carry a fresh id; every reply repeats the id of the request it answers.

/**
 * Page -> worker: load a model. Fields: model {name, quant, files: [{role, url} | {role, name, bytes}],
 * quantize (optional: quantize Hugging Face weights while loading, e.g. 'q8_0')}.
 */
export const LOAD = 'load';
/** Page -> worker: explain a text. Fields: text, options (see OptionsRequest in src/options.rs). */
export const EXPLAIN = 'explain';

/** Page -> worker: add faithfulness metrics to the last explanation (made with faithfulness: false). */
export const FAITHFULNESS = 'faithfulness';
/** Page -> worker: time the pipeline (dev/bench.html). Fields: lengths (tokens), repeats, ig. */
export const BENCH = 'bench';

/** Worker -> page: a step is under way. Fields: stage, message, loaded, total (bytes, when known). */
export const PROGRESS = 'progress';
/** Worker -> page: the request finished. Fields: result (load: model info; explain: Explanation). */
export const RESULT = 'result';
/** Worker -> page: the request failed. Fields: message, fatal (the wasm instance is unusable: restart the worker). */
export const ERROR = 'error';
