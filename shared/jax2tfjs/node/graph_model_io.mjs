// What every Node runner of a jax2tfjs export needs: load a graph model from disk, feed it its named
// inputs from raw files, write its named outputs to raw files in their own dtype, and time
// predictions. Imported by run_graph_model.mjs and verify_exports.mjs.
//
// Names. An export's input and output names are the keys of model.json's `signature` (written by the
// tensorflowjs converter from the SavedModel's serving signature: key -> {name: "ids:0", dtype,
// tensorShape}); one-input one-output exports have `input` and `output`. Measured on tfjs 4.22:
// `model.execute(feeds, outputs)` takes signature keys for both (the executor maps them to node
// names, and node names such as "ids:0" or "Identity_1:0" work too); `model.inputs` / `model.outputs`
// carry NODE names ("ids", "Identity_1"; outputs without shape or dtype), and `model.inputNodes` /
// `model.outputNodes` the signature keys. Every list (signature, inputs, outputs, predict's array) is
// in alphabetical order of names, not in the model's argument order: so inputs are fed and outputs
// fetched by name, never by position. execute names neither a missing input the requested outputs do
// not need nor a misspelt one clearly, so checkInputNames says which inputs the export has.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

// Set by startTfjs. TF.js is resolved from the node runtime folder the request names (where `npm ci`
// ran with this folder's lock; jax2tfjs.tfjs_runtime finds it), not from this script's folder, which
// in an installed wheel holds no node_modules.
export let tf;

export async function startTfjs(runtimeDir, backend) {
  if (!runtimeDir) throw new Error('the request names no node_runtime folder');
  const require = createRequire(path.join(runtimeDir, 'package.json'));
  tf = require('@tensorflow/tfjs');
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm');
    // The .wasm binaries sit beside the backend's entry file (dist/).
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} failed to start`);
  await tf.ready();
}

// A file IO handler: model.json plus its weight shards, read from disk (no fetch, no tfjs-node).
function fileHandler(modelDir) {
  return {
    load: async () => {
      const modelJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'model.json'), 'utf8'));
      const weightSpecs = [];
      const buffers = [];
      for (const group of modelJson.weightsManifest) {
        weightSpecs.push(...group.weights);
        for (const shard of group.paths) buffers.push(fs.readFileSync(path.join(modelDir, shard)));
      }
      const joined = Buffer.concat(buffers);
      return {
        modelTopology: modelJson.modelTopology,
        format: modelJson.format,
        generatedBy: modelJson.generatedBy,
        convertedBy: modelJson.convertedBy,
        signature: modelJson.signature,
        userDefinedMetadata: modelJson.userDefinedMetadata,
        weightSpecs,
        weightData: joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength),
      };
    },
  };
}

export function loadGraphModel(modelDir) {
  return tf.loadGraphModel(fileHandler(modelDir));
}

// A node name without its ":0" output index.
const nodeName = (tensorName) => tensorName.replace(/:\d+$/, '');

// The export's inputs: [{name, dtype, shape}], name being the signature key and dtype and shape the
// placeholder's (shape -1 where a dim is dynamic, undefined where TF.js knows none). A model.json
// without a signature (none of ours) falls back to the placeholders' node names.
export function exportInputs(model) {
  const placeholders = Object.fromEntries(model.inputs.map((input) => [input.name, input]));
  const signature = model.modelSignature?.inputs;
  if (!signature) return model.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape }));
  return Object.entries(signature).map(([name, info]) => {
    const placeholder = placeholders[nodeName(info.name)] || {};
    return { name, dtype: placeholder.dtype, shape: placeholder.shape };
  });
}

export function exportOutputNames(model) {
  return model.modelSignature?.outputs ? Object.keys(model.modelSignature.outputs) : model.outputNodes;
}

// A missing or unknown name is an error that lists the export's inputs.
export function checkInputNames(model, names) {
  const wanted = exportInputs(model).map((input) => input.name);
  const missing = wanted.filter((name) => !names.includes(name));
  const unknown = names.filter((name) => !wanted.includes(name));
  const duplicated = names.filter((name, i) => names.indexOf(name) !== i);
  if (!missing.length && !unknown.length && !duplicated.length) return;
  const problems = [
    missing.length && `missing ${missing.join(', ')}`,
    unknown.length && `unknown ${unknown.join(', ')}`,
    duplicated.length && `given twice ${duplicated.join(', ')}`,
  ].filter(Boolean);
  throw new Error(`inputs ${problems.join('; ')}: the export's inputs are ${wanted.join(', ')}`);
}

// The raw little-endian array each dtype crosses as, both ways (TF.js keeps bools as one byte each):
// reading an int32 or bool buffer as float32 would turn class indices into garbage.
const RAW_ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };

function rawArrayKind(dtype, what) {
  const Kind = RAW_ARRAYS[dtype];
  if (!Kind) throw new Error(`${what} is ${dtype}; the runners read and write ${Object.keys(RAW_ARRAYS).join(', ')}`);
  return Kind;
}

// A graph model refuses any dtype but its placeholder's own, so a feed of another dtype is cast.
function castTo(tensor, dtype) {
  if (!dtype || tensor.dtype === dtype) return tensor;
  const cast = tf.cast(tensor, dtype);
  tensor.dispose();
  return cast;
}

// Feeds from JS values: {name: {values (flat, numbers or booleans), shape, dtype}}. Tensors keyed
// by input name, in the export's dtypes; the caller disposes them (disposeFeeds).
export function feedsFromValues(model, named) {
  checkInputNames(model, Object.keys(named));
  const feeds = {};
  for (const input of exportInputs(model)) {
    const { values, shape, dtype } = named[input.name];
    feeds[input.name] = castTo(tf.tensor(values, shape, dtype), input.dtype);
  }
  return feeds;
}

// Feeds from the request's [{name, path, shape, dtype}]: each file is raw little-endian in its dtype.
export function readFeeds(model, specs) {
  checkInputNames(model, specs.map((spec) => spec.name));
  const named = {};
  for (const spec of specs) {
    const Kind = rawArrayKind(spec.dtype, `input ${spec.name}`);
    const bytes = fs.readFileSync(spec.path);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const needed = count * Kind.BYTES_PER_ELEMENT;
    if (bytes.byteLength !== needed) {
      throw new Error(`input ${spec.name}: ${spec.path} holds ${bytes.byteLength} bytes; [${spec.shape}] ${spec.dtype} needs ${needed}`);
    }
    // Copied out: a Buffer's offset in its pool need not suit the typed array's alignment.
    const values = new Kind(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    named[spec.name] = { values, shape: spec.shape, dtype: spec.dtype };
  }
  return feedsFromValues(model, named);
}

export function disposeFeeds(feeds) {
  for (const tensor of Object.values(feeds)) tensor.dispose();
}

// Ops TF.js's synchronous execute() refuses (tfjs-converter 4.22, executor/model_analysis.js: its
// control-flow and dynamic-shape sets): a graph holding one must run with executeAsync().
const ASYNC_OPS = new Set([
  'Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'StatelessIf', 'StatelessWhile', 'If', 'While',
  'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV5', 'Where',
]);

// Whether `model` needs executeAsync(): a jax2tfjs export of a data-dependent while (or a long scan)
// holds a StatelessWhile whose body lives in the graph's function library. Read from the topology
// the model was loaded from (`artifacts`, private in TF.js's typings, a plain field at run time).
export function needsExecuteAsync(model) {
  const topology = model.artifacts?.modelTopology;
  if (!topology) return false;
  const functions = topology.library?.function || [];
  return functions.length > 0 || (topology.node || []).some((node) => ASYNC_OPS.has(node.op));
}

// The caller's own copy of each output: an output grappler folded into a constant (a scan's step
// count) comes back as the model's weight tensor itself, and disposing that would break the next run
// ("Tensor is disposed"). A clone shares the weight's data and disposes on its own.
function ownedOutputs(model, tensors) {
  const weights = new Set(Object.values(model.weights).flat());
  return tensors.map((tensor) => (weights.has(tensor) ? tf.clone(tensor) : tensor));
}

// All of the export's outputs for `feeds`, as [{name, tensor}] in exportOutputNames's order, each the
// caller's to dispose. execute returns one tensor, not an array, when one output is asked for.
export async function runModel(model, feeds) {
  const names = exportOutputNames(model);
  const result = needsExecuteAsync(model) ? await model.executeAsync(feeds, names) : model.execute(feeds, names);
  const tensors = ownedOutputs(model, Array.isArray(result) ? result : [result]);
  return names.map((name, i) => ({ name, tensor: tensors[i] }));
}

// Writes each output raw in its own dtype to outputDir/output-<i>.bin (names may hold any character)
// and returns [{name, shape, dtype, file}].
export async function predictToFiles(model, feeds, outputDir) {
  fs.mkdirSync(outputDir, { recursive: true });
  const outputs = await runModel(model, feeds);
  try {
    const written = [];
    for (const [i, { name, tensor }] of outputs.entries()) {
      const Kind = rawArrayKind(tensor.dtype, `the model's output ${name}`);
      const data = await tensor.data();
      const values = data instanceof Kind ? data : Kind.from(data);
      const file = `output-${i}.bin`;
      fs.writeFileSync(path.join(outputDir, file), Buffer.from(values.buffer, values.byteOffset, values.byteLength));
      written.push({ name, shape: tensor.shape, dtype: tensor.dtype, file });
    }
    return written;
  } finally {
    for (const { tensor } of outputs) tensor.dispose();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Which feeds a batch size slices: with jax2tfjs's signature in the metadata, the inputs whose first
// dim is the batch symbol `b` (a (seq, seq) mask is dynamic at dim 0 but no batch); otherwise those
// of rank >= 1 whose first dim the export declares dynamic (-1, or no shape known). A static first
// dim is not a batch (a static-batch model refuses fewer rows), nor is a rank-0 input (fed whole).
function batchedInputNames(model, feeds) {
  const ours = model.metadata?.jax2tfjs?.signature?.inputs;
  if (Array.isArray(ours)) {
    const batch = new Set(ours.filter((input) => (input.dims || [])[0] === 'b').map((input) => input.name));
    return Object.keys(feeds).filter((name) => feeds[name].rank >= 1 && batch.has(name));
  }
  const declared = Object.fromEntries(exportInputs(model).map((input) => [input.name, input.shape]));
  return Object.keys(feeds).filter((name) => feeds[name].rank >= 1 && !(declared[name]?.[0] >= 0));
}

// One prediction with every output read back. A synchronous graph runs inside tf.tidy; executeAsync
// cannot (tidy refuses async functions), and disposes its own intermediates, so its outputs are
// disposed here.
async function predictOnce(model, feeds) {
  if (!needsExecuteAsync(model)) {
    tf.tidy(() => {
      const names = exportOutputNames(model);
      const result = model.execute(feeds, names);
      (Array.isArray(result) ? result : [result]).forEach((tensor) => tensor.dataSync());
    });
    return;
  }
  const outputs = await runModel(model, feeds);
  for (const { tensor } of outputs) {
    tensor.dataSync();
    tensor.dispose();
  }
}

async function timeFeeds(model, feeds, warmup, repeats) {
  for (let i = 0; i < warmup; i++) await predictOnce(model, feeds);
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await predictOnce(model, feeds);
    times.push(performance.now() - start);
  }
  return median(times);
}

// Median ms of `repeats` predictions (all outputs read back) per batch size, the batched inputs
// sliced to their first `batch` rows and the others fed whole; a batch larger than the rows fed is
// skipped. An export with no batched input (static shapes, scalars only) runs as fed, timed only
// under the batch size equal to its first input's rows (1 for scalars only).
export async function timePredictions(model, feeds, batches, warmup, repeats) {
  const timings = {};
  const batched = batchedInputNames(model, feeds);
  if (!batched.length) {
    const ranked = Object.values(feeds).find((tensor) => tensor.rank >= 1);
    const rows = ranked ? ranked.shape[0] : 1;
    if (batches.includes(rows)) timings[rows] = await timeFeeds(model, feeds, warmup, repeats);
    return timings;
  }
  const rows = Math.min(...batched.map((name) => feeds[name].shape[0]));
  for (const batch of batches) {
    if (batch > rows) continue;
    const sliced = { ...feeds };
    for (const name of batched) sliced[name] = feeds[name].slice(0, batch);
    try {
      timings[batch] = await timeFeeds(model, sliced, warmup, repeats);
    } finally {
      for (const name of batched) sliced[name].dispose();
    }
  }
  return timings;
}
