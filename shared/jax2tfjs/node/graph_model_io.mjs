// What every Node runner of a jax2tfjs export needs: load a graph model from disk, feed it raw
// float32 inputs in its own dtype, return outputs in theirs, and time predictions. Imported by run_graph_model.mjs and
// verify_exports.mjs.
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

// Inputs cross as raw little-endian float32; a graph model refuses any dtype but its input's own
// (an int32 token model would throw), so cast to it. int32 values up to 2**24 survive float32.
export function readModelInput(model, file, shape) {
  const bytes = fs.readFileSync(file);
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
  return tf.tensor(values, shape, model.inputs[0].dtype || 'float32');
}

// Each output dtype crosses as its own raw little-endian array (TF.js keeps bools as bytes): reading
// an int32 or bool buffer as float32 would turn class indices into garbage.
const OUTPUT_ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };

// Writes the outputs in their own dtype and returns {shape, dtype}.
export async function predictToFile(model, input, file) {
  const output = tf.tidy(() => model.predict(input));
  try {
    const Kind = OUTPUT_ARRAYS[output.dtype];
    if (!Kind) throw new Error(`the model's output is ${output.dtype}; the runner returns float32, int32 or bool`);
    const data = await output.data();
    const values = data instanceof Kind ? data : Kind.from(data);
    fs.writeFileSync(file, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
    return { shape: output.shape, dtype: output.dtype };
  } finally {
    output.dispose();
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// Median ms of `repeats` predictions on the first `batch` rows of `input`, per batch size; a batch
// larger than the input is skipped.
export function timePredictions(model, input, batches, warmup, repeats) {
  const timings = {};
  for (const batch of batches) {
    if (batch > input.shape[0]) continue;
    const slice = tf.tidy(() => input.slice(0, batch));
    for (let i = 0; i < warmup; i++) tf.tidy(() => model.predict(slice).dataSync());
    const times = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      tf.tidy(() => model.predict(slice).dataSync());
      times.push(performance.now() - start);
    }
    timings[batch] = median(times);
    slice.dispose();
  }
  return timings;
}
