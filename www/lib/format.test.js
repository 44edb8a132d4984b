import test from 'node:test';
import assert from 'node:assert/strict';
import { fmtScore, fmtCompact, fmtFixed, fmtProb, fmtMs, MINUS } from './format.js';

test('fmtScore: signed, 3 significant digits', () => {
  assert.equal(fmtScore(0.33262223), '+0.333');
  assert.equal(fmtScore(-0.18131875), `${MINUS}0.181`);
  assert.equal(fmtScore(-0.0117390305), `${MINUS}0.0117`);
  assert.equal(fmtScore(0.5), '+0.500');
  assert.equal(fmtScore(1), '+1.00');
  assert.equal(fmtScore(0.99999), '+1.00');
  assert.equal(fmtScore(12.345), '+12.3');
  assert.equal(fmtScore(12345), '+12300');
  assert.equal(fmtScore(999.9), '+1000');
  assert.equal(fmtScore(-0.0000123), `${MINUS}1.23e-5`);
  assert.equal(fmtScore(0), '0');
  assert.equal(fmtScore(-0), '0');
  assert.equal(fmtScore(0.33262223, 4), '+0.3326');
  for (const bad of [null, undefined, NaN, 'x', Infinity]) assert.equal(fmtScore(bad), '\u2013');
});

test('fmtCompact: short grid numbers', () => {
  assert.equal(fmtCompact(0.33262223), '.33');
  assert.equal(fmtCompact(-0.18131875), `${MINUS}.18`);
  assert.equal(fmtCompact(0.001), '0');
  assert.equal(fmtCompact(0.999), '1.0');
  assert.equal(fmtCompact(1.234), '1.2');
  assert.equal(fmtCompact(-25.5), `${MINUS}26`);
  assert.equal(fmtCompact(null), '\u2013');
});

test('fmtFixed', () => {
  assert.equal(fmtFixed(-0.04952669, 3), `${MINUS}0.050`);
  assert.equal(fmtFixed(0.5166028, 3), '0.517');
  assert.equal(fmtFixed(0.5, 2, { sign: true }), '+0.50');
  assert.equal(fmtFixed(-0.0001, 3), '0.000');
});

test('fmtProb: percentages', () => {
  assert.equal(fmtProb(0.6294159), '62.9%');
  assert.equal(fmtProb(0.041120075), '4.1%');
  assert.equal(fmtProb(0.0041), '0.41%');
  assert.equal(fmtProb(0.00002), '<0.01%');
  assert.equal(fmtProb(0), '0%');
  assert.equal(fmtProb(1), '100%');
  assert.equal(fmtProb(0.99999), '>99.9%');
  assert.equal(fmtProb(undefined), '\u2013');
});

test('fmtMs: milliseconds and seconds', () => {
  assert.equal(fmtMs(0.001), '<0.01 ms');
  assert.equal(fmtMs(0.474), '0.47 ms');
  assert.equal(fmtMs(1.527), '1.5 ms');
  assert.equal(fmtMs(181.407), '181 ms');
  assert.equal(fmtMs(716.134), '716 ms');
  assert.equal(fmtMs(1234), '1.23 s');
  assert.equal(fmtMs(65432), '65.4 s');
  assert.equal(fmtMs(0), '0 ms');
  assert.equal(fmtMs(null), '\u2013');
});
