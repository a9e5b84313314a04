// TF.js side: pick a backend (webgl, then wasm, then cpu), load a graph model, self-check it
// against its golden.json, and predict inside tf.tidy.
/* global tf */
const BACKENDS = ['webgl', 'wasm', 'cpu'];

export async function initBackend() {
  tf.wasm.setWasmPaths('/vendor/tfjs-backend-wasm/');
  for (const name of BACKENDS) {
    try {
      if (await tf.setBackend(name)) { await tf.ready(); return tf.getBackend(); }
    } catch (err) {
      console.info(`TF.js backend ${name} unavailable: ${err.message}`);
    }
  }
  throw new Error('no TF.js backend could start');
}

function toProbabilities(values) {
  const sum = values.reduce((a, b) => a + b, 0);
  if (values.every((v) => v >= 0) && Math.abs(sum - 1) < 1e-3) return values; // already softmax
  const top = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - top));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / total);
}

export class Classifier {
  constructor(model, labels) { this.model = model; this.labels = labels; }

  static async load(modelUrl, labels) {
    const model = await tf.loadGraphModel(modelUrl);
    const classifier = new Classifier(model, labels);
    classifier.predict(new Float32Array(28 * 28)); // warm-up: compiles kernels once
    return classifier;
  }

  // pixels: Float32Array(784) in [0, 1] → {probabilities, best, ms}
  predict(pixels) {
    const start = performance.now();
    const logits = tf.tidy(() => this.model.predict(tf.tensor(pixels, [1, 28, 28, 1])).dataSync());
    const ms = performance.now() - start;
    const probabilities = toProbabilities(Array.from(logits));
    const best = probabilities.indexOf(Math.max(...probabilities));
    return { probabilities, best, ms };
  }

  // Max |TF.js − JAX| on the export's golden inputs (the same check the Node runner makes).
  selfCheck(golden) {
    const got = tf.tidy(() => this.model.predict(tf.tensor(golden.inputs.flat(Infinity), golden.input_shape)).dataSync());
    const want = golden.outputs.flat(Infinity);
    return want.reduce((worst, v, i) => Math.max(worst, Math.abs(v - got[i])), 0);
  }

  dispose() { this.model.dispose(); }
}
