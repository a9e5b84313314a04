// Runs one TF.js graph model from disk on the cpu or wasm backend of @tensorflow/tfjs 4.22.
// Usage: node run_graph_model.mjs request.json
// request: {model_dir, backend: "cpu"|"wasm", node_runtime, input: {path, shape}, output_path, warmup,
//           repeats, timing_batches: [1, 32], golden_self_check (default true)}
// node_runtime is the folder where `npm ci` ran with this folder's package.json and lock
// (jax2tfjs.tfjs_runtime: $JAX2TFJS_NODE_RUNTIME, else this folder itself).
// Inputs are raw little-endian float32; the output is raw little-endian in its own dtype (float32,
// int32, or bool as one byte each). Prints one JSON line: load and predict times, output shape and
// dtype, and the golden.json self-check when the export has one.
import fs from 'node:fs';
import path from 'node:path';
import { loadGraphModel, predictToFile, readModelInput, startTfjs, tf, timePredictions } from './graph_model_io.mjs';

// golden.json holds JS numbers; a graph model refuses any dtype but its input's own, so cast to it.
function goldenMaxAbsDiff(model, modelDir) {
  const goldenPath = path.join(modelDir, 'golden.json');
  if (!fs.existsSync(goldenPath)) return undefined;
  const golden = JSON.parse(fs.readFileSync(goldenPath, 'utf8'));
  const dtype = model.inputs[0].dtype || 'float32';
  const got = tf.tidy(() => model.predict(tf.tensor(golden.inputs.flat(Infinity), golden.input_shape, dtype)).dataSync());
  const want = golden.outputs.flat(Infinity);
  if (got.length !== want.length) throw new Error(`golden.json has ${want.length} outputs, the model gave ${got.length}`);
  return want.reduce((worst, v, i) => Math.max(worst, Math.abs(v - got[i])), 0);
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  await startTfjs(request.node_runtime, request.backend);

  const loadStart = performance.now();
  const model = await loadGraphModel(request.model_dir);
  const result = { backend: tf.getBackend(), load_ms: performance.now() - loadStart, tfjs_version: tf.version.tfjs };
  // Off when the caller compares golden.json itself (doctor), so golden.json runs once.
  if (request.golden_self_check !== false) {
    const golden = goldenMaxAbsDiff(model, request.model_dir);
    if (golden !== undefined) result.golden_max_abs_diff = golden;
  }

  if (request.input) {
    const input = readModelInput(model, request.input.path, request.input.shape);
    const start = performance.now();
    const output = await predictToFile(model, input, request.output_path);
    result.output_shape = output.shape;
    result.output_dtype = output.dtype;
    result.predict_ms = performance.now() - start;
    // Timed on the first `batch` inputs; with fewer inputs than a batch size, that size is skipped.
    result.timings = timePredictions(model, input, request.timing_batches || [], request.warmup ?? 3, request.repeats ?? 10);
    input.dispose();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tfjs runner failed: ${err.stack || err}\n`);
  process.exit(1);
});
