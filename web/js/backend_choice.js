// Which TF.js backend runs the model: the one measured fastest on this device (a few timed
// predictions of the loaded model on each backend that starts), unless the visitor picks one.
// No fixed order is right everywhere: WebGL wins on a real GPU, wasm on a phone or a machine
// without one (where WebGL is a software rasterizer), cpu almost never.
/* global tf */
import { withTimeout } from './timeout.js';

export const BACKENDS = ['webgl', 'wasm', 'cpu'];
export const BACKEND_NAMES = { webgl: 'WebGL (GPU)', wasm: 'WebAssembly', cpu: 'plain JavaScript' };
const START_TIMEOUT_MS = 20_000;
const TIMED_RUNS = 3;

async function activate(name) {
  if (!(await withTimeout(tf.setBackend(name), START_TIMEOUT_MS, `starting ${name}`))) throw new Error(`${name} did not start`);
  await tf.ready();
}

// TF.js's threaded wasm runs its workers from blob: scripts. They need cross-origin isolation
// (SharedArrayBuffer) and a CSP whose script-src allows blob:; without the latter, starting wasm
// with threads hangs. The page asks the server which CSP it sends (a HEAD of itself) and turns
// threads off when they cannot work. → {threads, why}
export async function wasmThreading() {
  if (!window.crossOriginIsolated) return { threads: false, why: 'the page is not cross-origin isolated' };
  let csp = '';
  try {
    csp = (await fetch(window.location.pathname, { method: 'HEAD', cache: 'no-store' })).headers.get('content-security-policy') || '';
  } catch {
    return { threads: false, why: 'the page could not read its own CSP' };
  }
  const directives = Object.fromEntries(csp.split(';').map((d) => d.trim().split(/\s+/)).filter((d) => d[0]).map(([k, ...v]) => [k.toLowerCase(), v]));
  const scripts = directives['script-src'] || directives['default-src'];
  if (scripts && !scripts.includes('blob:')) return { threads: false, why: "the CSP's script-src does not allow the blob: worker scripts threads need" };
  return { threads: true, why: 'cross-origin isolated, blob: workers allowed' };
}

// Start each backend once: {started: [names], failed: {name: message}, threading}. onStep(name, i,
// n) shows progress.
export async function startBackends(onStep = () => {}) {
  tf.wasm.setWasmPaths('/vendor/tfjs-backend-wasm/');
  const threading = await wasmThreading();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threading.threads);
  const started = [];
  const failed = {};
  for (const [i, name] of BACKENDS.entries()) {
    onStep(name, i, BACKENDS.length);
    try {
      await activate(name);
      started.push(name);
    } catch (err) {
      failed[name] = err.message;
      console.info(`TF.js backend ${name} unavailable: ${err.message}`);
    }
  }
  if (!started.length) throw new Error(`no TF.js backend could start (${Object.entries(failed).map(([k, v]) => `${k}: ${v}`).join('; ')})`);
  await activate(started[0]);
  return { started, failed, threading };
}

// run(): one prediction, awaited until its numbers are read back. → {name: ms per run}; a backend
// whose run throws is left out. Leaves the fastest backend active.
export async function measureBackends(started, run, onStep = () => {}) {
  const timings = {};
  for (const [i, name] of started.entries()) {
    onStep(name, i, started.length);
    try {
      await activate(name);
      await run(); // the first run moves the weights over and compiles kernels: not timed
      const runs = [];
      for (let k = 0; k < TIMED_RUNS; k++) {
        const start = performance.now();
        await run();
        runs.push(performance.now() - start);
      }
      timings[name] = runs.sort((a, b) => a - b)[Math.floor(runs.length / 2)];
    } catch (err) {
      console.info(`TF.js backend ${name} could not run the model: ${err.message}`);
    }
  }
  const fastest = fastestOf(timings) || started[0];
  await activate(fastest);
  return timings;
}

export function fastestOf(timings) {
  const names = Object.keys(timings);
  return names.length ? names.reduce((a, b) => (timings[b] < timings[a] ? b : a)) : null;
}

export async function useBackend(name) {
  await activate(name);
}

export function formatMs(ms) {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

// "wasm: 1.9 ms per digit, webgl 16 ms, cpu 5.0 ms" (why this backend), for the backend in use.
export function reasonFor(active, timings, choice) {
  const others = Object.keys(timings).filter((n) => n !== active).map((n) => `${n} ${formatMs(timings[n])}`);
  const own = timings[active] != null ? `${active}: ${formatMs(timings[active])} per digit` : `${active}: not measured`;
  const why = choice === 'auto' ? 'fastest measured here' : 'your choice';
  return `${own}${others.length ? `, ${others.join(', ')}` : ''} (${why})`;
}
