// Runs an ONNX model in onnxruntime-web (wasm backend) under Node, for `make bench`.
// Usage: node run_onnx.mjs request.json
// request: {model_path, input: {path, shape}, output_path, warmup, repeats, timing_batches: [1, 32],
//           threads}
// The one-array form of jax2tfjs.tfjs_runtime.run_node_script's contract (the TF.js runners take
// named inputs instead): raw little-endian float32 in and out, one JSON line on stdout with load and
// predict times (medians, ms) and output_shape.
import fs from 'node:fs';
import * as ort from 'onnxruntime-web';

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function readFloat32(file) {
  const bytes = fs.readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

async function run(session, data, shape) {
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, shape) };
  const out = await session.run(feeds);
  return out[session.outputNames[0]];
}

// Timed on the first `batch` inputs, as the TF.js runner does; a batch larger than the input is skipped.
async function timeRun(session, input, shape, batch, warmup, repeats) {
  const perImage = shape.slice(1).reduce((a, b) => a * b, 1);
  const data = input.subarray(0, batch * perImage);
  shape = [batch, ...shape.slice(1)];
  for (let i = 0; i < warmup; i++) await run(session, data, shape);
  const times = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await run(session, data, shape);
    times.push(performance.now() - start);
  }
  return median(times);
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  // One thread, as TF.js's wasm backend gets in Node by default: the comparison is per core.
  ort.env.wasm.numThreads = request.threads ?? 1;
  const loadStart = performance.now();
  const session = await ort.InferenceSession.create(fs.readFileSync(request.model_path), {
    executionProviders: ['wasm'],
  });
  const result = { backend: 'onnxruntime-web wasm', load_ms: performance.now() - loadStart,
    ort_version: ort.env.versions?.web ?? 'unknown', threads: ort.env.wasm.numThreads };

  const shape = request.input.shape;
  const input = readFloat32(request.input.path);
  const output = await run(session, input, shape);
  fs.writeFileSync(request.output_path, Buffer.from(output.data.buffer, output.data.byteOffset, output.data.byteLength));
  result.output_shape = output.dims;

  result.timings = {};
  for (const batch of request.timing_batches ?? []) {
    if (batch > shape[0]) continue;
    result.timings[batch] = await timeRun(session, input, shape, batch, request.warmup ?? 3, request.repeats ?? 10);
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
