// Running a loaded graph model the way every jax2tfjs runner does: inputs fed and outputs fetched
// by name (TF.js orders them alphabetically, never by the model's position), with executeAsync for
// graphs whose control flow execute() refuses.
/* global tf */
import { needsExecuteAsync } from '../model.js';

// [{name, shape, dtype}] the model takes, by the names execute() accepts (signature keys when the
// model has a signature, else the placeholders' names); shape and dtype are the placeholder's, an
// unknown dim (TF.js writes -1) as null, an unknown rank as a null shape.
export function inputSpecs(model) {
  return model.inputNodes.map((name, i) => {
    const shape = model.inputs[i]?.shape;
    return { name, shape: Array.isArray(shape) ? shape.map((d) => (d < 0 ? null : d)) : null, dtype: model.inputs[i]?.dtype || 'float32' };
  });
}

export function outputNames(model) {
  return model.outputNodes;
}

// The output tensors for `names`, always an array. execute() gives a bare tensor for one name.
export async function runByName(model, feed, names) {
  const result = needsExecuteAsync(model) ? await model.executeAsync(feed, names) : model.execute(feed, names);
  return Array.isArray(result) ? result : [result];
}

// Dispose outputs, except one that is a weight itself (an output folded into a constant).
export function release(model, tensors) {
  const weights = new Set(Object.values(model.weights).flat());
  for (const tensor of tensors) if (!weights.has(tensor)) tensor.dispose();
}

// One timed run: feed, execute, read every output back (data(): what a page waits for).
export async function timedRun(model, feed, names) {
  const start = performance.now();
  const outputs = await runByName(model, feed, names);
  try {
    await Promise.all(outputs.map((t) => t.data()));
  } finally {
    release(model, outputs);
  }
  return performance.now() - start;
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function loadModel(url, onProgress) {
  return tf.loadGraphModel(url, { onProgress });
}

export { withTimeout } from '../timeout.js';
