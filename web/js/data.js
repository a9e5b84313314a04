// What the page reads from the exports volume (served at /models/).
export async function fetchJson(url) {
  const response = await fetch(url, { cache: 'no-cache' });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

export async function loadIndex() {
  try {
    return (await fetchJson('/models/index.json')).exports || [];
  } catch {
    return [];
  }
}

export async function loadSamples() {
  try {
    return await fetchJson('/models/samples.json');
  } catch {
    return null;
  }
}

export function describe(entry) {
  const kb = Math.round((entry.model_bytes ?? entry.total_bytes) / 1024);
  const verified = entry.verified;
  let accuracy = 'not verified yet (make verify)';
  if (verified && verified.tfjs_accuracy != null) {
    accuracy = `verified ${(100 * verified.tfjs_accuracy).toFixed(2)}% in TF.js${verified.passed ? '' : ' (FAILED checks)'}`;
  } else if (verified) {
    // An export with no checkpoint (nothing to score accuracy against) is checked on golden.json only.
    accuracy = verified.passed ? 'verified in TF.js (golden.json)' : 'FAILED its golden.json check in TF.js';
  }
  return `${entry.model} · ${entry.quantization} · ${kb} KB · ${accuracy}`;
}
