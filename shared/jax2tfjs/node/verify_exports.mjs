// Runs many exports in one Node process on one backend, for `verify`: starting Node and TF.js
// costs about as much as checking a small export, so one process serves the whole job.
// Usage: node verify_exports.mjs request.json
// request: {backend, node_runtime, warmup, repeats, timing_batches: [1, 32],
//           exports: [{model_dir, runs: [{name, inputs: [{name, path, shape, dtype}], output_dir}],
//                      timed_run}]}
// Inputs and outputs cross as in run_graph_model.mjs: by the export's signature names, raw in their
// dtype. Prints one JSON line: {backend, tfjs_version, exports: [{model_dir, load_ms, runs: {run_name:
// {outputs: [{name, shape, dtype, file}]}}, timings} or {model_dir, error}]}, each output written to
// its run's output_dir/<file>. A broken export is an entry with its error, never the end of the
// process. Before each export it prints "verify: starting N model_dir" on stderr, so when Node itself
// dies (a wasm abort, out of memory) the caller can name the export.
import fs from 'node:fs';
import { disposeFeeds, loadGraphModel, predictToFiles, readFeeds, startTfjs, tf, timePredictions } from './graph_model_io.mjs';

async function runExport(spec, request) {
  const loadStart = performance.now();
  const model = await loadGraphModel(spec.model_dir);
  const result = { model_dir: spec.model_dir, load_ms: performance.now() - loadStart, runs: {}, timings: {} };
  try {
    for (const run of spec.runs) {
      const feeds = readFeeds(model, run.inputs);
      try {
        result.runs[run.name] = { outputs: await predictToFiles(model, feeds, run.output_dir) };
        if (run.name === spec.timed_run) {
          result.timings = await timePredictions(model, feeds, request.timing_batches || [], request.warmup ?? 3, request.repeats ?? 10);
        }
      } finally {
        disposeFeeds(feeds);
      }
    }
  } finally {
    model.dispose();
  }
  return result;
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  await startTfjs(request.node_runtime, request.backend);
  const exports = [];
  for (const [index, spec] of request.exports.entries()) {
    process.stderr.write(`verify: starting ${index} ${spec.model_dir}\n`);
    try {
      exports.push(await runExport(spec, request));
    } catch (err) {
      exports.push({ model_dir: spec.model_dir, error: String(err.message || err).split('\n')[0] });
    }
  }
  process.stdout.write(JSON.stringify({ backend: tf.getBackend(), tfjs_version: tf.version.tfjs, exports }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`tfjs runner failed: ${err.stack || err}\n`);
  process.exit(1);
});
