// Map code-point offsets (as produced by the Rust/Python side) onto a JS string, and cut the
// original text into gap / item segments that cover it exactly once (DOM-free).
//
// Offsets in an Explanation count Unicode code points (Python-style); JS strings index
// UTF-16 code units, so an astral character such as an emoji is one code point but two
// units. Everything here takes code-point offsets and slices with UTF-16 indices.

/**
 * Array mapping each code-point index 0..N (inclusive) to its UTF-16 index, so
 * `map.length === Array.from(text).length + 1` and `map[N] === text.length`.
 * A lone surrogate counts as one code point (as Array.from does).
 */
export function codePointToUtf16(text) {
  const s = String(text ?? '');
  const map = [0];
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < s.length
      && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff;
    i += pair ? 2 : 1;
    map.push(i);
  }
  return map;
}

/** Number of code points in a string. */
export function codePointLength(text) {
  return codePointToUtf16(text).length - 1;
}

function toIndex(value) {
  const n = Number(value);
  return Number.isFinite(n) ? Math.floor(n) : NaN;
}

/**
 * Cut `text` into an ordered list of segments `{kind: 'gap'|'item', text, item, start, end}`
 * (start/end in code points) that covers the text exactly once: joining every segment's
 * `text` gives back `text`.
 *
 * `items` are objects with code-point `start`/`end` and any payload; they are returned as
 * `segment.item`. Items are taken in order of `start` (stable). Offsets are clamped to the
 * text; an item with an empty or invalid range is skipped; an item that overlaps an earlier
 * one is trimmed to begin where the earlier one ended (and dropped if nothing is left), so
 * no character is ever shown twice or lost. Gap segments have `item: null`.
 */
export function segments(text, items) {
  const s = String(text ?? '');
  const map = codePointToUtf16(s);
  const n = map.length - 1;
  const slice = (a, b) => s.slice(map[a], map[b]);

  const list = [];
  (Array.isArray(items) ? items : Array.from(items ?? [])).forEach((item, order) => {
    if (item == null) return;
    const a = toIndex(item.start);
    const b = toIndex(item.end);
    if (Number.isNaN(a) || Number.isNaN(b)) return;
    const start = Math.max(0, Math.min(n, a));
    const end = Math.max(0, Math.min(n, b));
    if (end > start) list.push({ start, end, item, order });
  });
  list.sort((x, y) => x.start - y.start || x.order - y.order);

  const out = [];
  let cursor = 0;
  for (const { start: rawStart, end, item } of list) {
    const start = Math.max(rawStart, cursor);
    if (end <= start) continue;
    if (start > cursor) out.push({ kind: 'gap', text: slice(cursor, start), item: null, start: cursor, end: start });
    out.push({ kind: 'item', text: slice(start, end), item, start, end });
    cursor = end;
  }
  if (cursor < n) out.push({ kind: 'gap', text: slice(cursor, n), item: null, start: cursor, end: n });
  return out;
}

function scoreAt(scores, i) {
  const v = Number(scores?.[i]);
  return Number.isFinite(v) ? v : 0;
}

/**
 * Items for token granularity: one per non-special token with a non-empty range,
 * `{start, end, index, score, label, tokens: [index], token}`. `scores` is a per-token
 * array (e.g. `layers[l].saliency`); it defaults to `explanation.saliency`.
 */
export function tokenItems(explanation, scores) {
  const tokens = explanation?.tokens ?? [];
  const values = scores ?? explanation?.saliency ?? [];
  const items = [];
  tokens.forEach((token, index) => {
    if (!token || token.special) return;
    if (!(Number(token.end) > Number(token.start))) return;
    items.push({
      start: token.start,
      end: token.end,
      index,
      score: scoreAt(values, index),
      label: String(token.text ?? ''),
      tokens: [index],
      token,
    });
  });
  return items;
}

/**
 * Items for word granularity: one per word, `{start, end, index, score, label, tokens, word}`.
 * Without `scores` the word's own `saliency` is used; with a per-token `scores` array the
 * word's score is the sum over its tokens. Falls back to tokens if there are no words.
 */
export function wordItems(explanation, scores) {
  const words = explanation?.words;
  if (!Array.isArray(words) || words.length === 0) return tokenItems(explanation, scores);
  const text = String(explanation?.text ?? '');
  const map = codePointToUtf16(text);
  const n = map.length - 1;
  return words.map((word, index) => {
    const tokens = Array.isArray(word?.tokens) ? word.tokens : [];
    let score;
    if (scores != null) score = tokens.reduce((acc, t) => acc + scoreAt(scores, t), 0);
    else score = Number.isFinite(Number(word?.saliency)) ? Number(word.saliency) : 0;
    const a = Math.max(0, Math.min(n, toIndex(word?.start) || 0));
    const b = Math.max(a, Math.min(n, toIndex(word?.end) || 0));
    const label = word?.text != null ? String(word.text) : text.slice(map[a], map[b]);
    return { start: word?.start, end: word?.end, index, score, label, tokens, word };
  });
}
