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

// golden.json as {feed, want}: format 2 lists named inputs and outputs (flat values, their dtype);
// format 1 holds one input and one output. TF.js orders a model's inputs and outputs by name, so
// they are fed and fetched by name (signature keys), never by position.
function goldenFeed(golden, model) {
  if (golden.format === 2) {
    const feed = {};
    for (const x of golden.inputs) feed[x.name] = tf.tensor(x.values, x.shape, x.dtype);
    return { feed, want: golden.outputs.map((o) => ({ name: o.name, values: o.values.map(Number) })) };
  }
  const feed = { [model.inputs[0].name]: tf.tensor(golden.inputs.flat(Infinity), golden.input_shape) };
  return { feed, want: [{ name: model.outputNodes[0], values: golden.outputs.flat(Infinity) }] };
}

export class Classifier {
  constructor(model, labels) { this.model = model; this.labels = labels; }

  static async load(modelUrl, labels) {
    const model = await tf.loadGraphModel(modelUrl);
    const classifier = new Classifier(model, labels);
    if (classifier.drawable) classifier.predict(new Float32Array(28 * 28)); // warm-up: compiles kernels once
    return classifier;
  }

  // The pad draws one 28×28 grey image: only a one-input, one-output model of that input can take it.
  get drawable() {
    const inputs = this.model.inputs;
    return inputs.length === 1 && this.model.outputNodes.length === 1
      && (inputs[0].shape || []).slice(1).join(',') === '28,28,1';
  }

  describeInputs() {
    return this.model.inputs.map((x) => `${x.name} [${(x.shape || []).map((d) => (d < 0 ? '?' : d)).join(', ')}] ${x.dtype}`).join(', ');
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

  // Max |TF.js − JAX| over every output on the export's golden inputs (the Node runner's check).
  selfCheck(golden) {
    return tf.tidy(() => {
      const { feed, want } = goldenFeed(golden, this.model);
      const result = this.model.execute(feed, want.map((o) => o.name));
      const got = Array.isArray(result) ? result : [result]; // one name asked: a bare tensor back
      return want.reduce((worst, o, k) => {
        const values = got[k].dataSync();
        if (values.length !== o.values.length) throw new Error(`golden.json's ${o.name} has ${o.values.length} values, the model gave ${values.length}`);
        return o.values.reduce((w, v, i) => Math.max(w, Math.abs(v - values[i])), worst);
      }, 0);
    });
  }

  dispose() { this.model.dispose(); }
}
