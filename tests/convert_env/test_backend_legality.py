"""The backend legality pass (export/legality.py) and its table (export/backend_limits.py).

The table is checked against the real backends: every claim becomes a one-op graph model, written
here by hand as model.json + weights, run in TF.js 4.22 on Node's cpu and wasm backends (all models
of a backend in one Node process) and on webgl in headless Chromium (one page for all), and each
backend must run it (with the right values), fail with the message the table expects, or give the
wrong values the table records. About 75 s, most of it Chromium's software WebGL.

Then the pass: a Dense→tanh model converted end to end, grappler-style fused graphs the pass
rewrites and wasm then runs, and graphs it must refuse with BackendError (J2T314).
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import shutil
import tempfile
import threading
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.browser import chromium
from jax2tfjs.errors import BackendError
from jax2tfjs.export import legality
from jax2tfjs.export.backend_limits import FUSED_OPS, LIMITS
from jax2tfjs.tfjs_runtime import node_runtime_dir
from jax2tfjs.verify.tfjs_batch import ExportOutcome, ExportRuns, run_exports

RNG = np.random.default_rng(0)
NODE_BACKENDS = ("cpu", "wasm")
# The table's backends measured here: Node's cpu and wasm, and webgl in headless Chromium.
MEASURED = (*NODE_BACKENDS, "webgl")
CHROMIUM = str(chromium.DEFAULT_CHROMIUM)
# The browser checks' own flags: software WebGL2 (SwiftShader), no network.
CHROMIUM_FLAGS = list(chromium.FLAGS)
_DTYPES = {"float32": "DT_FLOAT", "int32": "DT_INT32", "bool": "DT_BOOL"}
# Every activation a fused op may carry that the claims probe: what TF.js fuses, and what grappler's
# oneDNN remapper also fuses (Tanh, GeluExact).
PROBED_ACTIVATIONS = ("Relu", "Relu6", "Elu", "LeakyRelu", "Sigmoid", "Prelu", "Tanh", "GeluExact")
# Graph ops some backend lacks a kernel for (each has a graph below): the table's claims and more.
PROBED_OPS = ("Einsum", "Complex", "ComplexAbs", "Real", "Imag", "FFT", "IFFT", "RFFT", "IRFFT")
# (op, dtype) pairs our lowering can emit, probed whether or not the table limits them: int32
# reductions, cumsum and integer division run on every Node backend (measured), the rest do not.
PROBED_DTYPES = (
    ("Sum", "DT_INT32"),
    ("Max", "DT_INT32"),
    ("Min", "DT_INT32"),
    ("Prod", "DT_INT32"),
    ("ArgMax", "DT_INT32"),
    ("Cumsum", "DT_INT32"),
    ("FloorDiv", "DT_INT32"),
    ("FloorMod", "DT_INT32"),
    ("MatMul", "DT_INT32"),
    ("BatchMatMulV2", "DT_INT32"),
    ("BatchMatMul", "DT_INT32"),
    ("MaxPool", "DT_INT32"),
    ("Cast", "DT_BOOL"),
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _shape(dims) -> dict:
    return {"dim": [{"size": str(d)} for d in dims]}


def _const(name: str, value: np.ndarray) -> dict:
    dtype = _DTYPES[value.dtype.name]
    return {
        "name": name,
        "op": "Const",
        "attr": {
            "dtype": {"type": dtype},
            "value": {"tensor": {"dtype": dtype, "tensorShape": _shape(value.shape)}},
        },
    }


def write_graph_model(
    folder: Path,
    nodes: list[dict],
    inputs: dict[str, np.ndarray],
    consts: dict[str, np.ndarray],
    output: str,
    output_dtype: str = "float32",
) -> Path:
    """A TF.js graph model as the tensorflowjs converter lays it out: placeholders named after the
    inputs, one Const node per weight (values in one shard, in manifest order), `output` its node."""
    folder.mkdir(parents=True)
    placeholders = [
        {
            "name": name,
            "op": "Placeholder",
            "attr": {"dtype": {"type": _DTYPES[x.dtype.name]}, "shape": {"shape": _shape(x.shape)}},
        }
        for name, x in inputs.items()
    ]
    content = {
        "format": "graph-model",
        "generatedBy": "2.19.0",
        "convertedBy": "TensorFlow.js Converter v4.22.0",
        "modelTopology": {
            "node": [*(_const(n, v) for n, v in consts.items()), *placeholders, *nodes],
            "library": {},
            "versions": {"producer": 1994},
        },
        "signature": {
            "inputs": {
                name: {"name": f"{name}:0", "dtype": _DTYPES[x.dtype.name], "tensorShape": _shape(x.shape)}
                for name, x in inputs.items()
            },
            "outputs": {"output": {"name": f"{output}:0", "dtype": _DTYPES[output_dtype]}},
        },
        "weightsManifest": [
            {
                "paths": ["group1-shard1of1.bin"],
                "weights": [
                    {"name": n, "shape": list(v.shape), "dtype": v.dtype.name} for n, v in consts.items()
                ],
            }
        ],
    }
    (folder / "model.json").write_text(json.dumps(content, sort_keys=True))
    (folder / "group1-shard1of1.bin").write_bytes(b"".join(v.tobytes() for v in consts.values()))
    return folder


def _fused_attrs(op: str, fused_ops: list[str], num_args: int) -> dict:
    attr = {
        "T": {"type": "DT_FLOAT"},
        "fused_ops": {"list": {"s": [_b64(name) for name in fused_ops]}},
        "num_args": {"i": str(num_args)},
        "epsilon": {"f": 0.0},
        "leakyrelu_alpha": {"f": 0.2},
    }
    if op == "_FusedMatMul":
        attr.update(transpose_a={"b": False}, transpose_b={"b": False})
    else:
        attr.update(
            strides={"list": {"i": ["1", "1", "1", "1"]}},
            padding={"s": _b64("SAME")},
            data_format={"s": _b64("NHWC")},
            dilations={"list": {"i": ["1", "1", "1", "1"]}},
        )
    if op == "_FusedConv2D":
        attr["explicit_paddings"] = {"list": {}}
    return attr


def fused_model(folder: Path, op: str, activation: str | None, bias_rank: int = 1) -> tuple[Path, dict]:
    """One fused contraction + bias (+ activation), named `out`; returns the folder and its inputs."""
    if op == "_FusedMatMul":
        x, w, channels = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4)), 4
    elif op == "_FusedConv2D":
        x, w, channels = RNG.standard_normal((1, 4, 4, 2)), RNG.standard_normal((2, 2, 2, 3)), 3
    else:
        x, w, channels = RNG.standard_normal((1, 4, 4, 2)), RNG.standard_normal((2, 2, 2, 1)), 2
    bias = RNG.standard_normal((1,) * (bias_rank - 1) + (channels,)).astype(np.float32)
    consts = {"w": w.astype(np.float32), "b": bias}
    fused = ["BiasAdd"] + ([activation] if activation else [])
    inputs = ["x", "w", "b"]
    if activation == "Prelu":
        consts["alpha"] = np.full(channels, 0.1, np.float32)
        inputs.append("alpha")
    node = {"name": "out", "op": op, "input": inputs, "attr": _fused_attrs(op, fused, len(inputs) - 2)}
    feeds = {"x": x.astype(np.float32)}
    return write_graph_model(folder, [node], feeds, consts, "out"), feeds


def _node(name: str, op: str, inputs: list[str], **attr) -> dict:
    return {"name": name, "op": op, "input": inputs, "attr": attr}


def _f32(dtype: str = "DT_FLOAT") -> dict:
    return {"type": dtype}


def missing_op_model(folder: Path, op: str) -> tuple[Path, dict]:
    """A graph whose output needs `op` (complex ops start from Complex(x, x) and end in a real op)."""
    x = RNG.standard_normal((2, 4)).astype(np.float32)
    complex_x = _node("complex", "Complex", ["x", "x"], T=_f32(), Tout=_f32("DT_COMPLEX64"))
    c64 = _f32("DT_COMPLEX64")
    fft_length = {"fft_length": np.array([4], np.int32)}
    graphs = {
        "Einsum": (
            [_node("out", "Einsum", ["x", "y"], equation={"s": _b64("ij,jk->ik")}, N={"i": "2"}, T=_f32())],
            {"y": np.ones((4, 3), np.float32)},
        ),
        "Complex": ([complex_x, _node("out", "Real", ["complex"], T=c64, Tout=_f32())], {}),
        "ComplexAbs": ([complex_x, _node("out", "ComplexAbs", ["complex"], T=c64, Tout=_f32())], {}),
        "Real": ([complex_x, _node("out", "Real", ["complex"], T=c64, Tout=_f32())], {}),
        "Imag": ([complex_x, _node("out", "Imag", ["complex"], T=c64, Tout=_f32())], {}),
        "FFT": (
            [
                complex_x,
                _node("fft", "FFT", ["complex"], Tcomplex=c64),
                _node("out", "Real", ["fft"], T=c64, Tout=_f32()),
            ],
            {},
        ),
        "IFFT": (
            [
                complex_x,
                _node("fft", "IFFT", ["complex"], Tcomplex=c64),
                _node("out", "Real", ["fft"], T=c64, Tout=_f32()),
            ],
            {},
        ),
        "RFFT": (
            [
                _node("fft", "RFFT", ["x", "fft_length"], Treal=_f32(), Tcomplex=c64),
                _node("out", "ComplexAbs", ["fft"], T=c64, Tout=_f32()),
            ],
            fft_length,
        ),
        "IRFFT": (
            [complex_x, _node("out", "IRFFT", ["complex", "fft_length"], Treal=_f32(), Tcomplex=c64)],
            fft_length,
        ),
    }
    nodes, consts = graphs[op]
    return write_graph_model(folder, nodes, {"x": x}, consts, "out"), {"x": x}


def dtype_limit_model(folder: Path, op: str, dtype: str) -> tuple[Path, dict, np.ndarray]:
    """A graph running `op` on int32 (or, for Cast, casting int32 to bool); returns the truth too."""
    if op == "Cast":
        x = np.array([[0, 1, -7, 256, 512, 3]], np.int32)
        nodes = [
            _node("bool", "Cast", ["x"], SrcT=_f32("DT_INT32"), DstT=_f32(dtype), Truncate={"b": False}),
            _node(
                "out", "Cast", ["bool"], SrcT=_f32("DT_BOOL"), DstT=_f32("DT_INT32"), Truncate={"b": False}
            ),
        ]
        return (
            write_graph_model(folder, nodes, {"x": x}, {}, "out", "int32"),
            {"x": x},
            (x != 0).astype(np.int32),
        )
    if op == "MaxPool":
        x = np.arange(-8, 8, dtype=np.int32).reshape(1, 4, 4, 1)
        node = _node(
            "out",
            "MaxPool",
            ["x"],
            T=_f32(dtype),
            ksize={"list": {"i": ["1", "2", "2", "1"]}},
            strides={"list": {"i": ["1", "2", "2", "1"]}},
            padding={"s": _b64("VALID")},
            data_format={"s": _b64("NHWC")},
        )
        truth = x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(1, 2, 2, 4).max(-1)[..., None]
        return write_graph_model(folder, [node], {"x": x}, {}, "out", "int32"), {"x": x}, truth
    x = np.array([[3, -7, 5], [2, 9, -4]], np.int32)
    y = np.array([[2, 3, -2], [-3, 4, 3]], np.int32)
    axis = {"axis": np.array([1], np.int32)}
    int32 = _f32(dtype)
    reductions = {"Sum": np.sum, "Max": np.max, "Min": np.min, "Prod": np.prod}
    if op in reductions:
        node = _node("out", op, ["x", "axis"], T=int32, Tidx=_f32("DT_INT32"), keep_dims={"b": False})
        truth = reductions[op](x, axis=1)
    elif op == "ArgMax":
        node = _node("out", op, ["x", "axis"], T=int32, Tidx=_f32("DT_INT32"), output_type=_f32("DT_INT32"))
        truth = x.argmax(axis=1)
    elif op == "Cumsum":
        node = _node(
            "out",
            op,
            ["x", "axis"],
            T=int32,
            Tidx=_f32("DT_INT32"),
            exclusive={"b": False},
            reverse={"b": False},
        )
        truth = x.cumsum(axis=1)
    elif op in ("FloorDiv", "FloorMod"):
        node = _node("out", op, ["x", "y"], T=int32)
        truth = x // y if op == "FloorDiv" else x % y
    if op in ("FloorDiv", "FloorMod"):
        return write_graph_model(folder, [node], {"x": x}, {"y": y}, "out", "int32"), {"x": x}, truth
    if op not in ("MatMul", "BatchMatMul", "BatchMatMulV2"):
        return write_graph_model(folder, [node], {"x": x}, axis, "out", "int32"), {"x": x}, truth
    x = np.arange(6, dtype=np.int32).reshape(1, 2, 3) - 2
    y = np.arange(6, dtype=np.int32).reshape(1, 3, 2)
    if op == "MatMul":
        x, y = x[0], y[0]
    attrs = {"T": _f32(dtype), "transpose_a": {"b": False}, "transpose_b": {"b": False}}
    if op != "MatMul":
        attrs = {"T": _f32(dtype), "adj_x": {"b": False}, "adj_y": {"b": False}}
    node = _node("out", op, ["x", "y"], **attrs)
    return write_graph_model(folder, [node], {"x": x}, {"y": y}, "out", "int32"), {"x": x}, x @ y


def _claims(root: Path) -> list[tuple[str, Path, dict, dict]]:
    """(claim id, model folder, inputs, what each Node backend must do: "runs", a message it must fail
    with, or "wrong" values), every one derived from the table."""
    claims = []
    for op in FUSED_OPS:
        for activation in PROBED_ACTIVATIONS:
            folder, feeds = fused_model(root / f"{op}-{activation}", op, activation)
            name = activation.lower()  # TF.js's spelling; cpu and wasm word the refusal differently
            refused = (f"Activation {name} has not been implemented", f"{name} activation not yet supported")
            want = {b: "runs" if activation in LIMITS[b].fused_activations else refused for b in MEASURED}
            claims.append((f"{op}[BiasAdd,{activation}]", folder, feeds, want))
        rank = 2 if op == "_FusedMatMul" else 4
        folder, feeds = fused_model(root / f"{op}-bias{rank}", op, "Relu", bias_rank=rank)
        want = {b: ("only supports rank-1 bias",) if op in LIMITS[b].rank1_bias else "runs" for b in MEASURED}
        claims.append((f"{op} rank-{rank} bias", folder, feeds, want))
    for op in PROBED_OPS:
        folder, feeds = missing_op_model(root / f"missing-{op}", op)
        want = {}
        for b in MEASURED:
            kernel = LIMITS[b].missing_ops.get(op)
            # A complex op's input comes from Complex(x, x): where Complex is missing too, it fails first.
            firsts = {kernel, "Complex"} if op != "Einsum" and op != "RFFT" else {kernel}
            want[b] = (
                tuple(f"Kernel '{k}' not registered for backend '{b}'" for k in firsts) if kernel else "runs"
            )
        claims.append((f"op {op}", folder, feeds, want))
    for op, dtype in PROBED_DTYPES:
        folder, feeds, truth = dtype_limit_model(root / f"dtype-{op}-{dtype}", op, dtype)
        want = {}
        for b in MEASURED:
            mine = [lim for lim in LIMITS[b].dtype_limits if op in lim.ops and lim.dtype == dtype]
            want[b] = ("wrong" if mine[0].effect == "wrong" else (mine[0].message,)) if mine else "runs"
        claims.append((f"{op} on {dtype}", folder, feeds, {**want, "truth": truth}))
    return claims


def _in_chromium_webgl(root: Path, claims: list) -> list[ExportOutcome]:
    """Every claim's model run on TF.js's webgl backend in headless Chromium, served from `root`
    (the same tf.min.js 4.22 as Node's), one page for all."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run installs it)")
    shutil.copy(node_runtime_dir() / "node_modules/@tensorflow/tfjs/dist/tf.min.js", root / "tf.min.js")
    (root / "index.html").write_text('<!doctype html><script src="tf.min.js"></script>')
    handler = functools.partial(_QuietHandler, directory=str(root))
    cases = [
        {
            "url": f"{folder.name}/model.json",
            "inputs": {
                k: {"values": v.ravel().tolist(), "shape": list(v.shape), "dtype": v.dtype.name}
                for k, v in feeds.items()
            },
        }
        for _, folder, feeds, _ in claims
    ]
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
            )
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
            found = page.evaluate(_WEBGL_RUN, cases)
            context.close()
        server.shutdown()
    assert found["backend"] == "webgl", found["backend"]
    outcomes = []
    for (_, folder, _, _), got in zip(claims, found["outcomes"], strict=True):
        if "error" in got:
            outcomes.append(ExportOutcome(folder, error=got["error"]))
        else:
            values = np.asarray(got["values"], got["dtype"]).reshape(got["shape"])
            outcomes.append(ExportOutcome(folder, {"run": {"output": values}}))
    return outcomes


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


_WEBGL_RUN = """async (cases) => {
  await tf.setBackend('webgl');
  await tf.ready();
  const outcomes = [];
  for (const c of cases) {
    try {
      const model = await tf.loadGraphModel(c.url);
      const feeds = {};
      for (const [name, v] of Object.entries(c.inputs)) feeds[name] = tf.tensor(v.values, v.shape, v.dtype);
      const y = model.execute(feeds, 'output');
      outcomes.push({values: Array.from(await y.data()), shape: y.shape, dtype: y.dtype});
    } catch (err) {
      outcomes.push({error: String(err.message || err).split(String.fromCharCode(10))[0]});
    }
  }
  return {backend: tf.getBackend(), outcomes};
}"""


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Every claim run on cpu and wasm (Node) and webgl (Chromium): claim id → (what the table
    wants, backend → outcome)."""
    root = tmp_path_factory.mktemp("claims")
    claims = _claims(root)
    runs = [ExportRuns(folder, {"run": feeds}) for _, folder, feeds, _ in claims]
    outcomes = {b: run_exports(runs, b, timing_batches=(), warmup=0, repeats=0) for b in NODE_BACKENDS}
    outcomes["webgl"] = _in_chromium_webgl(root, claims)
    return {cid: (want, {b: outcomes[b][i] for b in MEASURED}) for i, (cid, _, _, want) in enumerate(claims)}


def _claim_ids() -> list[str]:
    ids = [f"{op}[BiasAdd,{a}]" for op in FUSED_OPS for a in PROBED_ACTIVATIONS]
    ids += [f"{op} rank-{2 if op == '_FusedMatMul' else 4} bias" for op in FUSED_OPS]
    ids += [f"op {op}" for op in PROBED_OPS]
    ids += [f"{op} on {dtype}" for op, dtype in PROBED_DTYPES]
    return ids


def test_every_limit_in_the_table_is_probed():
    """A table entry no graph above exercises would be a claim nothing checks."""
    for limits in LIMITS.values():
        assert set(limits.missing_ops) <= set(PROBED_OPS), limits.name
        assert {(op, lim.dtype) for lim in limits.dtype_limits for op in lim.ops} <= set(PROBED_DTYPES)
        assert limits.fused_activations <= set(PROBED_ACTIVATIONS) and limits.rank1_bias <= set(FUSED_OPS)


@pytest.mark.parametrize("claim", _claim_ids())
@pytest.mark.parametrize("backend", MEASURED)
def test_the_table_matches_the_real_backend(measured, claim, backend):
    want, outcomes = measured[claim]
    outcome = outcomes[backend]
    if want[backend] == "runs":
        assert outcome.error is None, f"{claim} on {backend}: the table says it runs; TF.js: {outcome.error}"
        if "truth" in want:
            np.testing.assert_array_equal(outcome.outputs["run"]["output"], want["truth"])
    elif want[backend] == "wrong":
        assert outcome.error is None, outcome.error
        got = outcome.outputs["run"]["output"]
        assert not np.array_equal(got, want["truth"]), f"{claim} on {backend} now gives right values"
    else:
        assert outcome.error is not None and any(text in outcome.error for text in want[backend]), (
            f"{claim} on {backend}: the table says it fails with one of {want[backend]}; TF.js: "
            f"{outcome.error or 'it ran'}"
        )


def test_every_claimed_webgpu_limit_is_marked_unverified(tmp_path):
    folder, _ = fused_model(tmp_path / "m", "_FusedMatMul", "Tanh")
    result = legality.make_legal(folder / "model.json", ("cpu", "webgpu"))
    assert result.unverified == ["webgpu"] and result.verdicts["webgpu"].startswith("unverified")


class DenseTanh(nn.Module):
    @nn.compact
    def __call__(self, x):
        return jnp.tanh(nn.Dense(5)(x))


def _random_bias(variables):
    """Flax initialises biases to zero, and the converter drops a zero bias: give it values."""
    bias = variables["params"]["Dense_0"]["bias"]
    params = {"Dense_0": {**variables["params"]["Dense_0"], "bias": bias + RNG.standard_normal(bias.shape)}}
    return {"params": params}


def test_a_flax_dense_then_tanh_converts_without_a_fused_tanh_and_runs_like_jax(tmp_path):
    module = DenseTanh()
    variables = _random_bias(module.init(jax.random.PRNGKey(0), jnp.zeros((1, 6))))
    out = tmp_path / "dense_tanh"
    report = to_tensorflowjs(
        module, variables, input_spec=jax.ShapeDtypeStruct((1, 6), jnp.float32), out_dir=out, progress=False
    )
    nodes = json.loads((out / "model.json").read_text())["modelTopology"]["node"]
    assert [legality.fused_ops_of(node) for node in nodes if node["op"] == "_FusedMatMul"] == [["BiasAdd"]]
    assert "Tanh" in {node["op"] for node in nodes}
    assert report.backends["backends"] == ["cpu", "wasm", "webgl"] and set(report.backends["verdicts"]) == {
        "cpu",
        "wasm",
        "webgl",
    }
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    want = np.asarray(module.apply(variables, x))
    for backend in NODE_BACKENDS:
        [outcome] = run_exports([ExportRuns(out, {"run": {"input": x}})], backend, timing_batches=())
        assert outcome.error is None, outcome.error
        np.testing.assert_allclose(
            outcome.outputs["run"]["output"], want, atol=2e-5, rtol=1e-5, err_msg=backend
        )


def _run_everywhere(folder: Path, feeds: dict) -> dict[str, object]:
    return {
        b: run_exports([ExportRuns(folder, {"run": feeds})], b, timing_batches=())[0] for b in NODE_BACKENDS
    }


def test_the_pass_splits_a_fused_tanh_off_and_the_graph_then_runs_on_wasm(tmp_path):
    """What grappler's oneDNN remapper made on AVX-512 machines: _FusedMatMul[BiasAdd, Tanh]."""
    folder, feeds = fused_model(tmp_path / "m", "_FusedMatMul", "Tanh")
    before = _run_everywhere(folder, feeds)
    assert "tanh activation not yet supported" in before["wasm"].error
    result = legality.make_legal(folder / "model.json")
    nodes = {n["name"]: n for n in json.loads((folder / "model.json").read_text())["modelTopology"]["node"]}
    assert nodes["out"]["op"] == "Tanh" and nodes["out"]["input"] == ["out/fused"]
    assert legality.fused_ops_of(nodes["out/fused"]) == ["BiasAdd"]
    assert result.rewrites == [
        "out: _FusedMatMul[BiasAdd, Tanh] split into _FusedMatMul[BiasAdd] + Tanh "
        "(fused Tanh fails on cpu, wasm, webgl)"
    ]
    consts = json.loads((folder / "model.json").read_text())["weightsManifest"][0]["weights"]
    raw = np.frombuffer((folder / "group1-shard1of1.bin").read_bytes(), np.float32)
    w, b = raw[:12].reshape(3, 4), raw[12:16]
    assert [c["name"] for c in consts] == ["w", "b"]
    for backend, outcome in _run_everywhere(folder, feeds).items():
        assert outcome.error is None, outcome.error
        np.testing.assert_allclose(
            outcome.outputs["run"]["output"], np.tanh(feeds["x"] @ w + b), atol=1e-5, err_msg=backend
        )


def test_the_pass_declares_a_broadcast_fused_bias_rank_1_and_wasm_runs_it(tmp_path):
    folder, feeds = fused_model(tmp_path / "m", "_FusedConv2D", "Relu", bias_rank=4)
    before = _run_everywhere(folder, feeds)
    assert "only supports rank-1 bias" in before["wasm"].error and before["cpu"].error is None
    result = legality.make_legal(folder / "model.json", ("wasm",))
    manifest = json.loads((folder / "model.json").read_text())["weightsManifest"][0]["weights"]
    assert [w["shape"] for w in manifest] == [[2, 2, 2, 3], [3]] and len(result.rewrites) == 1
    after = _run_everywhere(folder, feeds)
    for backend in NODE_BACKENDS:
        assert after[backend].error is None, after[backend].error
        np.testing.assert_allclose(
            after[backend].outputs["run"]["output"], before["cpu"].outputs["run"]["output"], atol=1e-5
        )
    # Only the backends asked for count: cpu takes any bias rank, so nothing to rewrite for it.
    folder, _ = fused_model(tmp_path / "cpu_only", "_FusedConv2D", "Relu", bias_rank=4)
    assert legality.make_legal(folder / "model.json", ("cpu",)).rewrites == []


def test_the_pass_rewrites_a_cast_to_bool_that_wasm_gets_wrong(tmp_path):
    folder, feeds, truth = dtype_limit_model(tmp_path / "m", "Cast", "DT_BOOL")
    result = legality.make_legal(folder / "model.json")
    assert result.rewrites == [
        "bool: Cast to bool became NotEqual(x, 0) (wasm: a cast to bool there gives wrong values)"
    ]
    for backend, outcome in _run_everywhere(folder, feeds).items():
        assert outcome.error is None, outcome.error
        np.testing.assert_array_equal(outcome.outputs["run"]["output"], truth, err_msg=backend)


def test_a_graph_with_an_op_wasm_lacks_is_refused_naming_backend_node_and_op(tmp_path):
    folder, _ = missing_op_model(tmp_path / "m", "Einsum")
    before = (folder / "model.json").read_text()
    with pytest.raises(BackendError) as info:
        legality.make_legal(folder / "model.json")
    err = info.value
    assert err.code == "J2T314" and err.path == str(folder / "model.json")
    assert "wasm: node 'out' (Einsum) needs the kernel 'Einsum'" in err.cause
    assert "backends=" in err.fix
    assert (folder / "model.json").read_text() == before  # a refusal writes nothing
    # Leaving wasm out, the same graph passes.
    assert legality.make_legal(folder / "model.json", ("cpu", "webgl")).rewrites == []


def test_an_int32_matmul_from_our_lowering_is_refused_for_wasm_and_converts_for_cpu(tmp_path):
    """Our own lowering's output the pass must refuse: jnp.dot on int32 is an int32 MatMul, which the
    wasm backend has no kernel for ("BatchMatMul for non non-float32 tensors not yet supported")."""
    params = {"w": np.arange(12, dtype=np.int32).reshape(4, 3)}

    def int_dot(p, x):
        return x @ p["w"]

    spec = jax.ShapeDtypeStruct((1, 4), jnp.int32)
    with pytest.raises(BackendError, match=r"wasm: node '.*' \(MatMul\) on DT_INT32: BatchMatMul") as info:
        to_tensorflowjs(int_dot, params, input_spec=spec, out_dir=tmp_path / "all", progress=False)
    assert info.value.code == "J2T314"
    assert not (tmp_path / "all").exists()  # nothing published
    report = to_tensorflowjs(
        int_dot, params, input_spec=spec, out_dir=tmp_path / "cpu", progress=False, backends=("cpu", "webgl")
    )
    assert report.backends["backends"] == ["cpu", "webgl"]
    x = np.arange(8, dtype=np.int32).reshape(2, 4)
    [outcome] = run_exports([ExportRuns(tmp_path / "cpu", {"run": {"input": x}})], "cpu", timing_batches=())
    np.testing.assert_array_equal(outcome.outputs["run"]["output"], x @ params["w"])


def test_fused_forms_tfjs_misreads_are_refused_for_every_backend(tmp_path):
    folder, _ = fused_model(tmp_path / "m", "_FusedMatMul", "Relu")
    content = json.loads((folder / "model.json").read_text())
    node = content["modelTopology"]["node"][-1]
    node["attr"]["fused_ops"]["list"]["s"] = [_b64("BiasAdd"), _b64("Add"), _b64("Relu")]
    (folder / "model.json").write_text(json.dumps(content))
    with pytest.raises(
        BackendError, match=r"cpu/wasm/webgl: node 'out' \(_FusedMatMul\) fuses BiasAdd\+Add\+Relu"
    ):
        legality.make_legal(folder / "model.json")


def test_a_fused_gelu_has_no_op_to_split_into_and_is_refused(tmp_path):
    folder, _ = fused_model(tmp_path / "m", "_FusedConv2D", "GeluExact")
    with pytest.raises(BackendError, match=r"fuses GeluExact, which no single TF.js op computes"):
        legality.make_legal(folder / "model.json")


def test_an_unknown_backend_is_refused_before_any_work(tmp_path):
    with pytest.raises(BackendError, match=r"unknown TF.js backend\(s\) \['webgl2'\]"):
        to_tensorflowjs(
            lambda p, x: x,
            {},
            input_spec=jax.ShapeDtypeStruct((1, 2), jnp.float32),
            out_dir=tmp_path / "never",
            progress=False,
            backends=("cpu", "webgl2"),
        )
    assert not (tmp_path / "never").exists()


def test_a_fused_tanh_in_a_real_conversion_is_split_off_and_reported(tmp_path, monkeypatch):
    """Our fusion told to fuse Tanh, as grappler's oneDNN remapper does on AVX-512 machines: the
    conversion's legality pass splits it off again, and report.json says so."""
    from jax2tfjs.export import fusion

    monkeypatch.setattr(fusion, "FUSABLE_ACTIVATIONS", (*fusion.FUSABLE_ACTIVATIONS, "Tanh"))
    module = DenseTanh()
    variables = _random_bias(module.init(jax.random.PRNGKey(0), jnp.zeros((1, 6))))
    out = tmp_path / "dense_tanh"
    report = to_tensorflowjs(
        module, variables, input_spec=jax.ShapeDtypeStruct((1, 6), jnp.float32), out_dir=out, progress=False
    )
    [rewrite] = report.backends["rewrites"]
    assert "_FusedMatMul[BiasAdd, Tanh] split into _FusedMatMul[BiasAdd] + Tanh" in rewrite
    assert json.loads((out / "report.json").read_text())["backends"]["rewrites"] == [rewrite]
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    want = np.asarray(module.apply(variables, x))
    for backend, outcome in _run_everywhere(out, {"input": x}).items():
        assert outcome.error is None, outcome.error
        np.testing.assert_allclose(
            outcome.outputs["run"]["output"], want, atol=2e-5, rtol=1e-5, err_msg=backend
        )
