// The digit page: wires the drawing pad, the test digits, the model and backend pickers and the
// prediction card together. The work lives in the other modules: loader.js (downloads), data.js
// (index.json, names), backend_choice.js, model.js (TF.js), trust.js (self-check), verdict.js
// (not sure?), bars.js, strip.js, preprocess.js, errors.js.
/* global tf */
import { BACKENDS, fastestOf, measureBackends, reasonFor, startBackends, useBackend } from './backend_choice.js';
import { renderBars } from './bars.js';
import { chooseDefault, exportSize, formatBytes, friendlyName, loadIndex, loadSamples, technicalRows } from './data.js';
import { explain } from './errors.js';
import { Download } from './loader.js';
import { Classifier } from './model.js';
import { paint, preprocess } from './preprocess.js';
import { buildStrip, markCurrent, markStrip, samplePixels } from './strip.js';
import { allowedDiff, passes } from './trust.js';
import { judge } from './verdict.js';

const $ = (id) => document.getElementById(id);
const pad = $('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true });
const DIGITS = [...'0123456789'];

const page = {
  entries: [],
  samples: null,
  backends: null, // {started, failed}
  timings: null, // {backend: ms per run}, measured once per visit
  choice: 'auto', // the backend picker's value
  classifier: null,
  entry: null,
  golden: null,
  trusted: false, // self-check passed, or nothing to check against
  download: null,
  attempt: 0, // the latest model load; older ones stop at their next step
  queue: Promise.resolve(), // loads and backend switches run one at a time
  pixels: null,
  shown: -1, // the test digit on the pad, -1 for a drawing
  nextSample: 0,
  predictions: 0,
  lastIndex: 0,
};

// ---- status, progress, errors ------------------------------------------------------------

// state: loading | ready | failed-check | broken | cancelled | empty (body[data-state], for tests
// and styles). Controls that can do nothing in a state are hidden or disabled in it.
function setState(state, { cancellable = true } = {}) {
  document.body.dataset.state = state;
  const busy = state === 'loading';
  const retry = !busy && Boolean($('retry').dataset.wanted);
  $('model-card').setAttribute('aria-busy', String(busy));
  $('progress').hidden = !busy;
  $('progress-text').hidden = !busy;
  $('cancel').hidden = !(busy && cancellable);
  $('retry').hidden = !retry;
  $('progress-box').hidden = !busy && !retry;
  updateButtons();
}

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function showError(explained, { retry }) {
  setStatus(`${explained.cause} ${explained.fix}`, true);
  $('error-raw').textContent = explained.raw;
  $('error-details').hidden = false;
  if (retry) $('retry').dataset.wanted = 'true';
  else delete $('retry').dataset.wanted;
}

function clearError() {
  $('error-details').hidden = true;
  $('error-raw').textContent = '';
  delete $('retry').dataset.wanted;
}

function showProgress(fraction, text) {
  const bar = $('progress');
  if (fraction == null) bar.removeAttribute('value');
  else bar.value = Math.min(1, Math.max(0, fraction));
  $('progress-text').textContent = text;
}

function techRow(list, term, value) {
  const dt = document.createElement('dt');
  dt.textContent = term;
  const dd = document.createElement('dd');
  dd.textContent = value;
  list.append(dt, dd);
}

function renderTech() {
  const list = $('tech-list');
  list.replaceChildren();
  if (page.entry) technicalRows(page.entry).forEach(([term, value]) => techRow(list, term, value));
  const check = $('selfcheck').dataset;
  if (check.maxAbsDiff) techRow(list, 'Self-check max |Δ| vs JAX', `${check.maxAbsDiff} (allowed ${check.allowed})`);
  if (typeof tf !== 'undefined') {
    techRow(list, 'Backend', tf.getBackend() || '–');
    if (page.timings) techRow(list, 'Measured per run', Object.entries(page.timings).map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join(', ') || 'nothing could be timed');
    if (page.backends) {
      Object.entries(page.backends.failed).forEach(([name, why]) => techRow(list, `${name} unavailable`, why));
    }
    techRow(list, 'TF.js', tf.version?.tfjs || tf.version_core || '?');
    techRow(list, 'Cross-origin isolated', window.crossOriginIsolated ? 'yes' : 'no');
    const threading = page.backends?.threading;
    if (threading) {
      const count = threading.threads && tf.getBackend() === 'wasm' && tf.wasm?.getThreadsCount ? ` (${tf.wasm.getThreadsCount()})` : '';
      techRow(list, 'WebAssembly threads', `${threading.threads ? 'on' : 'off'}${count}: ${threading.why}`);
    }
  }
}

// ---- prediction card ---------------------------------------------------------------------

function labels() {
  return page.classifier ? page.classifier.labels : DIGITS;
}

function clearResult(message = 'Draw a digit to see what the model reads.') {
  $('top').textContent = '–';
  delete $('top').dataset.label;
  $('confidence').textContent = '';
  $('verdict').textContent = message;
  delete document.body.dataset.verdict;
  renderBars($('bars'), labels(), null);
  $('time').textContent = '–';
  updateTruth(null);
}

function clearModelFacts() {
  clearResult('');
  $('backend-reason').textContent = '';
  const check = $('selfcheck');
  check.textContent = '–';
  check.className = '';
  delete check.dataset.maxAbsDiff;
  delete check.dataset.verdict;
  if (page.samples) markStrip($('strip'), page.samples, null);
}

function updateTruth(best) {
  const truth = $('truth');
  if (page.shown < 0 || !page.samples) {
    truth.textContent = '';
    delete truth.dataset.verdict;
    return;
  }
  const label = page.samples.labels[page.shown];
  const head = `Test digit ${page.shown + 1}, labelled ${label}`;
  if (best == null) {
    truth.textContent = head;
    delete truth.dataset.verdict;
    return;
  }
  const right = String(best) === String(label);
  truth.textContent = `${head}: ${right ? '✓ the model is right' : `✗ the model is wrong (it says ${best})`}`;
  truth.dataset.verdict = right ? 'right' : 'wrong';
}

function showResult({ probabilities, best, ms }, announce) {
  const label = page.classifier.labels[best];
  const { sure, reason } = judge(probabilities, page.shown < 0 ? page.pixels : null);
  const percent = `${(100 * probabilities[best]).toFixed(1)} %`;
  $('top').textContent = sure ? label : '?';
  $('top').dataset.label = label; // the model's answer, even when the page is not sure of it
  $('confidence').textContent = sure ? `${percent} sure` : `best guess ${label}`;
  document.body.dataset.verdict = sure ? 'sure' : 'not-sure';
  renderBars($('bars'), page.classifier.labels, probabilities);
  $('time').textContent = ms.toFixed(1);
  updateTruth(label);
  if (announce) {
    // The live region reads the whole result; the test digit's right/wrong line is already on
    // screen below it, so here it is for screen readers only.
    const truth = document.createElement('span');
    truth.className = 'visually-hidden';
    truth.textContent = page.shown >= 0 ? ` ${$('truth').textContent}.` : '';
    $('verdict').replaceChildren(sure ? `Looks like a ${label} (${percent} sure).` : `Not sure: ${reason}. Best guess ${label}.`, truth);
  }
  page.predictions += 1;
  document.body.dataset.predictions = String(page.predictions);
}

function canPredict() {
  return Boolean(page.classifier && page.classifier.drawable && page.trusted && document.body.dataset.state === 'ready');
}

async function predict(announce = true) {
  const classifier = page.classifier;
  if (!canPredict() || !page.pixels) return;
  const result = await classifier.predictAsync(page.pixels);
  if (classifier !== page.classifier || !canPredict()) return; // the model changed meanwhile
  showResult(result, announce);
}

// ---- pad, samples, buttons ---------------------------------------------------------------

function padHasInk() {
  return page.pixels != null;
}

function updateButtons() {
  const sample = $('sample');
  const clear = $('clear');
  sample.disabled = !(page.samples && canPredict());
  const clearWasFocused = document.activeElement === clear;
  clear.disabled = !padHasInk();
  // A keyboard user who pressed Clear keeps a place on the page: the next useful button.
  if (clearWasFocused && clear.disabled) (sample.disabled ? $('models') : sample).focus();
  $('pad-wrap').dataset.empty = String(!padHasInk());
  // The test digits stay focusable (a keyboard user keeps their place) but say when they cannot answer.
  $('strip').querySelectorAll('.thumb').forEach((thumb) => thumb.setAttribute('aria-disabled', String(!canPredict())));
}

function clearPad() {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  paint($('preview'), new Float32Array(784));
  page.pixels = null;
  page.shown = -1;
  delete document.body.dataset.sample;
  markCurrent($('strip'), -1);
  clearResult();
  updateButtons();
}

function fromDrawing(announce) {
  page.pixels = preprocess(pad);
  page.shown = -1;
  delete document.body.dataset.sample;
  markCurrent($('strip'), -1);
  paint($('preview'), page.pixels || new Float32Array(784));
  updateButtons();
  if (page.pixels) predict(announce);
  else clearResult();
}

function showSample(index) {
  page.shown = index;
  page.nextSample = (index + 1) % page.samples.labels.length; // "Sample digit" keeps going from here
  page.pixels = samplePixels(page.samples, index);
  paint(pad, page.pixels);
  paint($('preview'), page.pixels);
  markCurrent($('strip'), index);
  delete $('top').dataset.label; // the answer shown was for the previous digit
  updateTruth(null);
  document.body.dataset.sample = String(index);
  updateButtons();
  predict(true);
}

function setupDrawing() {
  let drawing = false;
  let last = null;
  let queued = false;
  const point = (event) => {
    const rect = pad.getBoundingClientRect();
    return { x: (event.clientX - rect.left) * (pad.width / rect.width), y: (event.clientY - rect.top) * (pad.height / rect.height) };
  };
  pad.addEventListener('pointerdown', (event) => {
    if (page.shown >= 0) clearPad(); // drawing over a test digit starts a fresh drawing
    drawing = true;
    last = point(event);
    pad.setPointerCapture(event.pointerId);
  });
  pad.addEventListener('pointermove', (event) => {
    if (!drawing) return;
    const next = point(event);
    padCtx.lineCap = 'round';
    padCtx.lineJoin = 'round';
    padCtx.lineWidth = 18;
    padCtx.strokeStyle = '#fff';
    padCtx.beginPath();
    padCtx.moveTo(last.x, last.y);
    padCtx.lineTo(next.x, next.y);
    padCtx.stroke();
    last = next;
    if (!queued) { // predict at most once per frame while drawing; announce when the stroke ends
      queued = true;
      requestAnimationFrame(() => { queued = false; fromDrawing(false); });
    }
  });
  const stop = () => { if (drawing) { drawing = false; fromDrawing(true); } };
  pad.addEventListener('pointerup', stop);
  pad.addEventListener('pointercancel', stop);
  $('clear').addEventListener('click', clearPad);
  $('sample').addEventListener('click', () => canPredict() && showSample(page.nextSample));
}

// ---- loading an export -------------------------------------------------------------------

function exportArgs(entry) {
  return `MODEL=${entry.model} QUANT=${entry.quantization}`;
}

function progressText(entry, bytes) {
  const total = exportSize(entry);
  const got = formatBytes(bytes) || '0 KB';
  return Number.isFinite(total) && total > 0 ? `${got} of ${formatBytes(total)}` : got;
}

async function selfCheck(attempt) {
  const check = $('selfcheck');
  if (!page.golden) {
    check.textContent = 'not possible (this export has no golden.json)';
    check.dataset.verdict = 'missing';
    page.trusted = true;
    return;
  }
  let diff;
  try {
    diff = await page.classifier.selfCheck(page.golden);
  } catch (err) { // golden.json that does not fit the model fails the check; it is no load error
    diff = NaN;
    $('error-raw').textContent = `self-check: ${err.message}`;
    $('error-details').hidden = false;
  }
  if (attempt !== page.attempt) return;
  const lowPrecision = tf.getBackend() === 'webgl' && !tf.env().getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  const allowed = allowedDiff(page.entry, page.golden, lowPrecision);
  page.trusted = passes(diff, allowed);
  check.dataset.maxAbsDiff = diff.toExponential(1);
  check.dataset.allowed = allowed.toExponential(1);
  check.dataset.verdict = page.trusted ? 'passed' : 'failed';
  check.className = page.trusted ? 'passed' : 'failed';
  check.textContent = page.trusted ? '✓ matches JAX' : '✗ differs from JAX';
  check.title = `max |Δ| ${diff.toExponential(1)}, allowed ${allowed.toExponential(1)}`;
}

async function markSamples() {
  if (!page.samples || !canPredict()) return;
  const classifier = page.classifier;
  const predicted = [];
  for (const [index] of page.samples.labels.entries()) {
    const { best } = await classifier.predictAsync(samplePixels(page.samples, index));
    if (classifier !== page.classifier) return;
    predicted.push(classifier.labels[best]);
  }
  markStrip($('strip'), page.samples, predicted);
}

function showBackend() {
  const active = tf.getBackend();
  $('backend').textContent = active;
  $('backend-reason').textContent = page.timings ? reasonFor(active, page.timings, page.choice) : '';
  document.body.dataset.backend = active;
}

async function chooseBackendOnce(attempt) {
  if (page.timings) return;
  const run = () => page.classifier.runOnce(page.golden);
  const timings = await measureBackends(page.backends.started, run, (name, i, n) => {
    if (attempt === page.attempt) showProgress((i + 1) / (n + 1), `Timing ${name} (${i + 1} of ${n}) to pick the fastest`);
  });
  page.timings = timings;
}

function finishLoading(entry) {
  const classifier = page.classifier;
  showBackend();
  if (!page.trusted) {
    const { maxAbsDiff, allowed } = $('selfcheck').dataset;
    const off = maxAbsDiff === 'NaN' ? 'no comparable numbers' : `off by up to ${maxAbsDiff}, allowed ${allowed}`;
    setStatus(`${friendlyName(entry)} failed its self-check: its answers are not JAX's (${off}), so its weights are `
      + `probably damaged and the page shows no predictions from it. Pick another model, or re-run `
      + `\`make convert ${exportArgs(entry)}\`.`, true);
    setState('failed-check');
    clearResult('No predictions: this model failed its self-check.');
  } else if (classifier.drawable) {
    setStatus('Ready. Draw a digit, or pick a test digit.');
    setState('ready');
  } else {
    setStatus(`Loaded ${friendlyName(entry)}: it takes ${classifier.describeInputs()}, not one drawn 28×28 image, so the page only self-checks it against golden.json.`);
    setState('ready');
    clearResult('This model cannot read a drawing.');
  }
  renderTech();
  if (page.trusted && classifier.drawable) {
    predict(true);
    markSamples();
  }
}

function downloadFor(entry) {
  return new Download({ onBytes: (bytes) => showProgress(bytes / (exportSize(entry) || bytes * 2), `Downloading: ${progressText(entry, bytes)}`) });
}

function exportBase(entry) {
  return `/models/${entry.model_json.replace(/model\.json$/, '')}`;
}

// early: a Download that already fetches this export (the first one, while TF.js starts).
async function load(index, attempt, early = null) {
  if (attempt !== page.attempt) return; // a later pick replaced this one before it started
  const entry = page.entries[index];
  const download = early || downloadFor(entry);
  page.download = download;
  page.lastIndex = index;
  if (page.classifier) { page.classifier.dispose(); page.classifier = null; }
  page.entry = entry;
  document.body.dataset.export = entry.model_json;
  page.golden = null;
  page.trusted = false;
  clearError();
  clearModelFacts();
  setStatus(`Loading ${friendlyName(entry)}…`);
  showProgress(download.bytes / (exportSize(entry) || 1), `Downloading: ${progressText(entry, download.bytes)}`);
  setState('loading');
  renderTech();
  try {
    const base = exportBase(entry);
    // Progress comes from the bytes download.fetch counts, not from TF.js's onProgress: that one
    // moves only when a whole file is done, and (TF.js 4.22, io/progress.js) leaves an unhandled
    // rejection behind for every request that fails.
    const classifier = await Classifier.load(`/models/${entry.model_json}`, entry.labels || DIGITS, { fetchFunc: download.fetch });
    if (attempt !== page.attempt) { classifier.dispose(); return; }
    page.classifier = classifier;
    try {
      page.golden = await download.json(`${base}golden.json`);
    } catch (err) {
      if (err.kind !== 'http') throw err; // only a missing golden.json is no reason to fail
    }
    // Cancel also works between downloads (while timing backends, while self-checking).
    const current = () => {
      if (download.failure) throw download.failure;
      return attempt === page.attempt;
    };
    if (!current()) return;
    await chooseBackendOnce(attempt);
    if (!current()) return;
    showProgress(null, 'Checking against JAX');
    await selfCheck(attempt);
    if (!current()) return;
    finishLoading(entry);
  } catch (err) {
    if (attempt !== page.attempt) return;
    console.warn(`export ${entry.model_json} failed to load: ${err.message}`);
    if (page.classifier) { page.classifier.dispose(); page.classifier = null; }
    clearModelFacts();
    const explained = explain(err, exportArgs(entry));
    showError({ ...explained, cause: `Could not load ${friendlyName(entry)}. ${explained.cause}` }, { retry: true });
    setState(download.cancelled ? 'cancelled' : 'broken');
    renderTech();
  } finally {
    if (page.download === download) page.download = null;
  }
}

function selectModel(index, early = null) {
  const attempt = ++page.attempt;
  if (page.download) page.download.stop(Object.assign(new Error('another model was picked'), { kind: 'superseded' }));
  page.queue = page.queue.then(() => load(index, attempt, early));
  return page.queue;
}

function switchBackend(choice) {
  page.choice = choice;
  page.queue = page.queue.then(async () => {
    const name = choice === 'auto' ? (fastestOf(page.timings || {}) || page.backends.started[0]) : choice;
    try {
      await useBackend(name);
    } catch (err) {
      setStatus(`${name} could not start here: ${err.message}. Pick another.`, true);
      return;
    }
    if (page.classifier && ['ready', 'failed-check'].includes(document.body.dataset.state)) {
      const attempt = page.attempt;
      await selfCheck(attempt);
      if (attempt === page.attempt) finishLoading(page.entry);
    } else {
      showBackend();
    }
  });
}

// ---- start -------------------------------------------------------------------------------

async function main() {
  clearPad();
  setupDrawing();
  $('cancel').addEventListener('click', () => page.download && page.download.cancel());
  $('retry').addEventListener('click', () => selectModel(page.lastIndex));
  setState('loading', { cancellable: false }); // start-up: nothing a visitor could cancel yet
  if (typeof tf === 'undefined') {
    showError({ cause: 'TensorFlow.js did not load.', fix: 'Reload the page; if it stays, run `make setup` (it installs TF.js into web/node_modules).', raw: 'window.tf is undefined' }, { retry: false });
    setState('broken');
    return;
  }
  const startup = new Download();
  page.download = startup;
  showProgress(null, 'Reading the list of models');
  const [{ exports, problem }, samples] = await Promise.all([loadIndex(startup), loadSamples(startup)]);
  page.download = null;
  page.entries = exports;
  page.samples = samples && samples.labels?.length ? samples : null;
  if (page.samples) buildStrip($('strip'), page.samples, (index) => canPredict() && showSample(index));
  else $('samples-card').hidden = true;
  if (problem && problem.kind !== 'http') { // index.json exists but could not be read
    const explained = explain(problem);
    showError({ ...explained, cause: `Could not read the list of models. ${explained.cause}`, fix: 'Reload the page; if it stays, re-run `make convert`.' }, { retry: false });
    setState('broken');
    return;
  }
  if (!exports.length) {
    setStatus('No models yet: run `make convert` (or `make demo`), then reload this page.', true);
    setState('empty');
    return;
  }
  // The first export downloads while TF.js starts its backends (on a slow link, seconds saved).
  const first = chooseDefault(exports);
  const early = downloadFor(exports[first]);
  early.prefetchExport(`/models/${exports[first].model_json}`, [`${exportBase(exports[first])}golden.json`]);
  try {
    page.backends = await startBackends((name, i, n) => showProgress(i / n, `Starting TensorFlow.js: ${name} (${i + 1} of ${n})`));
  } catch (err) {
    showError(explain(err), { retry: false });
    setState('broken');
    return;
  }
  const backendPicker = $('backend-picker');
  for (const option of backendPicker.options) {
    if (BACKENDS.includes(option.value) && !page.backends.started.includes(option.value)) {
      option.disabled = true;
      option.textContent += ' (unavailable here)';
    }
  }
  backendPicker.addEventListener('change', () => switchBackend(backendPicker.value));
  const picker = $('models');
  exports.forEach((entry, i) => {
    const option = new Option(friendlyName(entry), String(i));
    option.dataset.model = entry.model;
    option.dataset.quantization = entry.quantization;
    picker.add(option);
  });
  picker.value = String(first);
  // The picker is never disabled while a model loads: disabling it would drop keyboard focus.
  picker.addEventListener('change', () => selectModel(Number(picker.value)));
  await selectModel(first, early);
}

main();
