// Runs a TF.js graph model from disk on the cpu or wasm backend of @tensorflow/tfjs 4.22.
// Usage: node run_graph_model.mjs request.json
// request: {model_dir, backend: "cpu"|"wasm", input: {path, shape}, output_path, warmup, repeats,
//           timing_batches: [1, 32]}
// Inputs and outputs are raw little-endian float32. Prints one JSON line: load and predict times,
// output shape, and the golden.json self-check when the export has one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';

const here = path.dirname(fileURLToPath(import.meta.url));

function readFloat32(file, shape) {
  const bytes = fs.readFileSync(file);
  const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return tf.tensor(values.slice(), shape, 'float32');
}

// Inputs arrive as float32 (raw file) or JS numbers (golden.json); a graph model refuses any dtype
// but its input's own (an int32 token model would throw), so cast to it. int32 values up to 2**24
// survive float32 exactly.
function asModelInput(model, values, shape) {
  const dtype = model.inputs[0].dtype || 'float32';
  return tf.tensor(values, shape, dtype);
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

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timePredict(model, input, warmup, repeats) {
  for (let i = 0; i < warmup; i++) tf.tidy(() => model.predict(input)).dataSync();
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    tf.tidy(() => model.predict(input).dataSync());
    times.push(performance.now() - start);
  }
  return median(times);
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  if (request.backend === 'wasm') {
    setWasmPaths(path.join(here, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
  }
  if (!(await tf.setBackend(request.backend))) throw new Error(`backend ${request.backend} failed to start`);
  await tf.ready();

  const loadStart = performance.now();
  const model = await tf.loadGraphModel(fileHandler(request.model_dir));
  const loadMs = performance.now() - loadStart;
  const result = { backend: tf.getBackend(), load_ms: loadMs, tfjs_version: tf.version.tfjs };

  const goldenPath = path.join(request.model_dir, 'golden.json');
  if (fs.existsSync(goldenPath)) {
    const golden = JSON.parse(fs.readFileSync(goldenPath, 'utf8'));
    const got = tf.tidy(() => model.predict(asModelInput(model, golden.inputs.flat(Infinity), golden.input_shape)).dataSync());
    const want = golden.outputs.flat(Infinity);
    if (got.length !== want.length) throw new Error(`golden.json has ${want.length} outputs, the model gave ${got.length}`);
    result.golden_max_abs_diff = want.reduce((worst, v, i) => Math.max(worst, Math.abs(v - got[i])), 0);
  }

  if (request.input) {
    const raw = readFloat32(request.input.path, request.input.shape);
    const dtype = model.inputs[0].dtype || 'float32';
    const input = raw.dtype === dtype ? raw : tf.cast(raw, dtype);
    if (input !== raw) raw.dispose();
    const start = performance.now();
    const output = tf.tidy(() => model.predict(input));
    const data = await output.data();
    result.predict_ms = performance.now() - start;
    result.output_shape = output.shape;
    fs.writeFileSync(request.output_path, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    output.dispose();
    result.timings = {};
    // Timed on the first `batch` inputs; with fewer inputs than a batch size, that size is skipped.
    for (const batch of request.timing_batches || []) {
      if (batch > input.shape[0]) continue;
      const slice = tf.tidy(() => input.slice(0, batch));
      result.timings[batch] = await timePredict(model, slice, request.warmup ?? 3, request.repeats ?? 10);
      slice.dispose();
    }
    input.dispose();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tfjs runner failed: ${err.stack || err}\n`);
  process.exit(1);
});
