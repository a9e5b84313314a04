// The inspector page: pick an export, describe it, self-check it on every backend, then run it on
// inputs the user gives. The other modules do the work; this one wires them to the page and keeps
// a stale model (the user picked another meanwhile) from writing over the current one.
import { BACKENDS, configure, exclusive, startBackend } from './backends.js';
import { showCheck, startChecks, summary } from './checks.js';
import { describeFiles, fetchGolden, fetchModelJson } from './fetching.js';
import { describe } from './describe.js';
import { $, clearError, el, setState, setStatus, showError } from './dom.js';
import { msText } from './format.js';
import { InputForm, toTensors } from './inputs.js';
import { renderOutputs, runOutputs } from './outputs.js';
import { renderFacts, renderOps, renderTensors } from './render.js';
import { checkBackend } from './selfcheck.js';
import { inputSpecs, loadModel, outputNames } from './runner.js';
import { addressFor, listExports } from './sources.js';

let exportsList = [];
let generation = 0; // bumped on every pick: work for an older pick stops where it checks it
let current = null; // {item, model, backend, form, labels, golden}
let runs = 0;

function progress(what) {
  const bar = $('download');
  $('download-label').textContent = `Downloading ${what}`;
  bar.value = 0;
  bar.parentElement.hidden = false;
  return (fraction) => { bar.value = Math.round(100 * fraction); };
}

function hideProgress() {
  $('download').parentElement.hidden = true;
}

function resetSections() {
  for (const id of ['io', 'ops', 'facts', 'files', 'checks', 'inputs', 'outputs']) $(id).replaceChildren();
  $('size').textContent = '–';
  $('run').disabled = true;
  $('run-backend').disabled = true;
  $('run-status').textContent = '';
  delete $('outputs').dataset.fed;
}

// Load the export on `backend` for the "Try it" runs (the form is built once per export).
function loadForRunning(token, item, backend) {
  return exclusive(async () => {
    if (token !== generation) return;
    const started = await startBackend(backend);
    if (!started.ok) throw new Error(started.reason);
    const model = await loadModel(item.url, progress(`the model for ${backend}`));
    hideProgress();
    if (token !== generation) { model.dispose(); return; }
    current.model?.dispose();
    Object.assign(current, { model, backend });
    current.form ||= new InputForm($('inputs'), inputSpecs(model), current.golden);
  });
}

async function open(index) {
  const token = ++generation;
  const item = exportsList[index];
  const previous = current?.model;
  if (previous) exclusive(() => previous.dispose()); // after any run of it still going
  current = { item, model: null, backend: null, form: null, golden: null };
  document.body.dataset.export = item.label;
  clearError();
  resetSections();
  setState('loading');
  history.replaceState(null, '', addressFor(item.url));
  setStatus(`Reading ${item.label}…`);
  let modelJson;
  let text;
  try {
    ({ modelJson, text } = await fetchModelJson(item.url));
  } catch (err) {
    if (token !== generation) return;
    showError(`Could not read ${item.label}: its model.json did not load or is not a TF.js model. Pick another export, or convert it again.`, err);
    setState('broken');
    return;
  }
  if (token !== generation) return;
  const described = describe(modelJson, item.entry?.signature);
  renderTensors(described.tensors);
  renderOps(described.ops);
  renderFacts(await describeFiles(item.url, text, modelJson), described.facts, described.quantization);
  current.labels = described.facts.labels;
  const golden = await fetchGolden(item.url);
  if (token !== generation) return;
  current.golden = golden.golden;
  await selfCheck(token, item, described, golden);
}

async function selfCheck(token, item, described, golden) {
  setState('checking');
  setStatus(`Self-checking ${item.label} on ${BACKENDS.join(', ')}…`);
  startChecks(BACKENDS);
  const results = [];
  for (const backend of BACKENDS) {
    showCheck({ backend, status: 'running' });
    const result = await exclusive(() => (token !== generation ? null : checkBackend(backend, {
      url: item.url, golden: golden.golden, quantization: described.quantization.name, onProgress: progress(`${item.label} for ${backend}`),
    })));
    hideProgress();
    if (token !== generation) return;
    if (golden.problem && result.status === 'unchecked') result.note = golden.problem;
    results.push(result);
    showCheck(result);
  }
  const usable = results.filter((r) => r.status !== 'unavailable');
  const runnable = usable.filter((r) => r.status !== 'fail');
  const picker = $('run-backend');
  picker.replaceChildren(...usable.map((r) => el('option', { value: r.backend }, r.backend)));
  const failures = results.filter((r) => r.status === 'fail');
  if (!runnable.length) {
    showError(`${item.label} did not pass its self-check on any backend: see the table below, and the notes for each backend.`, failures[0]?.error || new Error(failures.map((r) => `${r.backend}: ${r.note}`).join('\n')));
  }
  const backend = (runnable[0] || usable[0])?.backend;
  if (backend) {
    picker.value = backend;
    try {
      await loadForRunning(token, item, backend);
    } catch (err) {
      if (token !== generation) return;
      showError(`Could not load ${item.label} on ${backend} to run it.`, err);
    }
  }
  if (token !== generation) return;
  picker.disabled = !usable.length;
  $('run').disabled = !current.model;
  if (runnable.length) setStatus(`${summary(results)} Ready: give it inputs below and press Run.`);
  setState('checked');
}

async function run() {
  const token = generation;
  const { model } = current;
  if (!model) return;
  clearError();
  let fed;
  try {
    fed = current.form.values();
  } catch (err) {
    showError(`Could not read the inputs: ${err.message}.`, err);
    return;
  }
  $('run').disabled = true;
  $('run-status').textContent = `Running on ${current.backend}…`;
  let feed = {};
  try {
    const { outputs, ms } = await exclusive(() => {
      feed = toTensors(fed); // on the backend the model is on
      return runOutputs(model, feed, outputNames(model));
    });
    if (token !== generation) return;
    renderOutputs($('outputs'), outputs, current.labels);
    const count = Object.values(fed).reduce((n, x) => n + x.values.length, 0);
    $('outputs').dataset.fed = count <= 100_000 ? JSON.stringify(fed) : '';
    $('run-status').textContent = `Ran on ${current.backend} in ${msText(ms)}: ${outputs.map((o) => `${o.name} ${JSON.stringify(o.shape)}`).join(', ')}.`;
    runs += 1;
    document.body.dataset.runs = String(runs);
  } catch (err) {
    $('run-status').textContent = 'The run failed.';
    showError('The model could not run on these inputs (see Details: often a shape or dtype it does not take).', err);
  } finally {
    Object.values(feed).forEach((t) => t.dispose());
    $('run').disabled = !current.model;
  }
}

async function switchBackend() {
  const token = generation;
  const backend = $('run-backend').value;
  $('run').disabled = true;
  setStatus(`Loading the model on ${backend}…`);
  try {
    await loadForRunning(token, current.item, backend);
    if (token === generation) setStatus(`Ready on ${backend}.`);
  } catch (err) {
    if (token === generation) showError(`Could not load the model on ${backend}.`, err);
  } finally {
    if (token === generation) $('run').disabled = !current.model;
  }
}

function fillPicker(list, selected) {
  const picker = $('models');
  const groups = new Map();
  list.forEach((item, i) => {
    if (!groups.has(item.group)) groups.set(item.group, el('optgroup', { label: item.group }));
    groups.get(item.group).append(el('option', { value: String(i) }, item.label));
  });
  picker.replaceChildren(...groups.values());
  picker.value = String(selected);
  picker.disabled = false;
}

async function main() {
  setState('loading');
  if (!configure()) {
    showError('TF.js did not load (/vendor/tfjs/…): run `make setup` (it runs npm ci in web/), then reload.');
    setState('broken');
    return;
  }
  $('open-url').addEventListener('submit', (event) => {
    event.preventDefault();
    const typed = $('model-url').value.trim();
    if (!typed) return;
    let url;
    try {
      url = new URL(typed, window.location.href);
    } catch (err) {
      showError(`“${typed}” is not an address.`, err);
      return;
    }
    // The page's CSP lets it fetch from its own server only.
    if (url.origin !== window.location.origin) {
      showError(`The inspector opens exports served by this server only (${window.location.origin}): serve ${typed} from here, e.g. under /zoo/.`);
      return;
    }
    window.location.assign(addressFor(url.href));
  });
  $('models').addEventListener('change', () => open(Number($('models').value)));
  $('run').addEventListener('click', run);
  $('run-backend').addEventListener('change', switchBackend);
  // A picture just uploaded is run at once: that is what the user came to see.
  $('inputs').addEventListener('image-changed', () => { if (!$('run').disabled) run(); });
  setStatus('Looking for exports…');
  const { exports, selected, problems } = await listExports();
  exportsList = exports;
  if (problems.length) console.warn(`inspector: ${problems.join('; ')}`);
  if (!exports.length) {
    setStatus('No exports found. Run `make convert` (the demo’s) or `make zoo` (the zoo’s), or open a served model.json by its address below.');
    setState('empty');
    return;
  }
  fillPicker(exports, selected);
  await open(selected);
}

main().catch((err) => {
  showError('The inspector failed to start.', err);
  setState('broken');
});
