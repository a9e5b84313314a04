// Small DOM helpers shared by the inspector's modules: element creation, the status line (a live
// region), friendly errors with their technical detail one click away, and the page's state marker.
export const $ = (id) => document.getElementById(id);

// el('td', {className: 'num', dataset: {x: '1'}}, 'text', child...): attributes are properties,
// except `dataset` (merged) and names with a dash (set as attributes: aria-*, data-*).
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.includes('-')) node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function setState(state) {
  document.body.dataset.state = state;
}

export function setStatus(text) {
  const status = $('status');
  status.textContent = text;
  status.classList.remove('error');
}

// A friendly sentence for the user; the error's own message and stack under "Details".
export function showError(friendly, err) {
  const box = $('error');
  const detail = err ? `${err.message || err}${err.stack ? `\n\n${err.stack}` : ''}` : '';
  box.replaceChildren(
    el('p', {}, friendly),
    detail ? el('details', {}, el('summary', {}, 'Details'), el('pre', {}, detail)) : null,
  );
  box.hidden = false;
  const status = $('status');
  status.textContent = friendly;
  status.classList.add('error');
}

export function clearError() {
  $('error').hidden = true;
  $('error').replaceChildren();
}

// A caption-less table from a header row and body rows (each row: [cells], plus optional dataset).
export function table(headers, rows, { className } = {}) {
  const head = el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col' }, h))));
  const body = el('tbody', {}, ...rows.map(({ cells, dataset }) => el('tr', { dataset }, ...cells.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : el('td', {}, c))))));
  return el('table', { className }, head, body);
}
