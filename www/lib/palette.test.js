import test from 'node:test';
import assert from 'node:assert/strict';
import {
  STOPS, NEUTRAL, colorFor, colorAt, textColorFor, legendStops, legendGradient, scaleOf,
  normalise, hexToOklab, contrastRatio,
} from './palette.js';

const HEX = /^#[0-9a-f]{6}$/;
const lab = (hex) => hexToOklab(hex);
const hue = (hex) => {
  const [, a, b] = lab(hex);
  return (Math.atan2(b, a) * 180) / Math.PI;
};
const chroma = (hex) => Math.hypot(lab(hex)[1], lab(hex)[2]);

test('colorFor returns hex colours and hits the stops exactly', () => {
  for (let i = 0; i < STOPS.length; i += 1) {
    const t = (i / (STOPS.length - 1)) * 2 - 1;
    assert.equal(colorAt(t), STOPS[i]);
  }
  for (const s of [-2, -1, -0.3, 0, 0.01, 0.7, 5]) assert.match(colorFor(s, 1), HEX);
});

test('zero is near-white and neutral', () => {
  assert.equal(colorFor(0, 1), NEUTRAL);
  const [L] = lab(NEUTRAL);
  assert.ok(L > 0.95, `neutral lightness ${L}`);
  assert.ok(chroma(NEUTRAL) < 0.005);
});

test('negative is blue, positive is orange (no red/green)', () => {
  for (const t of [0.25, 0.5, 0.75, 1]) {
    const pos = hue(colorAt(t));
    const neg = hue(colorAt(-t));
    assert.ok(pos > 35 && pos < 85, `orange hue at +${t}: ${pos}`);
    assert.ok(neg < -95 && neg > -140, `blue hue at -${t}: ${neg}`);
  }
});

test('palette is symmetric in lightness and monotonic away from 0', () => {
  let prevL = lab(NEUTRAL)[0];
  for (let i = 1; i <= 20; i += 1) {
    const t = i / 20;
    const [Lp] = lab(colorAt(t));
    const [Ln] = lab(colorAt(-t));
    assert.ok(Math.abs(Lp - Ln) < 0.02, `|L(+${t}) - L(-${t})| = ${Math.abs(Lp - Ln)}`);
    assert.ok(Lp < prevL + 1e-9, `lightness decreases with |t| at ${t}`);
    prevL = Lp;
  }
  assert.equal(colorFor(0.3, 1) === colorFor(-0.3, 1), false);
});

test('clamping and scale invariance', () => {
  assert.equal(colorFor(10, 1), colorFor(1, 1));
  assert.equal(colorFor(-10, 1), colorFor(-1, 1));
  assert.equal(colorFor(Infinity, 1), NEUTRAL); // not finite -> neutral
  assert.equal(colorFor(0.2, 0.4), colorFor(0.5, 1));
  assert.equal(colorFor(-0.2, 0.4), colorFor(-5, 10));
  assert.equal(colorFor(0.2, -0.4), colorFor(0.5, 1)); // sign of scale is ignored
  assert.equal(normalise(3, 2), 1);
  assert.equal(normalise(-3, 2), -1);
});

test('a zero or invalid scale gives the neutral colour (all-zero data)', () => {
  assert.equal(colorFor(0.5, 0), NEUTRAL);
  assert.equal(colorFor(-0.5, 0), NEUTRAL);
  assert.equal(colorFor(0.5, NaN), NEUTRAL);
  assert.equal(colorFor(NaN, 1), NEUTRAL);
  assert.equal(colorFor(null, 1), NEUTRAL);
  assert.equal(colorFor('x', 1), NEUTRAL);
});

test('textColorFor is black or white with readable contrast', () => {
  for (let i = -10; i <= 10; i += 1) {
    const c = textColorFor(i / 10, 1);
    assert.ok(c === '#000000' || c === '#ffffff');
    assert.ok(contrastRatio(c, colorFor(i / 10, 1)) >= 4.5, `contrast at ${i / 10}`);
  }
  assert.equal(textColorFor(0, 1), '#000000');
  assert.equal(textColorFor(1, 0), '#000000');
});

test('legendStops spans -1..1 symmetrically', () => {
  const stops = legendStops(5);
  assert.equal(stops.length, 5);
  assert.deepEqual(stops.map((s) => s.t), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(stops.map((s) => s.offset), [0, 0.25, 0.5, 0.75, 1]);
  assert.equal(stops[2].color, NEUTRAL);
  assert.equal(stops[0].color, colorFor(-1, 1));
  assert.equal(stops[4].color, colorFor(1, 1));
  assert.equal(legendStops(0).length, 2);
  assert.equal(legendStops(1).length, 2);
  assert.match(legendGradient(3), /^linear-gradient\(to right, #[0-9a-f]{6} 0\.0%, #f7f7f7 50\.0%, #[0-9a-f]{6} 100\.0%\)$/);
});

test('scaleOf is max |v|, robust to zeros, empties, junk and nesting', () => {
  assert.equal(scaleOf([0.1, -0.4, 0.3]), 0.4);
  assert.equal(scaleOf([0, 0, 0]), 0);
  assert.equal(scaleOf([]), 0);
  assert.equal(scaleOf(null), 0);
  assert.equal(scaleOf(undefined), 0);
  assert.equal(scaleOf([NaN, null, 'a', Infinity, -2]), 2);
  assert.equal(scaleOf([[1, -3], [2]]), 3);
  assert.equal(scaleOf(new Float32Array([0.5, -0.25])), 0.5);
  assert.equal(scaleOf(new Set([1, -7])), 7);
});
