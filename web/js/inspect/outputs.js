// Running the model on the form's inputs and showing every output: name, shape, dtype, the first
// values and the argmax along the last axis. Each row carries its values for scripts and tests.
import { el, table } from './dom.js';
import { numberText, shapeText } from './format.js';
import { release, runByName } from './runner.js';

const SHOWN = 8;
const KEPT = 100_000; // values written into data-values (larger outputs keep only the shown ones)

function argmaxRows(values, shape) {
  const last = shape.length ? shape[shape.length - 1] : 1;
  if (last < 2) return null;
  const rows = [];
  for (let start = 0; start < values.length && rows.length < 4; start += last) {
    let best = start;
    for (let i = start; i < start + last; i++) if (values[i] > values[best]) best = i;
    rows.push(best - start);
  }
  return rows;
}

// {outputs: [{name, shape, dtype, values}], ms}: the model run on `feed` (tensors by name).
export async function runOutputs(model, feed, names) {
  const start = performance.now();
  const tensors = await runByName(model, feed, names);
  try {
    const outputs = [];
    for (const [i, name] of names.entries()) {
      const t = tensors[i];
      const data = await t.data();
      outputs.push({ name, shape: t.shape, dtype: t.dtype, values: t.dtype === 'bool' ? Array.from(data, Boolean) : Array.from(data) });
    }
    return { outputs, ms: performance.now() - start };
  } finally {
    release(model, tensors);
  }
}

export function renderOutputs(container, outputs, labels) {
  const rows = outputs.map((o) => {
    const argmax = o.dtype === 'float32' ? argmaxRows(o.values, o.shape) : null;
    const labelled = argmax && labels && o.shape[o.shape.length - 1] === labels.length
      ? argmax.map((k) => `${k} (“${labels[k]}”)`) : argmax;
    const first = o.values.slice(0, SHOWN).map(numberText).join(', ') + (o.values.length > SHOWN ? ', …' : '');
    return {
      cells: [o.name, shapeText(o.shape), o.dtype, el('td', { className: 'values' }, first), labelled ? labelled.join('; ') : '–'],
      dataset: {
        name: o.name,
        shape: JSON.stringify(o.shape),
        dtype: o.dtype,
        argmax: argmax ? JSON.stringify(argmax) : '',
        values: JSON.stringify(o.values.length <= KEPT ? o.values : o.values.slice(0, SHOWN)),
      },
    };
  });
  container.replaceChildren(table(['Output', 'Shape', 'Dtype', 'First values', 'Argmax (last axis, per row)'], rows, { className: 'outputs' }));
}
