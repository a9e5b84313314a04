// The self-check table: one row per backend, `tr[data-backend][data-status]` with status pass,
// fail, unavailable (the browser cannot start that backend), unchecked (no golden.json), or
// waiting/running while the check goes on.
import { $, el } from './dom.js';
import { msText } from './format.js';

const WORDS = { pass: 'pass', fail: 'FAIL', unavailable: 'not offered', unchecked: 'not checked', waiting: 'waiting', running: 'running…' };

export function startChecks(backends) {
  const body = el('tbody', {}, ...backends.map((b) => row({ backend: b, status: 'waiting' })));
  const head = el('thead', {}, el('tr', {}, ...['Backend', 'Result', 'max |Δ|', 'Relative error (limit)', 'Median latency', 'Notes'].map((h) => el('th', { scope: 'col' }, h))));
  $('checks').replaceChildren(el('table', { className: 'checks' }, el('caption', { className: 'small' }, 'golden.json inputs run on each TF.js backend, compared with JAX’s outputs'), head, body));
}

function row(result) {
  const { backend, status } = result;
  const measured = result.rel !== undefined && result.rel !== null;
  return el('tr', { dataset: { backend, status, maxAbs: measured ? String(result.maxAbs) : '', relErr: measured ? String(result.rel) : '', ms: result.ms ? String(result.ms) : '' } },
    el('th', { scope: 'row' }, backend),
    el('td', { className: `status ${status}` }, WORDS[status] || status),
    el('td', {}, measured ? result.maxAbs.toExponential(2) : '–'),
    el('td', {}, measured ? `${result.rel.toExponential(2)} (≤ ${result.limit.toExponential(0)})${result.worstOutput ? ` in ${result.worstOutput}` : ''}` : '–'),
    el('td', {}, result.ms ? `${msText(result.ms)} (${result.runs} runs)` : '–'),
    el('td', { className: 'note' }, result.note || ''));
}

export function showCheck(result) {
  const old = $('checks').querySelector(`tr[data-backend="${result.backend}"]`);
  if (old) old.replaceWith(row(result));
}

export function summary(results) {
  const count = (s) => results.filter((r) => r.status === s).length;
  const parts = [`${count('pass')} passed`, `${count('fail')} failed`];
  if (count('unavailable')) parts.push(`${count('unavailable')} not offered by this browser`);
  if (count('unchecked')) parts.push(`${count('unchecked')} not checked (no golden.json)`);
  return `Self-check: ${parts.join(', ')}.`;
}
