// The page: drawing pad, sample digits, model picker, prediction bars. Logic lives in
// preprocess.js (pixels), model.js (TF.js) and data.js (index.json, samples.json).
import { describe, fetchJson, loadIndex, loadSamples } from './data.js';
import { Classifier, initBackend } from './model.js';
import { paint, preprocess } from './preprocess.js';

const $ = (id) => document.getElementById(id);
const pad = $('pad');
const padCtx = pad.getContext('2d', { willReadFrequently: true });
let classifier = null;
let exportsList = [];
let samples = null;
let sampleIndex = -1;
let pixels = null;
let predictions = 0;

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function clearPad() {
  padCtx.fillStyle = '#000';
  padCtx.fillRect(0, 0, pad.width, pad.height);
  paint($('preview'), new Float32Array(784));
  pixels = null;
  $('top').textContent = '–';
  $('truth').textContent = '';
  renderBars(null);
}

function renderBars(probabilities) {
  const bars = $('bars');
  bars.replaceChildren();
  const labels = classifier ? classifier.labels : [...'0123456789'];
  const best = probabilities ? probabilities.indexOf(Math.max(...probabilities)) : -1;
  labels.forEach((label, i) => {
    const p = probabilities ? probabilities[i] : 0;
    const name = document.createElement('span');
    name.textContent = label;
    const bar = document.createElement('div');
    bar.className = i === best ? 'bar best' : 'bar';
    const fill = document.createElement('div');
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    bar.append(fill);
    const value = document.createElement('span');
    value.className = 'small';
    value.textContent = `${(100 * p).toFixed(1)}%`;
    bars.append(name, bar, value);
  });
}

// predictAsync: a graph with a loop needs executeAsync; for any other it answers synchronously.
async function predict() {
  if (!classifier || !pixels || !classifier.drawable) return;
  const { probabilities, best, ms } = await classifier.predictAsync(pixels);
  $('top').textContent = classifier.labels[best];
  $('time').textContent = ms.toFixed(1);
  renderBars(probabilities);
  predictions += 1;
  document.body.dataset.predictions = String(predictions);
}

function fromDrawing() {
  pixels = preprocess(pad);
  sampleIndex = -1;
  $('truth').textContent = '';
  delete document.body.dataset.sample;
  paint($('preview'), pixels || new Float32Array(784));
  predict();
}

function showSample() {
  sampleIndex = (sampleIndex + 1) % samples.labels.length;
  pixels = Float32Array.from(samples.images[sampleIndex], (v) => v / 255);
  paint(pad, pixels);
  paint($('preview'), pixels);
  $('truth').textContent = `(test digit #${sampleIndex}, label ${samples.labels[sampleIndex]})`;
  document.body.dataset.sample = String(sampleIndex);
  predict();
}

function setupDrawing() {
  let drawing = false;
  let last = null;
  let queued = false;
  padCtx.lineCap = 'round';
  padCtx.lineJoin = 'round';
  padCtx.lineWidth = 18;
  padCtx.strokeStyle = '#fff';
  const point = (event) => {
    const rect = pad.getBoundingClientRect();
    return { x: (event.clientX - rect.left) * (pad.width / rect.width), y: (event.clientY - rect.top) * (pad.height / rect.height) };
  };
  pad.addEventListener('pointerdown', (event) => {
    if (sampleIndex >= 0) clearPad();
    drawing = true;
    last = point(event);
    pad.setPointerCapture(event.pointerId);
  });
  pad.addEventListener('pointermove', (event) => {
    if (!drawing) return;
    const next = point(event);
    padCtx.beginPath();
    padCtx.moveTo(last.x, last.y);
    padCtx.lineTo(next.x, next.y);
    padCtx.stroke();
    last = next;
    if (!queued) { // predict at most once per frame while drawing
      queued = true;
      requestAnimationFrame(() => { queued = false; fromDrawing(); });
    }
  });
  const stop = () => { if (drawing) { drawing = false; fromDrawing(); } };
  pad.addEventListener('pointerup', stop);
  pad.addEventListener('pointercancel', stop);
  $('clear').addEventListener('click', () => { sampleIndex = -1; delete document.body.dataset.sample; clearPad(); });
}

async function selectModel(index) {
  const entry = exportsList[index];
  $('models').disabled = true;
  $('model-info').textContent = describe(entry);
  setStatus(`Loading ${entry.model} (${entry.quantization})…`);
  document.body.dataset.state = 'loading';
  if (classifier) { classifier.dispose(); classifier = null; }
  try {
    const base = `/models/${entry.model_json.replace(/model\.json$/, '')}`;
    classifier = await Classifier.load(`/models/${entry.model_json}`, entry.labels || [...'0123456789']);
    try {
      const diff = await classifier.selfCheck(await fetchJson(`${base}golden.json`));
      $('selfcheck').textContent = `max |Δ| ${diff.toExponential(1)} vs JAX${diff > 0.5 ? ' (large: quantized?)' : ''}`;
    } catch {
      $('selfcheck').textContent = 'no golden.json';
    }
    if (classifier.drawable) {
      setStatus(`Ready: ${entry.model} (${entry.quantization}). Draw a digit or press "Sample digit".`);
    } else {
      setStatus(`Loaded ${entry.model} (${entry.quantization}): it takes ${classifier.describeInputs()}, not one drawn 28×28 image, so the page only self-checks it against golden.json.`);
    }
    document.body.dataset.state = 'ready';
    predict();
  } catch (err) {
    console.warn(`export ${entry.model_json} failed to load: ${err.message}`);
    setStatus(`Could not load ${entry.model}/${entry.quantization}: ${err.message}. Pick another model, or re-run \`make convert\`.`, true);
    document.body.dataset.state = 'broken';
  } finally {
    $('models').disabled = false;
  }
}

async function main() {
  clearPad();
  setupDrawing();
  try {
    $('backend').textContent = await initBackend();
  } catch (err) {
    setStatus(`TF.js could not start: ${err.message}`, true);
    return;
  }
  [exportsList, samples] = await Promise.all([loadIndex(), loadSamples()]);
  if (samples && samples.labels.length) {
    $('sample').disabled = false;
    $('sample').addEventListener('click', () => classifier && showSample());
  }
  if (!exportsList.length) {
    setStatus('No exports yet: run `make convert` (or `make demo`), then reload.', true);
    document.body.dataset.state = 'empty';
    return;
  }
  const picker = $('models');
  exportsList.forEach((entry, i) => picker.add(new Option(`${entry.model} · ${entry.quantization}`, String(i))));
  picker.addEventListener('change', () => selectModel(Number(picker.value)));
  await selectModel(0);
}

main();
