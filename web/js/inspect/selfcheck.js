// The golden.json self-check on one backend: load the export, run golden.json's inputs, compare
// every output with JAX's, time ~10 runs. Relative error = max|Δ| / max(1, max|JAX output|), per
// output (the rule jax2tfjs.compare uses everywhere), the worst output reported.
import { goldenFeed, maxAbsDiff } from '../model.js';
import { computesInHalf, startBackend } from './backends.js';
import { loadModel, median, release, runByName, timedRun, withTimeout } from './runner.js';

// Relative-error limits in the browser, per weight quantization. Float32 exports: 1e-3, ten times
// what verify allows in Node (1e-4): GPU backends sum in other orders and approximate exp/tanh
// differently. Quantized weights change the outputs by design, so their limits are wider: verify's
// own limits (float16 2e-3, uint16 5e-4, uint8 5e-2) with the same browser margin where it matters.
export const LIMITS = { none: 1e-3, float16: 5e-3, uint16: 2e-3, uint8: 5e-2 };
// WebGL that cannot render to float32 textures (many phones) computes in float16.
export const HALF_PRECISION_LIMIT = 1e-2;
// Latency: the median of 10 runs after the checked one (which compiles shaders and kernels), or of
// as many as fit in 2 s (3 at least): software GPUs and the cpu backend take long on larger models.
export const TIMED_RUNS = 10;
const MIN_RUNS = 3;
const TIMING_BUDGET_MS = 2000;
const BACKEND_TIMEOUT_MS = 120_000;

export function limitFor(quantization, backend) {
  const limit = Math.max(...quantization.split(',').map((q) => LIMITS[q] ?? LIMITS.none));
  if (computesInHalf(backend)) return { limit: Math.max(limit, HALF_PRECISION_LIMIT), note: 'this GPU computes in float16 (WebGL without float32 render targets)' };
  return { limit, note: '' };
}

function compare(want, got) {
  let worst = { rel: -1, abs: 0, output: null };
  want.forEach((o, k) => {
    const abs = maxAbsDiff([o], [got[k]]);
    const scale = o.values.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
    const rel = abs / scale;
    if (!(rel <= worst.rel)) worst = { rel, abs, output: o.name }; // NaN always counts as worst
  });
  return worst;
}

async function checkLoaded(model, golden, backend, quantization) {
  const { feed, want } = goldenFeed(golden, model);
  try {
    const names = want.map((o) => o.name);
    const got = await runByName(model, feed, names);
    let worst;
    try {
      // Read back asynchronously first: maxAbsDiff's dataSync then finds the values on the CPU
      // (a synchronous GPU read stalls, and webgpu warns about it).
      await Promise.all(got.map((t) => t.data()));
      worst = compare(want, got);
    } finally {
      release(model, got);
    }
    const times = [];
    const started = performance.now();
    while (times.length < TIMED_RUNS && (times.length < MIN_RUNS || performance.now() - started < TIMING_BUDGET_MS)) {
      times.push(await timedRun(model, feed, names));
    }
    const { limit, note } = limitFor(quantization, backend);
    const status = worst.rel <= limit ? 'pass' : 'fail';
    return { status, maxAbs: worst.abs, rel: worst.rel, worstOutput: worst.output, limit, ms: median(times), runs: times.length, note };
  } finally {
    Object.values(feed).forEach((t) => t.dispose());
  }
}

// {backend, status: pass|fail|unavailable|unchecked, ...}. `keep`: return the loaded model (the
// caller disposes it) instead of disposing it here.
export async function checkBackend(backend, { url, golden, quantization, onProgress, keep = false }) {
  const started = await startBackend(backend);
  if (!started.ok) return { backend, status: 'unavailable', note: started.reason };
  let model = null;
  try {
    model = await withTimeout(loadModel(url, onProgress), BACKEND_TIMEOUT_MS, 'loading the model');
    if (!golden) return { backend, status: 'unchecked', note: 'no golden.json beside model.json: nothing to compare with', model: keep ? model : null };
    const result = await withTimeout(checkLoaded(model, golden, backend, quantization), BACKEND_TIMEOUT_MS, 'the self-check');
    return { backend, ...result, model: keep ? model : null };
  } catch (err) {
    if (model && keep) model.dispose();
    return { backend, status: 'fail', note: `${err.message || err}`, error: err, model: null };
  } finally {
    if (model && !keep) model.dispose();
  }
}
