// How far this browser's outputs may stray from JAX's (golden.json) before the export counts as
// broken. The base is what `make verify` allows per quantization (compare.GOLDEN_LIMITS in
// shared/jax2tfjs/compare.py: a relative error, max|Δ| / max(1, max|reference|)), with headroom
// because the page's backend is not verify's: a GPU may round differently. Damaged weights miss by
// orders of magnitude more (2e+1 on a CNN with flipped bytes), so the headroom hides nothing.
const GOLDEN_LIMITS = { none: 1e-4, float16: 2e-3, uint16: 5e-4, uint8: 5e-2 };
const BROWSER_HEADROOM = 10;

function largestMagnitude(golden) {
  const outputs = golden.format === 2 ? golden.outputs.map((o) => o.values) : [golden.outputs];
  return outputs.flat(Infinity).reduce((m, v) => Math.max(m, Math.abs(Number(v)) || 0), 0);
}

// lowPrecisionGpu: WebGL without float32 render targets (many phones) computes in float16.
export function allowedDiff(entry, golden, lowPrecisionGpu = false) {
  let limit = GOLDEN_LIMITS[entry.quantization] ?? GOLDEN_LIMITS.none;
  if (lowPrecisionGpu) limit = Math.max(limit, GOLDEN_LIMITS.float16);
  const allowed = BROWSER_HEADROOM * limit * Math.max(1, largestMagnitude(golden));
  // What verify measured on this very export, when it passed, is known to be fine here too.
  const measured = entry.verified?.passed ? entry.verified.max_abs_diff : null;
  return Number.isFinite(measured) ? Math.max(allowed, 2 * measured) : allowed;
}

// NaN (weights turned into NaN or Infinity) fails too: a comparison with NaN is never true.
export function passes(diff, allowed) {
  return diff <= allowed;
}
