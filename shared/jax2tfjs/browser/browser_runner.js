// Runs jax2tfjs exports in the browser for jax2tfjs.browser.session: window.jax2tfjsBrowser.
// The Node runners' contract (node/graph_model_io.mjs says why inputs and outputs go by signature
// name, never by position), without Node's file system: model.json, shards and raw input files come
// over HTTP from the session's localhost server, outputs go back as plain numbers.
(() => {
  // Before any backend starts: tf.ready() may fall back to wasm, which looks for its .wasm here.
  tf.wasm.setWasmPaths('/runtime/wasm/');
  const RAW_ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };
  const nodeName = (tensorName) => tensorName.replace(/:\d+$/, '');

  // [{name, dtype}] by signature key, dtype the placeholder's (a graph model refuses any other).
  function exportInputs(model) {
    const placeholders = Object.fromEntries(model.inputs.map((input) => [input.name, input]));
    const signature = model.modelSignature?.inputs;
    if (!signature) return model.inputs.map(({ name, dtype }) => ({ name, dtype }));
    return Object.entries(signature).map(([name, info]) => ({ name, dtype: (placeholders[nodeName(info.name)] || {}).dtype }));
  }

  function exportOutputNames(model) {
    return model.modelSignature?.outputs ? Object.keys(model.modelSignature.outputs) : model.outputNodes;
  }

  async function readFeeds(model, specs) {
    const wanted = exportInputs(model);
    const given = specs.map((spec) => spec.name);
    const missing = wanted.filter((input) => !given.includes(input.name)).map((input) => input.name);
    const unknown = given.filter((name) => !wanted.some((input) => input.name === name));
    if (missing.length || unknown.length) {
      throw new Error(`inputs missing [${missing}] unknown [${unknown}]: the export's inputs are ${wanted.map((i) => i.name).join(', ')}`);
    }
    const feeds = {};
    for (const spec of specs) {
      const response = await fetch(spec.url);
      if (!response.ok) throw new Error(`input ${spec.name}: ${spec.url} answered ${response.status}`);
      const values = new RAW_ARRAYS[spec.dtype](await response.arrayBuffer());
      const tensor = tf.tensor(values, spec.shape, spec.dtype);
      const dtype = wanted.find((input) => input.name === spec.name).dtype;
      feeds[spec.name] = dtype && dtype !== tensor.dtype ? tf.tidy(() => tf.cast(tensor, dtype)) : tensor;
      if (feeds[spec.name] !== tensor) tensor.dispose();
    }
    return feeds;
  }

  // As node/graph_model_io.mjs: ops execute() refuses (a StatelessWhile from a data-dependent loop,
  // its body in the function library) make the graph run with executeAsync().
  const ASYNC_OPS = new Set([
    'Switch', 'Merge', 'Enter', 'Exit', 'NextIteration', 'StatelessIf', 'StatelessWhile', 'If', 'While',
    'NonMaxSuppressionV2', 'NonMaxSuppressionV3', 'NonMaxSuppressionV5', 'Where',
  ]);

  function needsExecuteAsync(model) {
    const topology = model.artifacts?.modelTopology;
    if (!topology) return false;
    return (topology.library?.function || []).length > 0 || (topology.node || []).some((node) => ASYNC_OPS.has(node.op));
  }

  // Every output read back (data(), not dataSync(): on webgl a sync read stalls the GPU pipeline and
  // is not what a page does). execute returns one tensor, not an array, for one output. An output
  // folded into a constant is the model's weight itself: cloned, so disposing it keeps the weight.
  async function predict(model, feeds) {
    const names = exportOutputNames(model);
    const result = needsExecuteAsync(model) ? await model.executeAsync(feeds, names) : model.execute(feeds, names);
    const weights = new Set(Object.values(model.weights).flat());
    const tensors = (Array.isArray(result) ? result : [result]).map((t) => (weights.has(t) ? tf.clone(t) : t));
    try {
      const outputs = [];
      for (const [i, name] of names.entries()) {
        const tensor = tensors[i];
        outputs.push({ name, shape: tensor.shape, dtype: tensor.dtype, values: Array.from(await tensor.data()) });
      }
      return outputs;
    } finally {
      for (const tensor of tensors) tensor.dispose();
    }
  }

  function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  async function timePredict(model, feeds, warmup, repeats) {
    for (let i = 0; i < warmup; i++) await predict(model, feeds); // shader compiles, wasm page-ins
    const times = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      await predict(model, feeds);
      times.push(performance.now() - start);
    }
    return median(times);
  }

  async function runExport(spec, request) {
    const loadStart = performance.now();
    const model = await tf.loadGraphModel(spec.model_url);
    const result = { load_ms: performance.now() - loadStart, runs: {}, predict_ms: null };
    try {
      for (const run of spec.runs) {
        const feeds = await readFeeds(model, run.inputs);
        try {
          result.runs[run.name] = { outputs: await predict(model, feeds) };
          if (run.name === spec.timed_run) result.predict_ms = await timePredict(model, feeds, request.warmup, request.repeats);
        } finally {
          for (const tensor of Object.values(feeds)) tensor.dispose();
        }
      }
    } finally {
      model.dispose();
    }
    return result;
  }

  function withTimeout(promise, ms, what) {
    let timer;
    const late = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    });
    return Promise.race([promise, late]).finally(() => clearTimeout(timer));
  }

  // The webgpu bundle registers its backend (priority above webgl) when it loads, so only the page
  // that runs webgpu loads it.
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement('script');
      script.src = src;
      script.onload = resolve;
      script.onerror = () => reject(new Error(`${src} did not load`));
      document.head.appendChild(script);
    });
  }

  window.jax2tfjsBrowser = {
    // What this browser offers before any backend is chosen. The backend a user's page lands on:
    // the demo page's order (web/js/model.js: webgl, then wasm, then cpu, the first that starts),
    // asked on a page that has not loaded the webgpu bundle, as a user's page has not. WebGPU: an
    // adapter, or why not.
    async probe() {
      const found = { tfjs_version: tf.version.tfjs, user_agent: navigator.userAgent };
      for (const name of ['webgl', 'wasm', 'cpu']) {
        try {
          if (await tf.setBackend(name)) {
            await tf.ready();
            found.default_backend = tf.getBackend();
            break;
          }
        } catch (err) {
          // a backend that throws while starting is one that did not start: try the next
        }
      }
      found.webgl_version = found.default_backend === 'webgl' ? tf.env().getNumber('WEBGL_VERSION') : 0;
      if (!navigator.gpu) {
        found.webgpu = 'not offered: navigator.gpu is missing';
      } else {
        try {
          const adapter = await navigator.gpu.requestAdapter();
          const info = adapter && (adapter.info || {});
          found.webgpu = adapter
            ? `offered: adapter ${[info.vendor, info.architecture].filter(Boolean).join(' ') || '(unnamed)'}`
            : 'not offered: navigator.gpu.requestAdapter() returned no adapter';
        } catch (err) {
          found.webgpu = `not offered: requestAdapter() failed: ${err.message || err}`;
        }
      }
      return found;
    },

    async start(backend) {
      if (backend === 'webgpu' && !tf.findBackend('webgpu')) await loadScript('/runtime/webgpu/tf-backend-webgpu.min.js');
      const ok = await tf.setBackend(backend);
      await tf.ready();
      if (!ok || tf.getBackend() !== backend) throw new Error(`TF.js backend ${backend} failed to start in this browser`);
      return tf.getBackend();
    },

    async run(spec, request) {
      try {
        return await withTimeout(runExport(spec, request), request.timeout_ms, 'the export');
      } catch (err) {
        return { error: String(err.message || err).split('\n')[0] };
      }
    },
  };
})();
