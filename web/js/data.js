// What the page reads from the exports volume (served at /models/), and how it names an export
// to people: "Flax CNN · full precision · 1.6 MB", with the technical names one click away.
import { Download } from './loader.js';

export async function fetchJson(url, download = new Download()) {
  return download.json(url);
}

// {exports, problem}: an empty list with the reason when there is no usable index.json.
export async function loadIndex(download) {
  try {
    const index = await fetchJson('/models/index.json', download);
    return { exports: Array.isArray(index.exports) ? index.exports : [], problem: null };
  } catch (err) {
    return { exports: [], problem: err };
  }
}

export async function loadSamples(download) {
  try {
    const samples = await fetchJson('/models/samples.json', download);
    return Array.isArray(samples.images) && samples.images.length ? samples : null;
  } catch {
    return null;
  }
}

const WORDS = { jax: 'JAX', flax: 'Flax', cnn: 'CNN', mlp: 'MLP', mnist: 'MNIST', tf: 'TF' };
const QUANTIZATIONS = {
  none: 'full precision',
  float16: 'half precision',
  uint16: '16-bit compressed',
  uint8: '8-bit compressed',
};

export function friendlyModel(id) {
  return String(id).split(/[_-]+/).map((w) => WORDS[w] || w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

export function friendlyQuantization(quantization) {
  return QUANTIZATIONS[quantization] || `${quantization} weights`;
}

// "1.6 MB", "420 KB"; '' when the size is unknown (an index from an older convert).
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '';
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} KB`;
}

export function exportSize(entry) {
  return entry.total_bytes ?? entry.model_bytes;
}

export function friendlyName(entry) {
  return [friendlyModel(entry.model), friendlyQuantization(entry.quantization), formatBytes(exportSize(entry))]
    .filter(Boolean).join(' · ');
}

export function accuracyText(entry) {
  const verified = entry.verified;
  if (!verified) return 'not verified yet (run make verify)';
  const verdict = verified.passed ? 'passed' : 'FAILED';
  if (verified.tfjs_accuracy != null) {
    return `${(100 * verified.tfjs_accuracy).toFixed(2)} % on the test split in TF.js (verify ${verdict})`;
  }
  return `golden.json only (verify ${verdict})`; // an export with no checkpoint has no accuracy
}

function verifiedAccuracy(entry) {
  const verified = entry.verified;
  return verified && verified.passed !== false && Number.isFinite(verified.tfjs_accuracy) ? verified.tfjs_accuracy : null;
}

// The export a visitor gets first: the smallest download among those whose verified accuracy is
// within 0.1 point of the best, so nobody waits for megabytes that buy no accuracy. With nothing
// verified there is nothing to compare: the first export.
export const ACCURACY_SLACK = 0.001;

export function chooseDefault(entries) {
  const scored = entries.map((entry, index) => ({ index, accuracy: verifiedAccuracy(entry), bytes: exportSize(entry) }))
    .filter((e) => e.accuracy != null);
  if (!scored.length) return 0;
  const best = Math.max(...scored.map((e) => e.accuracy));
  const good = scored.filter((e) => e.accuracy >= best - ACCURACY_SLACK - 1e-12);
  good.sort((a, b) => (a.bytes ?? Infinity) - (b.bytes ?? Infinity) || a.index - b.index);
  return good[0].index;
}

// [term, value] rows for the export's "Technical details".
export function technicalRows(entry) {
  const rows = [
    ['Export', entry.model_json],
    ['Model id', entry.model],
    ['Quantization', entry.quantization],
    ['Download', exportSize(entry) != null ? `${exportSize(entry)} bytes` : 'unknown'],
    ['Accuracy', accuracyText(entry)],
  ];
  if (entry.jax_test_accuracy != null) rows.push(['JAX accuracy', `${(100 * entry.jax_test_accuracy).toFixed(2)} %`]);
  if (entry.tfjs_compute_ops != null) rows.push(['TF.js compute ops', String(entry.tfjs_compute_ops)]);
  if (entry.verified?.max_abs_diff != null) rows.push(['Verified max |Δ| vs JAX', entry.verified.max_abs_diff.toExponential(1)]);
  return rows;
}
