// Compact number formatting (DOM-free). Negative numbers use U+2212 MINUS SIGN, which
// screen readers read as "minus" and which lines up with "+" in tabular figures.

export const MINUS = '\u2212';
export const MISSING = '\u2013'; // en dash for null / NaN

function finite(x) {
  if (x === null || x === undefined || x === '') return null;
  const n = Number(x);
  return Number.isFinite(n) ? n : null;
}

/** Unsigned magnitude with `digits` significant digits, no exponent for ordinary sizes. */
function significant(abs, digits) {
  if (abs === 0) return '0';
  if (abs < 1e-4 || abs >= 1e15) {
    const [m, e] = abs.toExponential(digits - 1).split('e');
    return `${m}e${e.replace('+', '')}`;
  }
  const p = Number(abs.toPrecision(digits));
  if (p >= 10 ** digits) return String(Math.round(p));
  // toPrecision keeps trailing zeros ("0.500"): they are the significant digits we asked for.
  const s = abs.toPrecision(digits);
  return s.includes('e') ? String(p) : s;
}

/**
 * Signed score with 3 significant digits: 0.33262 -> "+0.333", -0.0181 -> "−0.0181",
 * 0 -> "0", 12345 -> "+12300", null/NaN -> "–".
 */
export function fmtScore(x, digits = 3) {
  const n = finite(x);
  if (n === null) return MISSING;
  const body = significant(Math.abs(n), digits);
  if (body === '0' || Number(body) === 0) return '0';
  return (n < 0 ? MINUS : '+') + body;
}

/**
 * Very short signed score for dense grids: 2 significant digits, no leading zero and no
 * plus sign: 0.3326 -> ".33", -0.18 -> "−.18", 1.234 -> "1.2", 0 -> "0".
 */
export function fmtCompact(x) {
  const n = finite(x);
  if (n === null) return MISSING;
  const abs = Math.abs(n);
  if (abs < 0.005) return '0';
  let body;
  if (abs < 1) body = abs.toFixed(2).replace(/^0/, '');
  else if (abs < 10) body = abs.toFixed(1);
  else body = significant(abs, 2);
  if (body === '1.00') body = '1.0';
  return (n < 0 ? MINUS : '') + body;
}

/** Fixed decimals with a sign: fmtFixed(-0.0495, 3) -> "−0.050", fmtFixed(0.5) -> "0.500". */
export function fmtFixed(x, decimals = 3, { sign = false } = {}) {
  const n = finite(x);
  if (n === null) return MISSING;
  const body = Math.abs(n).toFixed(decimals);
  if (Number(body) === 0) return body;
  if (n < 0) return MINUS + body;
  return (sign ? '+' : '') + body;
}

/**
 * Probability as a percentage: 0.6294 -> "62.9%", 0.0411 -> "4.1%", 0.0041 -> "0.41%",
 * 0.00002 -> "<0.01%", 1 -> "100%", 0 -> "0%".
 */
export function fmtProb(p) {
  const n = finite(p);
  if (n === null) return MISSING;
  const v = n * 100;
  if (v <= 0) return '0%';
  if (v < 0.01) return '<0.01%';
  if (v < 1) return `${Number(v.toPrecision(2))}%`;
  if (v >= 99.95 && v < 100) return '>99.9%';
  if (v >= 100) return '100%';
  return `${v.toFixed(1)}%`;
}

/**
 * Milliseconds, compact: 0.001 -> "<0.01 ms", 0.474 -> "0.47 ms", 1.527 -> "1.5 ms",
 * 181.407 -> "181 ms", 1234 -> "1.23 s", 65432 -> "65.4 s".
 */
export function fmtMs(ms) {
  const n = finite(ms);
  if (n === null) return MISSING;
  if (n < 0) return MISSING;
  if (n === 0) return '0 ms';
  if (n < 0.01) return '<0.01 ms';
  if (n < 1) return `${n.toFixed(2)} ms`;
  if (n < 10) return `${n.toFixed(1)} ms`;
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 100000) return `${Number((n / 1000).toPrecision(3))} s`;
  return `${Math.round(n / 1000)} s`;
}
