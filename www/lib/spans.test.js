import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { codePointToUtf16, codePointLength, segments, tokenItems, wordItems } from './spans.js';

const sample = JSON.parse(
  readFileSync(new URL('../dev/sample-explanation.json', import.meta.url), 'utf8'),
);

const join = (segs) => segs.map((s) => s.text).join('');

test('codePointToUtf16: ASCII is the identity', () => {
  assert.deepEqual(codePointToUtf16('abc'), [0, 1, 2, 3]);
  assert.deepEqual(codePointToUtf16(''), [0]);
});

test('codePointToUtf16: an astral emoji is one code point, two UTF-16 units', () => {
  const text = 'a🙂b';
  assert.equal(text.length, 4);
  assert.deepEqual(codePointToUtf16(text), [0, 1, 3, 4]);
  assert.equal(codePointLength(text), 3);
});

test('codePointToUtf16: ZWJ family emoji counts every code point', () => {
  const family = '👨\u200d👩\u200d👧'; // man ZWJ woman ZWJ girl: 5 code points, 8 units
  assert.equal(family.length, 8);
  const map = codePointToUtf16(`x${family}y`);
  assert.deepEqual(map, [0, 1, 3, 4, 6, 7, 9, 10]);
  assert.equal(map.length, Array.from(`x${family}y`).length + 1);
});

test('codePointToUtf16: combining marks and CJK are single units', () => {
  const text = 'e\u0301中文';
  assert.deepEqual(codePointToUtf16(text), [0, 1, 2, 3, 4]);
  // a lone surrogate is one code point, as Array.from says
  assert.deepEqual(codePointToUtf16('\ud83dx'), [0, 1, 2]);
});

test('codePointToUtf16 agrees with Array.from on mixed text', () => {
  const text = 'Zoë 🙂 家族 👨\u200d👩\u200d👧 ñ e\u0301 \u{1f1eb}\u{1f1f7} 𝔘';
  const map = codePointToUtf16(text);
  const cps = Array.from(text);
  assert.equal(map.length, cps.length + 1);
  for (let i = 0; i < cps.length; i += 1) assert.equal(text.slice(map[i], map[i + 1]), cps[i]);
});

test('segments: items sliced by code point around astral characters', () => {
  const text = '🙂 hi 👨\u200d👩\u200d👧 e\u0301 中文!';
  // code points: 🙂=0, ' '=1, h=2, i=3, ' '=4, family=5..9, ' '=10, e=11, ◌́=12, ' '=13, 中=14, 文=15, !=16
  const items = [
    { start: 0, end: 1, id: 'smile' },
    { start: 2, end: 4, id: 'hi' },
    { start: 5, end: 10, id: 'family' },
    { start: 11, end: 13, id: 'e-acute' },
    { start: 14, end: 16, id: 'cjk' },
  ];
  const segs = segments(text, items);
  assert.equal(join(segs), text);
  const byId = Object.fromEntries(segs.filter((s) => s.kind === 'item').map((s) => [s.item.id, s.text]));
  assert.deepEqual(byId, {
    smile: '🙂', hi: 'hi', family: '👨\u200d👩\u200d👧', 'e-acute': 'e\u0301', cjk: '中文',
  });
  assert.deepEqual(segs.at(-1), { kind: 'gap', text: '!', item: null, start: 16, end: 17 });
});

test('segments: gaps keep whitespace and newlines', () => {
  const text = '  a\n\tb  ';
  const segs = segments(text, [{ start: 2, end: 3 }, { start: 5, end: 6 }]);
  assert.deepEqual(segs.map((s) => [s.kind, s.text]), [
    ['gap', '  '], ['item', 'a'], ['gap', '\n\t'], ['item', 'b'], ['gap', '  '],
  ]);
});

test('segments: unsorted, overlapping, empty and out-of-range items lose no text', () => {
  const text = 'hello world';
  const items = [
    { start: 6, end: 11, id: 'world' },
    { start: 0, end: 5, id: 'hello' },
    { start: 3, end: 8, id: 'overlap' }, // starts inside 'hello': trimmed to 5..8
    { start: 7, end: 9, id: 'inside' }, // already covered by earlier items: dropped
    { start: 4, end: 4, id: 'empty' },
    { start: -5, end: 1, id: 'negative' },
    { start: 9, end: 99, id: 'past-end' },
    { start: 'x', end: 2, id: 'junk' },
    null,
  ];
  const segs = segments(text, items);
  assert.equal(join(segs), text);
  // no two segments overlap and they are contiguous
  let cursor = 0;
  for (const s of segs) {
    assert.equal(s.start, cursor);
    assert.ok(s.end > s.start);
    cursor = s.end;
  }
  assert.equal(cursor, Array.from(text).length);
  // earlier start wins; ties keep input order ('hello' before the clamped 'negative')
  assert.deepEqual(segs.map((s) => [s.kind, s.text, s.item?.id ?? null]), [
    ['item', 'hello', 'hello'],
    ['item', ' wo', 'overlap'],
    ['item', 'rld', 'world'],
  ]);
});

test('segments: no items or empty text', () => {
  assert.deepEqual(segments('abc', []), [{ kind: 'gap', text: 'abc', item: null, start: 0, end: 3 }]);
  assert.deepEqual(segments('', [{ start: 0, end: 3 }]), []);
  assert.equal(join(segments('abc', undefined)), 'abc');
});

test('sample explanation: word and token segments cover the text exactly', () => {
  const { text } = sample;
  for (const items of [wordItems(sample), tokenItems(sample)]) {
    const segs = segments(text, items);
    assert.equal(join(segs), text);
  }
  const words = segments(text, wordItems(sample)).filter((s) => s.kind === 'item');
  assert.equal(words.length, sample.words.length);
  for (const s of words) assert.equal(s.text, s.item.word.text);
  const cafe = words.find((s) => s.text === 'café');
  assert.ok(cafe, 'é maps right');
  const dash = words.find((s) => s.text === '\u2014');
  assert.ok(dash, 'em dash maps right');
});

test('tokenItems skips specials and uses per-token scores', () => {
  const items = tokenItems(sample);
  assert.equal(items.length, sample.tokens.filter((t) => !t.special).length);
  assert.ok(items.every((it) => !it.token.special));
  assert.equal(items[0].score, sample.saliency[1]);
  const layer = sample.layers[3];
  const l3 = tokenItems(sample, layer.saliency);
  assert.equal(l3[0].score, layer.saliency[1]);
});

test('wordItems: word saliency by default, sum over tokens with a per-token array', () => {
  const items = wordItems(sample);
  assert.equal(items.length, sample.words.length);
  assert.equal(items[9].score, sample.words[9].saliency);
  const scores = sample.tokens.map((_, i) => i); // token index as score
  const summed = wordItems({ ...sample, words: [{ text: 'ab', start: 0, end: 2, tokens: [1, 2, 3] }] }, scores);
  assert.equal(summed[0].score, 6);
  assert.deepEqual(summed[0].tokens, [1, 2, 3]);
  // no words: falls back to tokens
  assert.equal(wordItems({ ...sample, words: [] }).length, tokenItems(sample).length);
});
