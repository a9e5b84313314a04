// TF.js side: load a graph model, self-check it against its golden.json, and predict inside
// tf.tidy. Which backend runs it is backend_choice.js's (the digit page) or inspect/backends.js's.
/* global tf */

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
export function goldenFeed(golden, model) {
  if (golden.format === 2) {
    const feed = {};
    for (const x of golden.inputs) feed[x.name] = tf.tensor(x.values, x.shape, x.dtype);
    return { feed, want: golden.outputs.map((o) => ({ name: o.name, values: o.values.map(Number) })) };
  }
  const feed = { [model.inputs[0].name]: tf.tensor(golden.inputs.flat(Infinity), golden.input_shape) };
  return { feed, want: [{ name: model.outputNodes[0], values: golden.outputs.flat(Infinity) }] };
}

// Ops TF.js's synchronous execute()/predict() refuse (tfjs-converter 4.22, model_analysis.js): an
// export of a data-dependent lax.while_loop (or a scan too long to unroll) holds a StatelessWhile
// whose body is in the graph's function library, and runs only with executeAsync().
const ASYNC_OPS = new Set([
  'Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'StatelessIf', 'StatelessWhile', 'If', 'While',
  'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV5', 'Where',
]);

export function needsExecuteAsync(model) {
  const topology = model.artifacts?.modelTopology; // private in TF.js's typings, a plain field at run time
  if (!topology) return false;
  return (topology.library?.function || []).length > 0 || (topology.node || []).some((node) => ASYNC_OPS.has(node.op));
}

export function maxAbsDiff(want, got) {
  return want.reduce((worst, o, k) => {
    const values = got[k].dataSync();
    if (values.length !== o.values.length) throw new Error(`golden.json's ${o.name} has ${o.values.length} values, the model gave ${values.length}`);
    return o.values.reduce((w, v, i) => Math.max(w, Math.abs(v - values[i])), worst);
  }, 0);
}

export class Classifier {
  constructor(model, labels) {
    this.model = model;
    this.labels = labels;
    this.needsAsync = needsExecuteAsync(model);
  }

  // loadOptions go to tf.loadGraphModel (the page passes fetchFunc and onProgress).
  static async load(modelUrl, labels, loadOptions = {}) {
    const model = await tf.loadGraphModel(modelUrl, loadOptions);
    return new Classifier(model, labels);
  }

  // One full run for timing a backend: a blank digit, or for a model the pad cannot feed its
  // golden.json inputs; resolves once the numbers are read back.
  async runOnce(golden) {
    if (this.drawable) return this.predictAsync(new Float32Array(28 * 28));
    if (golden) return this.selfCheck(golden);
    return null;
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

  // pixels: Float32Array(784) in [0, 1] → {probabilities, best, ms}. A graph with control flow cannot
  // run synchronously: use predictAsync (which works for every graph).
  predict(pixels) {
    if (this.needsAsync) throw new Error('this model has control flow (a while loop): call predictAsync');
    const start = performance.now();
    const logits = tf.tidy(() => this.model.predict(tf.tensor(pixels, [1, 28, 28, 1])).dataSync());
    return this.rank(Array.from(logits), performance.now() - start);
  }

  async predictAsync(pixels) {
    if (!this.needsAsync) return this.predict(pixels);
    const start = performance.now();
    const input = tf.tensor(pixels, [1, 28, 28, 1]);
    const output = await this.model.executeAsync(input);
    input.dispose();
    const logits = Array.from(await output.data());
    output.dispose();
    return this.rank(logits, performance.now() - start);
  }

  rank(logits, ms) {
    const probabilities = toProbabilities(logits);
    const best = probabilities.indexOf(Math.max(...probabilities));
    return { probabilities, best, ms };
  }

  // Max |TF.js − JAX| over every output on the export's golden inputs (the Node runner's check): a
  // number, or for a graph with control flow a Promise of one (await works on both).
  selfCheck(golden) {
    if (this.needsAsync) return this.selfCheckAsync(golden);
    return tf.tidy(() => {
      const { feed, want } = goldenFeed(golden, this.model);
      const result = this.model.execute(feed, want.map((o) => o.name));
      return maxAbsDiff(want, Array.isArray(result) ? result : [result]); // one name asked: a bare tensor back
    });
  }

  async selfCheckAsync(golden) {
    const { feed, want } = goldenFeed(golden, this.model);
    const result = await this.model.executeAsync(feed, want.map((o) => o.name));
    const got = Array.isArray(result) ? result : [result];
    const weights = new Set(Object.values(this.model.weights).flat()); // a folded output is a weight: keep it
    try {
      return maxAbsDiff(want, got);
    } finally {
      Object.values(feed).forEach((t) => t.dispose());
      got.filter((t) => !weights.has(t)).forEach((t) => t.dispose());
    }
  }

  dispose() { this.model.dispose(); }
}
