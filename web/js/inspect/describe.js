// What a model.json says about its export, without TF.js: inputs and outputs, the op histogram,
// the files and their sizes, the format and the weights' quantization.
const TF_DTYPES = { DT_FLOAT: 'float32', DT_INT32: 'int32', DT_BOOL: 'bool', DT_STRING: 'string', DT_HALF: 'float16', DT_INT64: 'int64' };
// Bytes per stored value: a quantized weight is stored in its quantization dtype.
const DTYPE_BYTES = { float32: 4, int32: 4, bool: 1, float16: 2, uint16: 2, uint8: 1, int8: 1, int16: 2, complex64: 8 };

function tfTensor(key, raw) {
  const dims = raw.tensorShape?.dim || [];
  return {
    name: key,
    shape: raw.tensorShape?.unknownRank ? null : dims.map((d) => (Number(d.size ?? -1) < 0 ? null : Number(d.size))),
    dtype: TF_DTYPES[raw.dtype] || raw.dtype || 'unknown',
  };
}

function placeholders(topology) {
  return (topology?.node || []).filter((n) => n.op === 'Placeholder').map((n) => ({
    name: n.name,
    shape: n.attr?.shape?.shape?.unknownRank ? null : (n.attr?.shape?.shape?.dim || []).map((d) => (Number(d.size ?? -1) < 0 ? null : Number(d.size))),
    dtype: TF_DTYPES[n.attr?.dtype?.type] || 'unknown',
  }));
}

// Inputs and outputs: the signature jax2tfjs recorded (the index's, else model.json's metadata; in
// the model's own order, with dim symbols), else tensorflowjs's signature in model.json (keyed by
// name), else the graph's placeholders (inputs only).
export function tensorsOf(modelJson, indexSignature) {
  const ours = indexSignature || modelJson.userDefinedMetadata?.jax2tfjs?.signature;
  if (ours && Array.isArray(ours.inputs) && ours.inputs.length) {
    const norm = (t) => ({ name: t.name, shape: t.shape ?? null, dims: t.dims, dtype: t.dtype, jaxDtype: t.jax_dtype });
    return { inputs: ours.inputs.map(norm), outputs: (ours.outputs || []).map(norm), source: 'the signature jax2tfjs recorded' };
  }
  const signature = modelJson.signature;
  if (signature?.inputs) {
    const side = (part) => Object.entries(part || {}).sort(([a], [b]) => a.localeCompare(b)).map(([key, raw]) => tfTensor(key, raw));
    return { inputs: side(signature.inputs), outputs: side(signature.outputs), source: "model.json's signature" };
  }
  return { inputs: placeholders(modelJson.modelTopology), outputs: [], source: "the graph's placeholders (model.json has no signature)" };
}

// op → {graph, functions}: the main graph's nodes and those of its function library (the bodies of
// while loops and conditionals).
export function opHistogram(modelJson) {
  const counts = new Map();
  const add = (op, where) => {
    const row = counts.get(op) || { op, graph: 0, functions: 0 };
    row[where] += 1;
    counts.set(op, row);
  };
  const topology = modelJson.modelTopology || {};
  for (const node of topology.node || []) add(node.op, 'graph');
  for (const fn of topology.library?.function || []) for (const node of fn.nodeDef || []) add(node.op, 'functions');
  return [...counts.values()].sort((a, b) => (b.graph + b.functions) - (a.graph + a.functions) || a.op.localeCompare(b.op));
}

function weightBytes(weight) {
  const count = (weight.shape || []).reduce((a, b) => a * b, 1);
  const stored = weight.quantization?.dtype || weight.dtype;
  return count * (DTYPE_BYTES[stored] ?? 4);
}

// Files the browser downloads: model.json (its own size) and each shard, whose sizes are the sum of
// the weights packed into its group, split over the group's shards as tensorflowjs writes them
// (every shard full but the last). `shardBytes` ({path: bytes}) overrides with what the server said.
export function filesOf(modelJsonBytes, modelJson, shardBytes = {}) {
  const files = [{ path: 'model.json', bytes: modelJsonBytes }];
  for (const group of modelJson.weightsManifest || []) {
    const total = (group.weights || []).reduce((sum, w) => sum + weightBytes(w), 0);
    const paths = group.paths || [];
    paths.forEach((path) => {
      files.push({ path, bytes: shardBytes[path] ?? (paths.length === 1 ? total : null) });
    });
  }
  return files;
}

// "none" for float32 weights, else the quantization dtype(s) and how many weights each covers.
export function quantizationOf(modelJson) {
  const counts = {};
  let weights = 0;
  for (const group of modelJson.weightsManifest || []) {
    for (const w of group.weights || []) {
      weights += 1;
      const q = w.quantization?.dtype;
      if (q) counts[q] = (counts[q] || 0) + 1;
    }
  }
  const kinds = Object.keys(counts).sort();
  return { name: kinds.join(',') || 'none', counts, weights };
}

export function formatFacts(modelJson) {
  const meta = modelJson.userDefinedMetadata?.jax2tfjs || {};
  const topology = modelJson.modelTopology || {};
  return {
    format: modelJson.format || 'unknown',
    convertedBy: modelJson.convertedBy || 'unknown',
    generatedBy: modelJson.generatedBy || 'unknown',
    producer: topology.versions?.producer,
    functions: (topology.library?.function || []).length,
    jaxModel: meta.model,
    converter: meta.converter,
    labels: Array.isArray(meta.labels) ? meta.labels : null,
  };
}

export function describe(modelJson, indexSignature) {
  return {
    tensors: tensorsOf(modelJson, indexSignature),
    ops: opHistogram(modelJson),
    facts: formatFacts(modelJson),
    quantization: quantizationOf(modelJson),
  };
}
