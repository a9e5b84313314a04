// The model's description on the page: inputs and outputs, files and format, the op histogram.
import { $, el, table } from './dom.js';
import { bytesText, shapeText } from './format.js';

export function renderTensors(tensors) {
  const row = (kind) => (t) => ({
    cells: [kind, t.name, shapeText(t.shape), t.dtype + (t.jaxDtype && t.jaxDtype !== t.dtype ? ` (model: ${t.jaxDtype})` : '')],
    dataset: { kind, name: t.name, shape: JSON.stringify(t.shape), dtype: t.dtype },
  });
  const rows = [...tensors.inputs.map(row('input')), ...tensors.outputs.map(row('output'))];
  $('io').replaceChildren(
    table(['Kind', 'Name', 'Shape', 'Dtype'], rows, { className: 'io' }),
    el('p', { className: 'small' }, `From ${tensors.source}. ? is a dim of any size (the batch, a sequence).`),
  );
}

export function renderOps(ops) {
  const rows = ops.map((o) => ({
    cells: [o.op, String(o.graph), String(o.functions), String(o.graph + o.functions)],
    dataset: { op: o.op, count: String(o.graph + o.functions) },
  }));
  const total = ops.reduce((sum, o) => sum + o.graph + o.functions, 0);
  $('ops').replaceChildren(
    el('p', { className: 'small' }, `${ops.length} kinds of op, ${total} nodes in all (graph and function library).`),
    table(['Op', 'In the graph', 'In functions', 'Total'], rows, { className: 'ops' }),
  );
}

export function renderFacts(files, facts, quantization) {
  const known = files.every((f) => f.bytes !== null);
  const total = files.reduce((sum, f) => sum + (f.bytes || 0), 0);
  const size = $('size');
  size.dataset.bytes = known ? String(total) : '';
  size.textContent = known ? `${bytesText(total)} (${total.toLocaleString('en')} bytes) to download` : 'unknown (a shard could not be measured)';
  const quant = quantization.name === 'none'
    ? `none: float32 weights (${quantization.weights} weights)`
    : `${quantization.name}: ${Object.entries(quantization.counts).map(([q, n]) => `${n} of ${quantization.weights} weights stored as ${q}`).join(', ')}, dequantized to float32 on load`;
  const items = [
    ['Format', `${facts.format} (functions in its library: ${facts.functions})`],
    ['Quantization', quant],
    ['Converted by', facts.convertedBy + (facts.converter ? ` · ${facts.converter}` : '')],
    ['TensorFlow', facts.generatedBy],
  ];
  if (facts.jaxModel) items.push(['Model', facts.jaxModel]);
  if (facts.labels) items.push(['Labels', facts.labels.join(', ')]);
  $('facts').dataset.quantization = quantization.name;
  $('facts').replaceChildren(...items.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  $('files').replaceChildren(table(['File', 'Size'], files.map((f) => ({
    cells: [f.path, f.bytes === null ? 'unknown' : bytesText(f.bytes)],
    dataset: { file: f.path, bytes: f.bytes === null ? '' : String(f.bytes) },
  })), { className: 'files' }));
}
