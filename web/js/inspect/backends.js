// TF.js backends the inspector tries, and starting one. The webgpu bundle registers its backend
// (above webgl in TF.js's priority) when it loads, so it is loaded only when webgpu is asked for.
/* global tf */
import { withTimeout } from './runner.js';

export const BACKENDS = ['webgl', 'webgpu', 'wasm', 'cpu'];
const WEBGPU_BUNDLE = '/vendor/tfjs-backend-webgpu/tf-backend-webgpu.es2017.min.js';
let webgpuBundle = null;
const START_TIMEOUT_MS = 30_000;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`${src} did not load`));
    document.head.append(script);
  });
}

// Once, before any backend starts; false when TF.js did not load (its scripts missing).
export function configure() {
  if (typeof tf === 'undefined' || !tf.wasm) return false;
  // The wasm backend fetches its .wasm files from here when it starts.
  tf.wasm.setWasmPaths('/vendor/tfjs-backend-wasm/');
  // Threaded wasm starts its workers with importScripts(blob:…): a server whose CSP's script-src
  // lacks blob: (ours allows it) leaves the backend waiting for them forever. The inspector runs
  // wasm on one thread (SIMD kept) everywhere, so its latencies compare across servers and machines.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  return true;
}

// Why WebGPU cannot start here, or null when an adapter is there.
async function webgpuMissing() {
  if (!navigator.gpu) return 'this browser has no WebGPU (navigator.gpu is missing)';
  try {
    const adapter = await navigator.gpu.requestAdapter();
    return adapter ? null : 'the browser offers no WebGPU adapter (no GPU, or WebGPU is disabled)';
  } catch (err) {
    return `asking for a WebGPU adapter failed: ${err.message || err}`;
  }
}

// Make `name` TF.js's backend: {ok: true} or {ok: false, reason} when this browser cannot start it.
export async function startBackend(name) {
  try {
    if (name === 'webgpu') {
      const missing = await webgpuMissing();
      if (missing) return { ok: false, reason: missing };
      webgpuBundle ||= loadScript(WEBGPU_BUNDLE);
      await webgpuBundle;
    }
    if (!tf.findBackendFactory(name)) return { ok: false, reason: `TF.js has no ${name} backend in this page` };
    const started = await withTimeout(tf.setBackend(name).then(async (ok) => { await tf.ready(); return ok; }), START_TIMEOUT_MS, `starting ${name}`);
    if (!started || tf.getBackend() !== name) return { ok: false, reason: `TF.js could not start ${name} in this browser` };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `${name} failed to start: ${err.message || err}` };
  }
}

// WebGL without float32 render targets (many phones) computes in float16: a wider tolerance applies.
export function computesInHalf(name) {
  return name === 'webgl' && !tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
}

// TF.js has one global backend: a check, a load or a run for one pick must not switch it under
// another's feet (the user may pick another export mid-check). Each runs alone, in call order.
let queue = Promise.resolve();
export function exclusive(work) {
  const result = queue.then(work, work);
  queue = result.catch(() => {});
  return result;
}
