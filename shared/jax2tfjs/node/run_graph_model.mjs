// Runs one TF.js graph model from disk on the cpu or wasm backend of @tensorflow/tfjs 4.22.
// Usage: node run_graph_model.mjs request.json
// request: {model_dir, backend: "cpu"|"wasm", node_runtime, warmup, repeats, timing_batches: [1, 32],
//           golden_self_check (default true), inputs: [{name, path, shape, dtype}], output_dir}
// node_runtime is the folder where `npm ci` ran with this folder's package.json and lock
// (jax2tfjs.tfjs_runtime: $JAX2TFJS_NODE_RUNTIME, else this folder itself).
// Inputs are named by the export's signature keys (graph_model_io.mjs says why names, not
// positions); every input must be given, each file raw little-endian in its dtype (float32, int32,
// or bool as one byte each), cast to the export's own dtype when it differs. Without `inputs` the
// model is only loaded (and self-checked). Prints one JSON line: {backend, load_ms, tfjs_version,
// predict_ms, timings, outputs: [{name, shape, dtype, file}], golden_max_abs_diff,
// golden_worst_output}; each output is written raw in its own dtype to output_dir/<file>.
import fs from 'node:fs';
import path from 'node:path';
import {
  disposeFeeds,
  exportInputs,
  exportOutputNames,
  feedsFromValues,
  loadGraphModel,
  predictToFiles,
  readFeeds,
  runModel,
  startTfjs,
  tf,
  timePredictions,
} from './graph_model_io.mjs';

// golden.json as {inputs: {name: {values, shape, dtype}}, outputs: {name: {values, shape}}}.
// v1 (exports converted before named signatures): {input_shape, inputs, outputs} as nested lists,
// for an export with one input and one output. v2: {format: 2, inputs: [{name, dtype, shape,
// values}], outputs: [...]}, values flat (bools as true/false).
function readGolden(model, golden) {
  if (golden.format === 2) {
    const byName = (entries) => Object.fromEntries(entries.map((entry) => [entry.name, entry]));
    return { inputs: byName(golden.inputs), outputs: byName(golden.outputs) };
  }
  const [input, ...moreInputs] = exportInputs(model);
  const [output, ...moreOutputs] = exportOutputNames(model);
  if (moreInputs.length || moreOutputs.length) {
    throw new Error(
      'golden.json is in the one-input one-output format (v1), the export has more: re-run `make convert`',
    );
  }
  return {
    inputs: {
      [input.name]: { values: golden.inputs.flat(Infinity), shape: golden.input_shape, dtype: input.dtype || 'float32' },
    },
    outputs: { [output]: { values: golden.outputs.flat(Infinity) } },
  };
}

// The worst max |got - want| over the outputs, and the output it came from.
async function goldenCheck(model, modelDir) {
  const goldenPath = path.join(modelDir, 'golden.json');
  if (!fs.existsSync(goldenPath)) return undefined;
  const golden = readGolden(model, JSON.parse(fs.readFileSync(goldenPath, 'utf8')));
  const names = exportOutputNames(model);
  const listed = Object.keys(golden.outputs);
  if (listed.length !== names.length || !names.every((name) => listed.includes(name))) {
    throw new Error(`golden.json has outputs ${listed.join(', ')}; the export has ${names.join(', ')}`);
  }
  const feeds = feedsFromValues(model, golden.inputs);
  const outputs = await runModel(model, feeds);
  disposeFeeds(feeds);
  let worst = { diff: 0, name: names[0] };
  try {
    for (const { name, tensor } of outputs) {
      const want = golden.outputs[name];
      if (want.shape && !tf.util.arraysEqual(want.shape, tensor.shape)) {
        throw new Error(`golden.json's output ${name} has shape [${want.shape}], the model gave [${tensor.shape}]`);
      }
      const got = tensor.dataSync();
      if (got.length !== want.values.length) {
        throw new Error(`golden.json's output ${name} has ${want.values.length} values, the model gave ${got.length}`);
      }
      // Number(): bools are true/false in golden.json, 0/1 bytes in TF.js. NaN stays NaN (a failed check).
      const diff = want.values.reduce((most, v, i) => Math.max(most, Math.abs(Number(v) - got[i])), 0);
      if (!Number.isNaN(worst.diff) && !(diff <= worst.diff)) worst = { diff, name };
    }
  } finally {
    for (const { tensor } of outputs) tensor.dispose();
  }
  return worst;
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  await startTfjs(request.node_runtime, request.backend);

  const loadStart = performance.now();
  const model = await loadGraphModel(request.model_dir);
  const result = { backend: tf.getBackend(), load_ms: performance.now() - loadStart, tfjs_version: tf.version.tfjs };
  // Off when the caller compares golden.json itself (doctor), so golden.json runs once.
  if (request.golden_self_check !== false) {
    const golden = await goldenCheck(model, request.model_dir);
    if (golden !== undefined) {
      result.golden_max_abs_diff = golden.diff;
      result.golden_worst_output = golden.name;
    }
  }

  if (request.inputs) {
    const feeds = readFeeds(model, request.inputs);
    try {
      const start = performance.now();
      result.outputs = await predictToFiles(model, feeds, request.output_dir);
      result.predict_ms = performance.now() - start;
      result.timings = await timePredictions(model, feeds, request.timing_batches || [], request.warmup ?? 3, request.repeats ?? 10);
    } finally {
      disposeFeeds(feeds);
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tfjs runner failed: ${err.stack || err}\n`);
  process.exit(1);
});
