"""The TF.js runners with several named inputs and outputs in their own dtypes: run_in_tfjs, the
batch runner verify uses, the runner's golden.json self-check (v1 and v2), and the errors for inputs
named wrong. The graph models are built in TF by hand (a serving signature with named TensorSpecs,
a dict of outputs) and converted with the tensorflowjs converter, so these tests need nothing from
the JAX side; TF's own outputs are the reference."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from jax2tfjs.errors import ExportError
from jax2tfjs.export.tfjs_convert import convert
from jax2tfjs.tfjs_runtime import RUNNER as GRAPH_RUNNER
from jax2tfjs.tfjs_runtime import (
    NodeScriptFailed,
    check_setup,
    export_io,
    run_in_tfjs,
    run_node_script,
)
from jax2tfjs.verify.tfjs_batch import ExportRuns, _export_specs, run_exports

RNG = np.random.default_rng(14)
W = RNG.standard_normal((3, 4)).astype(np.float32)


def _save_and_convert(module, folder):
    import tensorflow as tf

    tf.saved_model.save(module, str(folder / "saved_model"), signatures={"serving_default": module.serve})
    convert(folder / "saved_model", folder / "tfjs", "none", metadata={})
    return folder / "tfjs"


def _multi_module():
    """Four named inputs (float32, int32, bool, a rank-0 float32) → three named outputs (float32,
    int32 from argmax, bool). The argument order is not the alphabetical one TF.js lists them in."""
    import tensorflow as tf

    class Multi(tf.Module):
        @tf.function(
            input_signature=[
                tf.TensorSpec([None, 3], tf.float32, name="x"),
                tf.TensorSpec([None], tf.int32, name="ids"),
                tf.TensorSpec([None], tf.bool, name="mask"),
                tf.TensorSpec([], tf.float32, name="scale"),
            ]
        )
        def serve(self, x, ids, mask, scale):
            logits = (x @ W) * scale + tf.cast(ids, tf.float32)[:, None] * 0.5
            return {
                "logits": logits,
                "label": tf.argmax(logits, axis=-1, output_type=tf.int32),
                "keep": tf.logical_and(mask, logits[:, 0] > 0),
            }

    return Multi()


def _single_module():
    """One input `input` with a STATIC first dim (2 rows) → one output `output`: the shape every
    export converted before named signatures has, and a model whose batch cannot be sliced."""
    import tensorflow as tf

    class Single(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.float32, name="input")])
        def serve(self, x):
            return {"output": tf.tanh(x @ W)}

    return Single()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Both exports, converted once, with the modules that made them (TF's reference)."""
    root = tmp_path_factory.mktemp("signatures")
    multi, single = _multi_module(), _single_module()
    (root / "multi").mkdir()
    (root / "single").mkdir()
    return {
        "multi": (_save_and_convert(multi, root / "multi"), multi),
        "single": (_save_and_convert(single, root / "single"), single),
    }


@pytest.fixture
def multi(built, tmp_path):
    """A copy of the several-input export (tests write golden.json into it) and its TF module."""
    folder, module = built["multi"]
    return shutil.copytree(folder, tmp_path / "multi"), module


@pytest.fixture
def single(built, tmp_path):
    folder, module = built["single"]
    return shutil.copytree(folder, tmp_path / "single"), module


def _multi_feeds(rows=5):
    return {
        "x": RNG.standard_normal((rows, 3)),  # float64: cast to the export's float32
        "ids": np.arange(rows) % 3,  # int64: cast to int32
        "mask": np.arange(rows) % 2 == 0,
        "scale": 1.5,  # a Python float for the rank-0 input
    }


def _tf_outputs(module, feeds):
    """TF's own outputs for `feeds`, cast to the signature's dtypes as the runners cast them."""
    import tensorflow as tf

    spec = module.serve.input_signature
    args = [tf.constant(np.asarray(feeds[s.name]).astype(s.dtype.as_numpy_dtype)) for s in spec]
    return {name: t.numpy() for name, t in module.serve(*args).items()}


def _assert_outputs_equal(got, want):
    assert set(got) == set(want)
    for name, array in got.items():
        assert array.dtype == want[name].dtype and array.shape == want[name].shape, name
        if array.dtype == np.float32:
            np.testing.assert_allclose(array, want[name], atol=1e-5, rtol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(array, want[name], err_msg=name)


def test_export_io_names_the_signature_in_its_dtypes(multi, single):
    inputs, outputs = export_io(multi[0])
    assert inputs == {
        "ids": {"dtype": "int32", "shape": [None]},
        "mask": {"dtype": "bool", "shape": [None]},
        "scale": {"dtype": "float32", "shape": []},
        "x": {"dtype": "float32", "shape": [None, 3]},
    }
    assert outputs == ["keep", "label", "logits"]  # alphabetical, as model.json and TF.js hold them
    assert export_io(single[0]) == ({"input": {"dtype": "float32", "shape": [2, 3]}}, ["output"])


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_named_inputs_and_outputs_match_tensorflow_in_their_own_dtypes(multi, backend):
    folder, module = multi
    feeds = _multi_feeds(rows=5)
    got, info = run_in_tfjs(folder, feeds, backend, timing_batches=(1, 4, 64), repeats=2)
    assert list(got) == ["keep", "label", "logits"]  # the runner's order
    want = _tf_outputs(module, feeds)
    _assert_outputs_equal(got, want)
    assert want["keep"].any() and not want["keep"].all() and len(set(want["label"])) > 1  # not trivial
    assert [entry["name"] for entry in info["outputs"]] == list(got)
    # Every input with a batch dim is sliced to the first rows, the scalar fed whole; 64 > 5 rows.
    assert set(info["timings"]) == {"1", "4"} and info["predict_ms"] > 0


def test_one_array_feeds_a_one_input_export_and_its_one_output_is_an_array(single):
    folder, module = single
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    got, info = run_in_tfjs(folder, x, "cpu", timing_batches=(1, 2), repeats=2)
    want = _tf_outputs(module, {"input": x})["output"]
    assert isinstance(got, np.ndarray) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    # A static first dim is no batch: the model runs as fed, timed only at its own 2 rows.
    assert set(info["timings"]) == {"2"}
    by_name, _ = run_in_tfjs(folder, {"input": x}, "cpu")
    np.testing.assert_array_equal(by_name, got)


def test_inputs_named_wrong_are_typed_errors_naming_the_exports_inputs(multi, single):
    folder, _ = multi
    feeds = _multi_feeds()
    with pytest.raises(ExportError, match=r"takes 4 inputs \(ids, mask, scale, x\)") as caught:
        run_in_tfjs(folder, feeds["x"], "cpu")
    assert "pass a dict {name: array}" in caught.value.fix
    del feeds["mask"]
    with pytest.raises(
        ExportError, match=r"inputs missing mask: the export's inputs are ids, mask, scale, x"
    ):
        run_in_tfjs(folder, feeds, "cpu")
    with pytest.raises(ExportError, match=r"inputs unknown maks: the export's inputs are") as caught:
        run_in_tfjs(folder, {**feeds, "mask": np.ones(5, bool), "maks": np.ones(5, bool)}, "cpu")
    assert "keyed by exactly those names" in caught.value.fix
    with pytest.raises(ExportError, match=r"inputs missing input; unknown x: the export's inputs are input"):
        run_in_tfjs(single[0], {"x": np.zeros((2, 3))}, "cpu")


def test_the_node_runner_checks_input_names_itself(multi):
    """What a caller of the runner other than run_in_tfjs (the page, a script) gets: the export's
    input names, not TF.js's message about the outputs it could not compute."""
    node, runtime = check_setup()
    feeds = {k: v for k, v in _multi_feeds().items() if k != "ids"}
    request = {"model_dir": str(multi[0]), "backend": "cpu", "node_runtime": str(runtime)}
    with pytest.raises(NodeScriptFailed) as caught:
        run_node_script(node, GRAPH_RUNNER, request, {**feeds, "idz": np.zeros(5, np.int32)}, timeout_s=120)
    assert (
        caught.value.cause
        == "Error: inputs missing ids; unknown idz: the export's inputs are ids, mask, scale, x"
    )


def _golden_v2(feeds, outputs, inputs_dtypes):
    def entry(name, array, dtype):
        array = np.asarray(array).astype({"float32": np.float32, "int32": np.int32, "bool": bool}[dtype])
        return {"name": name, "dtype": dtype, "shape": list(array.shape), "values": array.ravel().tolist()}

    dtype_of = {np.dtype(np.float32): "float32", np.dtype(np.int32): "int32", np.dtype(bool): "bool"}
    return {
        "format": 2,
        "inputs": [entry(name, feeds[name], inputs_dtypes[name]) for name in feeds],
        "outputs": [entry(name, array, dtype_of[array.dtype]) for name, array in outputs.items()],
        "note": "TF's outputs for these inputs",
        "savedmodel": {},
    }


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_golden_v2_self_check_reports_the_worst_output_by_name(multi, backend):
    folder, module = multi
    feeds = _multi_feeds(rows=4)
    golden = _golden_v2(
        feeds, _tf_outputs(module, feeds), {k: v["dtype"] for k, v in export_io(folder)[0].items()}
    )
    keep = next(entry for entry in golden["outputs"] if entry["name"] == "keep")
    assert all(isinstance(v, bool) for v in keep["values"])  # bools as JSON true/false
    (folder / "golden.json").write_text(json.dumps(golden))
    outputs, info = run_in_tfjs(folder, None, backend)
    assert outputs is None and info["golden_max_abs_diff"] < 1e-5
    label = next(entry for entry in golden["outputs"] if entry["name"] == "label")
    label["values"][2] += 3  # an int output three classes off beats any float noise
    (folder / "golden.json").write_text(json.dumps(golden))
    _, info = run_in_tfjs(folder, None, backend)
    assert info["golden_max_abs_diff"] == 3 and info["golden_worst_output"] == "label"
    _, info = run_in_tfjs(folder, None, backend, golden_self_check=False)
    assert "golden_max_abs_diff" not in info and "golden_worst_output" not in info
    golden["outputs"] = [entry for entry in golden["outputs"] if entry["name"] != "keep"]
    (folder / "golden.json").write_text(json.dumps(golden))
    with pytest.raises(
        ExportError,
        match=r"golden\.json has outputs (label, logits|logits, label); the export has keep, label, logits",
    ):
        run_in_tfjs(folder, None, backend)


def test_golden_v1_self_check_feeds_the_only_input_and_a_several_input_export_refuses_it(single, multi):
    folder, module = single
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    want = _tf_outputs(module, {"input": x})["output"]
    golden = {"input_shape": [2, 3], "inputs": x.tolist(), "outputs": want.tolist(), "note": "v1"}
    (folder / "golden.json").write_text(json.dumps(golden))
    _, info = run_in_tfjs(folder, None, "cpu")
    assert info["golden_max_abs_diff"] < 1e-5 and info["golden_worst_output"] == "output"
    golden["outputs"][1][2] += 0.25
    (folder / "golden.json").write_text(json.dumps(golden))
    _, info = run_in_tfjs(folder, None, "cpu")
    assert abs(info["golden_max_abs_diff"] - 0.25) < 1e-5
    (multi[0] / "golden.json").write_text(json.dumps(golden))
    with pytest.raises(ExportError, match=r"one-input one-output format \(v1\), the export has more"):
        run_in_tfjs(multi[0], None, "cpu")


def test_run_exports_runs_named_runs_per_export_and_a_misnamed_run_is_its_outcome(multi, single):
    (multi_dir, multi_module), (single_dir, single_module) = multi, single
    split = _multi_feeds(rows=6)
    golden = _multi_feeds(rows=2)
    # Crossing in their own dtypes, cast by the runner to the export's: bool from int8, int32 from float.
    golden = {**golden, "mask": golden["mask"].astype(np.int8), "ids": golden["ids"].astype(np.float32)}
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    runs = [
        ExportRuns(multi_dir, {"golden": golden, "test": split}, timed="test"),
        ExportRuns(single_dir, {"golden": {"output": x}}),  # `output` is no input name
        ExportRuns(single_dir, {"golden": {"input": x}}, timed="golden"),
    ]
    first, misnamed, last = run_exports(runs, "wasm", timing_batches=(1, 8), repeats=2)
    assert first.error is None and list(first.outputs) == ["golden", "test"]
    _assert_outputs_equal(first.outputs["golden"], _tf_outputs(multi_module, golden))
    _assert_outputs_equal(first.outputs["test"], _tf_outputs(multi_module, split))
    assert set(first.timings) == {"1"}  # 8 > the test split's 6 rows
    assert misnamed.error == "inputs missing input; unknown output: the export's inputs are input"
    assert not misnamed.outputs
    assert last.error is None and list(last.outputs["golden"]) == ["output"]
    _assert_outputs_equal(last.outputs["golden"], _tf_outputs(single_module, {"input": x}))


def test_arrays_shared_by_several_exports_are_written_once_in_their_own_dtype(tmp_path):
    split = {"x": np.zeros((5, 3), np.float64), "ids": np.zeros(5, np.int64), "mask": np.zeros(5, bool)}
    runs = [
        ExportRuns(
            tmp_path / "m" / q, {"golden": {**split, "x": np.full((2, 3), i, np.float32)}, "test": split}
        )
        for i, q in enumerate(("none", "uint8"))
    ]
    specs = _export_specs(runs, tmp_path)
    entries = [entry for spec in specs for run in spec["runs"] for entry in run["inputs"]]
    paths = {(entry["name"], entry["path"]) for entry in entries}
    # ids and mask: one file each for both exports' both runs; x: the split's and each golden's.
    assert len({path for name, path in paths if name == "ids"}) == 1
    assert len({path for name, path in paths if name == "x"}) == 3
    assert len(list(tmp_path.glob("input-*.bin"))) == 5
    dtypes = {entry["name"]: entry["dtype"] for entry in entries}
    assert dtypes == {"x": "float32", "ids": "int32", "mask": "bool"}
    assert {run["output_dir"] for spec in specs for run in spec["runs"]} == {
        str(tmp_path / f"out-{i}-{j}") for i in range(2) for j in range(2)
    }
