// Diverging colour palette for signed saliency scores (DOM-free).
//
// Blue for negative, orange for positive, near-white at 0: colour-blind safe (no red/green
// opposition). The nine stops were picked in OKLCh so that equal |score| gives equal OKLab
// lightness on both sides (a blue and an orange of the same magnitude look equally strong),
// then written down as sRGB hex; between stops we interpolate in OKLab, which is
// perceptually smooth. Endpoints are close to ColorBrewer RdBu #2166ac / PuOr #e66101.

/** Stops from score -1 to +1, evenly spaced. */
export const STOPS = Object.freeze([
  '#3e7fc3', // -1
  '#68a5d7',
  '#99c8e7',
  '#cde4f1',
  '#f7f7f7', //  0
  '#f9dab5',
  '#f5b16f',
  '#e28339',
  '#c35800', // +1
]);

/** Colour used for a score of 0, a zero scale, or a value that is not a number. */
export const NEUTRAL = STOPS[(STOPS.length - 1) / 2];

// --- colour maths ------------------------------------------------------------------------

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function toLinear(c) {
  const x = c / 255;
  return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
}

function fromLinear(x) {
  const c = x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055;
  return Math.round(Math.min(1, Math.max(0, c)) * 255);
}

/** sRGB hex -> OKLab [L, a, b]. */
export function hexToOklab(hex) {
  const [r, g, b] = hexToRgb(hex).map(toLinear);
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/** OKLab [L, a, b] -> sRGB hex (clipped to the gamut). */
export function oklabToHex([L, a, b]) {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.291485548 * b) ** 3;
  const rgb = [
    4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
    -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
    -0.0041960863 * l - 0.7034186147 * m + 1.707614701 * s,
  ];
  return '#' + rgb.map((x) => fromLinear(x).toString(16).padStart(2, '0')).join('');
}

/** WCAG relative luminance of an sRGB hex colour. */
export function luminance(hex) {
  const [r, g, b] = hexToRgb(hex).map(toLinear);
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** WCAG contrast ratio between two sRGB hex colours. */
export function contrastRatio(hexA, hexB) {
  const [hi, lo] = [luminance(hexA), luminance(hexB)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const LAB_STOPS = STOPS.map(hexToOklab);

// --- public API ----------------------------------------------------------------------------

/** score / scale clamped to [-1, 1]; 0 for a zero/invalid scale or a non-finite score. */
export function normalise(score, scale) {
  const s = Number(score);
  const k = Math.abs(Number(scale));
  if (!Number.isFinite(s) || !Number.isFinite(k) || k === 0) return 0;
  return Math.max(-1, Math.min(1, s / k));
}

/** Position t in [-1, 1] -> hex colour. */
export function colorAt(t) {
  const x = Number.isFinite(t) ? Math.max(-1, Math.min(1, t)) : 0;
  const segments = LAB_STOPS.length - 1;
  const u = ((x + 1) / 2) * segments;
  const i = Math.min(segments - 1, Math.floor(u));
  const f = u - i;
  const a = LAB_STOPS[i];
  const b = LAB_STOPS[i + 1];
  return oklabToHex([0, 1, 2].map((j) => a[j] + (b[j] - a[j]) * f));
}

/**
 * CSS colour (hex) for a signed score on a symmetric scale [-scale, +scale].
 * A scale of 0 (all-zero data) gives the neutral colour for every score.
 */
export function colorFor(score, scale) {
  return colorAt(normalise(score, scale));
}

/** '#000000' or '#ffffff', whichever contrasts more with colorFor(score, scale). */
export function textColorFor(score, scale) {
  const bg = colorFor(score, scale);
  return contrastRatio(bg, '#000000') >= contrastRatio(bg, '#ffffff') ? '#000000' : '#ffffff';
}

/**
 * n evenly spaced legend stops from -1 to +1: [{t, offset, color}], where t is the position
 * on the normalised scale and offset the same position in [0, 1] (for a CSS/SVG gradient).
 */
export function legendStops(n = 9) {
  const count = Math.max(2, Math.floor(Number(n)) || 2);
  const out = [];
  for (let i = 0; i < count; i += 1) {
    const offset = i / (count - 1);
    const t = offset * 2 - 1;
    out.push({ t, offset, color: colorAt(t) });
  }
  return out;
}

/** CSS linear-gradient() string for a horizontal legend ramp. */
export function legendGradient(n = 9, direction = 'to right') {
  const stops = legendStops(n).map((s) => `${s.color} ${(s.offset * 100).toFixed(1)}%`);
  return `linear-gradient(${direction}, ${stops.join(', ')})`;
}

/**
 * Symmetric scale of a list of values: max |v| over finite numbers (nested arrays are
 * flattened). Empty or all-zero input gives 0, which colorFor maps to the neutral colour.
 */
export function scaleOf(values) {
  let max = 0;
  const isList = (v) => Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  const visit = (v) => {
    if (isList(v)) {
      for (const x of v) visit(x);
    } else {
      const a = Math.abs(Number(v));
      if (Number.isFinite(a) && a > max) max = a;
    }
  };
  if (values == null) return 0;
  if (isList(values)) visit(values);
  else if (typeof values[Symbol.iterator] === 'function') visit(Array.from(values));
  else visit(values);
  return max;
}
