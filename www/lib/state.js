// The page's state in its URL, so a link restores text, model and every option.
// Read from the query string and the fragment (the fragment wins); written to the
// fragment, which never reaches a server. DOM-free.

/** The state keys, in the order they are written. */
export const STATE_KEYS = ['model', 'method', 'layer', 'target', 'contrast', 'agg', 'tau', 'theta', 'decoder', 'granularity', 'text'];

/** Parses `?a=b` and `#a=b` parts of a URL into a plain object of strings. */
export function readState(href) {
  const url = new URL(href);
  const state = {};
  for (const params of [url.searchParams, new URLSearchParams(url.hash.replace(/^#/, ''))]) {
    for (const key of STATE_KEYS) {
      const value = params.get(key);
      if (value !== null) state[key] = value;
    }
  }
  return state;
}

/** Writes the state into the fragment of `href`; empty values are left out. */
export function writeState(href, state) {
  const url = new URL(href);
  const params = new URLSearchParams();
  for (const key of STATE_KEYS) {
    const value = state[key];
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  url.hash = params.toString();
  return url.href;
}
