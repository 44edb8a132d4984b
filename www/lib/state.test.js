import test from 'node:test';
import assert from 'node:assert/strict';
import { readState, writeState } from './state.js';

test('state round-trips through the fragment, odd text included', () => {
  const state = { model: 'minilm-sentiment', method: 'dls', layer: '3', target: 'positive', text: 'a & b = <c> #1 🙂 e\u0301\nnew line' };
  const href = writeState('https://example.org/demo/index.html?x=1', state);
  assert.equal(new URL(href).pathname, '/demo/index.html');
  assert.deepEqual(readState(href), state);
});

test('query parameters are read, and the fragment wins over them', () => {
  const state = readState('https://example.org/?text=hello&model=a&method=ig#model=b');
  assert.deepEqual(state, { model: 'b', method: 'ig', text: 'hello' });
});

test('empty values are not written', () => {
  const href = writeState('https://example.org/', { model: 'm', contrast: '', layer: null });
  assert.equal(new URL(href).hash, '#model=m');
});
