"""The converter end to end: every input form, real TF.js (Node, cpu and wasm), errors, atomicity."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.core import FrozenDict
from flax.training import train_state

from conftest import ROOT, run, venv_python
from jax2tfjs import checkpoints
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.data import load_dataset
from jax2tfjs.errors import (
    ExportError,
    Jax2TfjsError,
    ModelInputError,
    OutputFolderError,
    UnsupportedPrimitiveError,
)
from jax2tfjs.export import golden as golden_file
from jax2tfjs.export import publish
from jax2tfjs.models import get_model
from jax2tfjs.tfjs_runtime import run_in_tfjs

SPEC = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)


@pytest.fixture(scope="module")
def test_images(mnist_dir):
    arrays, _ = load_dataset(mnist_dir)
    return arrays["x_test"][:200].astype(np.float32) / 255.0, arrays["y_test"][:200]


def jax_outputs(model_name, step_dir, x):
    from jax2tfjs.sources import resolve

    resolved = resolve(step_dir)
    assert resolved.name == model_name
    return np.asarray(jax.jit(resolved.apply)(resolved.params, x))


@pytest.mark.parametrize("model_name", ["jax_cnn", "flax_cnn", "flax_mlp"])
def test_checkpoint_exports_run_in_tfjs_cpu_and_wasm_like_jax(model_name, trained, test_images, tmp_path):
    step_dir = checkpoints.resolve(trained, model=model_name)
    x, _ = test_images
    report = to_tensorflowjs(step_dir, out_dir=tmp_path / "export", golden_inputs=x, progress=False)
    want = jax_outputs(model_name, step_dir, x)
    assert report.savedmodel_max_abs_diff < 1e-5
    for backend in ("cpu", "wasm"):
        got, info = run_in_tfjs(report.out_dir, x, backend)
        assert info["backend"] == backend
        np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, np.abs(want).max()))
        assert np.array_equal(got.argmax(1), want.argmax(1))
        assert info["golden_max_abs_diff"] < 1e-4
    # The graph TF.js runs: fused ops with rank-1 biases, no Einsum, few compute ops.
    ops = report.tfjs_ops
    assert "Einsum" not in ops and "BatchMatMulV2" not in ops
    if model_name.endswith("cnn"):
        assert ops.get("_FusedConv2D") == 2 and ops.get("_FusedMatMul") == 2 and ops.get("AvgPool") == 2
        assert report.tfjs_compute_ops <= 7
    else:
        assert ops.get("_FusedMatMul") == 3
    assert report.input_spec["shape"] == [None, 28, 28, 1] and report.labels == list("0123456789")
    meta = json.loads((tmp_path / "export" / "model.json").read_text())["userDefinedMetadata"]["jax2tfjs"]
    assert meta["model"] == model_name and meta["source"]["step"] == 8 and meta["quantization"] == "none"


def test_quantized_exports_are_smaller_and_keep_predictions(trained, test_images, tmp_path):
    step_dir = checkpoints.resolve(trained, model="flax_cnn")
    x, _ = test_images
    want = jax_outputs("flax_cnn", step_dir, x).argmax(1)
    sizes = {}
    for quant in ("none", "float16", "uint16", "uint8"):
        report = to_tensorflowjs(step_dir, out_dir=tmp_path / quant, quantization=quant, progress=False)
        sizes[quant] = report.weight_bytes
        got, _ = run_in_tfjs(report.out_dir, x, "wasm")
        agreement = float(np.mean(got.argmax(1) == want))
        assert agreement >= (0.98 if quant == "uint8" else 1.0), (quant, agreement)
    assert 0.49 < sizes["float16"] / sizes["none"] < 0.51
    assert 0.49 < sizes["uint16"] / sizes["none"] < 0.51
    assert 0.24 < sizes["uint8"] / sizes["none"] < 0.26


class LinenWithBatchNorm(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=True)(x)
        x = nn.gelu(nn.max_pool(x, (2, 2), (2, 2)), approximate=False)
        return nn.Dense(10)(x.reshape((x.shape[0], -1)))


class NnxNet(nnx.Module):
    def __init__(self, rngs):
        self.conv = nnx.Conv(1, 4, (3, 3), strides=(2, 2), rngs=rngs)
        self.norm = nnx.LayerNorm(4, rngs=rngs)
        self.drop = nnx.Dropout(0.5, rngs=rngs)
        self.out = nnx.Linear(14 * 14 * 4, 10, rngs=rngs)

    def __call__(self, x):
        x = self.drop(nnx.silu(self.norm(self.conv(x))))
        return nnx.log_softmax(self.out(x.reshape((x.shape[0], -1))))


def _perturbed(tree):
    """Non-zero biases and running statistics, so a dropped term would show."""
    leaves, treedef = jax.tree.flatten(tree)
    keys = jax.random.split(jax.random.key(7), len(leaves))
    return jax.tree.unflatten(
        treedef, [leaf + 0.1 * jax.random.normal(k, leaf.shape) for leaf, k in zip(leaves, keys, strict=True)]
    )


def _check_against(report, fn, x):
    got, _ = run_in_tfjs(report.out_dir, x, "wasm")
    want = np.asarray(fn(x))
    np.testing.assert_allclose(got, want, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_linen_module_with_frozen_variables_and_batch_stats(tmp_path, test_images):
    x = test_images[0][:16]
    module = LinenWithBatchNorm()
    variables = _perturbed(module.init(jax.random.key(0), x[:1]))
    variables["batch_stats"] = jax.tree.map(jnp.abs, variables["batch_stats"])  # variances stay positive
    report = to_tensorflowjs(
        module, FrozenDict(variables), input_spec=SPEC, out_dir=tmp_path / "e", progress=False
    )
    assert report.form == "flax_linen"
    _check_against(report, lambda v: module.apply(variables, v), x)


def test_nnx_module_in_eval_mode(tmp_path, test_images):
    x = test_images[0][:16]
    model = NnxNet(nnx.Rngs(0))
    report = to_tensorflowjs(model, input_spec=x[:1], out_dir=tmp_path / "e", progress=False)
    assert report.form == "flax_nnx"
    model.eval()
    _check_against(report, model, x)


def test_plain_function_with_params(tmp_path, test_images):
    x = test_images[0][:16]
    model = get_model("jax_cnn")
    params = _perturbed(model.init(jax.random.key(3)))
    report = to_tensorflowjs(model.apply, params, input_spec=SPEC, out_dir=tmp_path / "e", progress=False)
    assert report.form == "function"
    _check_against(report, lambda v: model.apply(params, v), x)


def test_flax_train_state(tmp_path, test_images):
    x = test_images[0][:16]
    module = get_model("flax_cnn")
    params = _perturbed(module.init(jax.random.key(4)))
    linen = __import__("jax2tfjs.models.flax_cnn", fromlist=["CNN"]).CNN(module.config)
    state = train_state.TrainState.create(apply_fn=linen.apply, params=params, tx=optax.adam(1e-3))
    report = to_tensorflowjs(state, input_spec=SPEC, out_dir=tmp_path / "e", progress=False)
    assert report.form == "train_state"
    _check_against(report, lambda v: linen.apply({"params": params}, v), x)


def test_unsupported_primitive_names_it_and_the_source_line(tmp_path):
    def on_the_host(params, x):  # jax.pure_callback runs host Python: no exported graph can hold it
        return jax.pure_callback(np.tanh, jax.ShapeDtypeStruct(x.shape, x.dtype), x) * params  # HOST LINE

    with pytest.raises(UnsupportedPrimitiveError) as err:
        to_tensorflowjs(
            on_the_host, jnp.float32(2.0), input_spec=jnp.ones((1, 4)), out_dir=tmp_path / "e", progress=False
        )
    message = str(err.value)
    assert "J2T301" in message and "'pure_callback'" in message and "test_convert.py:" in message
    line = next(
        i for i, text in enumerate(Path(__file__).read_text().splitlines(), 1) if "# HOST LINE" in text
    )
    assert f"test_convert.py:{line}:" in message
    assert not (tmp_path / "e").exists()


def test_failed_conversion_keeps_the_previous_export_and_leaves_no_temp(tmp_path, trained):
    out = tmp_path / "flax_mlp" / "none"
    to_tensorflowjs(checkpoints.resolve(trained, model="flax_mlp"), out_dir=out, progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(Jax2TfjsError):  # complex numbers: J2T302 before the fft's J2T301
        to_tensorflowjs(
            lambda p, x: jnp.fft.fft(x).real * p,
            jnp.float32(1.0),
            input_spec=jnp.ones((1, 8)),
            out_dir=out,
            progress=False,
        )
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in out.parent.iterdir()] == ["none"]


def _tiny_export(out_dir):
    return to_tensorflowjs(
        lambda p, x: jnp.tanh(x * p),
        jnp.float32(2.0),
        input_spec=jnp.ones((1, 3)),
        out_dir=out_dir,
        progress=False,
    )


@pytest.mark.parametrize(
    "make_target",
    [
        pytest.param(
            lambda t: (t.mkdir(), (t / "notes.txt").write_text("mine"), (t / "data").mkdir()),
            id="user-folder",
        ),
        pytest.param(lambda t: t.write_text("a file, not a folder"), id="plain-file"),
        pytest.param(lambda t: (t.mkdir(), (t / "model.json").write_text("{}")), id="half-an-export"),
    ],
)
def test_out_dir_that_is_not_a_previous_export_is_refused_and_left_intact(tmp_path, make_target):
    """to_tensorflowjs replaced whatever stood at out_dir (a folder of user files, a whole copy of
    volumes/exports, a plain file). Now only a previous export or an empty folder is replaced."""
    target = tmp_path / "out"
    make_target(target)
    before = sorted(
        (p.relative_to(tmp_path), p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")
    )
    with pytest.raises(OutputFolderError, match="replacing it would delete") as info:
        _tiny_export(target)
    assert info.value.code == "J2T310" and str(target) in str(info.value)
    after = sorted(
        (p.relative_to(tmp_path), p.read_bytes() if p.is_file() else None) for p in tmp_path.rglob("*")
    )
    assert after == before  # nothing deleted, nothing staged beside it


def test_out_dir_that_is_empty_or_a_previous_export_is_replaced(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    _tiny_export(target)
    (target / "verify.json").write_text("{}")  # what verify adds to an export: still an export
    report = _tiny_export(target)
    assert (target / "model.json").exists() and report.out_dir == str(target)
    assert not (target / "verify.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_bad_inputs_get_typed_errors_with_fixes(tmp_path):
    model = get_model("flax_mlp")
    with pytest.raises(ModelInputError, match="without params"):
        to_tensorflowjs(model.apply, input_spec=SPEC, out_dir=tmp_path / "a", progress=False)
    with pytest.raises(ModelInputError, match="no input_spec"):
        to_tensorflowjs(model.apply, model.init(jax.random.key(0)), out_dir=tmp_path / "a", progress=False)
    with pytest.raises(ModelInputError, match="tracing the model") as err:
        to_tensorflowjs(
            model.apply,
            model.init(jax.random.key(0)),
            input_spec=jnp.ones((1, 10, 10, 1)),
            out_dir=tmp_path / "a",
            progress=False,
        )
    assert "input_spec" in err.value.fix
    with pytest.raises(ModelInputError, match="does not exist"):
        to_tensorflowjs(tmp_path / "nope", out_dir=tmp_path / "a", progress=False)
    with pytest.raises(ModelInputError, match="unknown quantization"):
        to_tensorflowjs(
            model.apply, {}, input_spec=SPEC, out_dir=tmp_path / "a", quantization="int4", progress=False
        )
    with pytest.raises(ExportError, match=r"model\.json is missing"):
        run_in_tfjs(tmp_path, None, "wasm")


def test_convert_job_writes_export_report_and_index(trained, mnist_dir, tmp_path):
    proc = run(
        [
            venv_python("convert"),
            ROOT / "jobs/convert.py",
            "--model=mlp",
            "--quantization=uint8",
            f"--checkpoint_dir={trained}",
            f"--data_dir={mnist_dir}",
            f"--export_dir={tmp_path}",
        ]
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for phase in ("restore", "trace", "lower", "save", "tfjs", "check"):
        assert f"[convert] {phase} done in" in proc.stdout
    report = json.loads((tmp_path / "flax_mlp" / "uint8" / "report.json").read_text())
    assert set(report["phases_s"]) == {"restore", "trace", "lower", "save", "tfjs", "check"}
    assert report["job"]["peak_rss_mb"] > 100
    index = publish.rebuild(tmp_path)
    assert [(e["model"], e["quantization"]) for e in index["exports"]] == [("flax_mlp", "uint8")]
    assert index["exports"][0]["model_json"] == "flax_mlp/uint8/model.json"


def test_float64_params_are_cast_with_a_warning_in_the_report(tmp_path):
    params = {"w": np.full((4, 3), 0.5, np.float64), "b": np.arange(3, dtype=np.float64)}
    report = to_tensorflowjs(
        lambda p, x: x @ p["w"] + p["b"],
        params,
        input_spec=jnp.ones((1, 4)),
        out_dir=tmp_path / "e",
        progress=False,
    )
    assert any("float64" in w and "float32" in w for w in report.warnings)
    got, _ = run_in_tfjs(report.out_dir, np.ones((2, 4), np.float32), "cpu")
    np.testing.assert_allclose(got, np.ones((2, 4)) @ params["w"] + params["b"], rtol=1e-6)


def test_an_op_tfjs_lacks_is_named_with_the_line_that_made_it():
    from jax2tfjs.errors import MissingTfjsOpError
    from jax2tfjs.export.tfjs_convert import check_ops

    with pytest.raises(MissingTfjsOpError, match=r"Erfc from 'erfc' at model\.py:3") as err:
        check_ops(["Conv2D", "Erfc", "Const"], {"Erfc": ["'erfc' at model.py:3"]})
    assert "Conv2D" not in str(err.value)


def test_models_that_cannot_be_exported_get_typed_errors_not_tracebacks(tmp_path):
    from jax2tfjs.errors import LoweringError

    def convert(fn, spec):
        return to_tensorflowjs(
            fn, {"s": jnp.float32(1.0)}, input_spec=spec, out_dir=tmp_path / "e", progress=False
        )

    with pytest.raises(ModelInputError) as err:
        convert(lambda p, x: x.reshape(x.shape[0] // 2, -1) * p["s"], jnp.ones((2, 4)))
    assert "dynamic_batch=False" in err.value.fix
    with pytest.raises(LoweringError, match="n <= 64"):  # linear algebra is unrolled up to 64 rows
        convert(lambda p, x: jnp.linalg.cholesky(x) * p["s"], jnp.ones((1, 70, 70)))


# What a user's process sees: os.environ before and after importing the package, the converter and
# tensorflowjs (the converter's path to it). TensorFlow itself sets TF2_BEHAVIOR, TPU_* and others
# when imported, so the converter's changes are measured against a process that imported it first.
ENV_PROBE = """
import json, os

def changes(before):
    after = dict(os.environ)
    return {k: [before.get(k), after.get(k)] for k in set(before) | set(after) if before.get(k) != after.get(k)}

start = dict(os.environ)
import jax2tfjs
package = changes(start)
import flax, jax, tensorflow
base = dict(os.environ)
import jax2tfjs.api
from jax2tfjs.export import tfjs_convert
tfjs_convert.tfjs_op_names()
print(json.dumps({"package": package, "converter": changes(base)}))
"""


def test_importing_the_package_and_the_converter_changes_no_environment_variable(tmp_path):
    # A bare user's process: no TF_CPP_MIN_LOG_LEVEL, no TFDF_*, no JAX2TFJS_LEAN_IMPORTS.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    env.update({k: os.environ[k] for k in ("PYTHONPATH",) if k in os.environ})
    probe = subprocess.run(
        [venv_python("convert"), "-c", ENV_PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    assert json.loads(probe.stdout) == {"package": {}, "converter": {}}
    # tensorflow_decision_forests (imported by tensorflowjs) stayed quiet all the same: its welcome
    # banner goes to stderr on a terminal or pipe (and needs IPython elsewhere, which would fail).
    assert "ydf.readthedocs.io" not in probe.stderr


def test_checkpoint_provenance_comes_from_its_metadata_not_from_mnist(trained, tmp_path):
    from jax2tfjs.sources import resolve

    source = checkpoints.resolve(trained, model="flax_mlp")
    meta = checkpoints.read_metadata(source)
    meta["model"]["input_spec"]["range"] = [-1.0, 1.0]
    meta["dataset"] = {**meta["dataset"], "preprocessing": "(uint8 - 127.5) / 127.5"}
    checkpoints.save(
        checkpoints.open_manager(tmp_path / "flax_mlp"), 7, checkpoints.restore_raw(source), meta
    )
    provenance = resolve(tmp_path / "flax_mlp" / "7").provenance
    assert provenance["input"] == "28x28x1 float32 per example, batch first, values in [-1, 1]"
    assert provenance["dataset"]["preprocessing"] == "(uint8 - 127.5) / 127.5"
    assert "uint8 / 255" not in json.dumps(provenance)  # the text once hard-coded for every model


def test_a_static_batch_export_gets_golden_inputs_of_its_own_batch_and_runs(tmp_path):
    """dynamic_batch=False: golden.json used to hold 8 rows whatever the spec said, so a model whose
    code reshapes by dim 0 crashed at the golden phase, and others got a golden.json the export
    cannot take ("must be [3], but was [8])."""
    w = jnp.arange(12.0).reshape(12, 1) / 10

    def flatten_then_dense(p, x):
        return x.reshape(x.shape[0], -1) @ p  # dim 0 read by the model's own code

    report = to_tensorflowjs(
        flatten_then_dense,
        w,
        input_spec=jax.ShapeDtypeStruct((3, 4, 3), jnp.float32),
        dynamic_batch=False,
        out_dir=tmp_path / "static",
        progress=False,
    )
    x = golden_file.read(tmp_path / "static").inputs["input"]
    assert x.shape == (3, 4, 3) and report.input_spec["shape"] == [3, 4, 3]
    out, info = run_in_tfjs(tmp_path / "static", x, "wasm")
    np.testing.assert_allclose(out, np.asarray(flatten_then_dense(w, x)), atol=1e-5)
    assert info["golden_max_abs_diff"] < 1e-5  # the runner's own golden.json check ran at batch 3


def test_integer_golden_inputs_are_varied_token_ids_not_zeros(tmp_path):
    """Integer inputs were drawn as random floats cast to int: every golden id was 0, so an
    embedding lookup that read the wrong row still matched."""
    table = jnp.arange(24.0).reshape(8, 3)
    to_tensorflowjs(
        lambda p, ids: p[ids].sum(axis=1),
        table,
        input_spec=jax.ShapeDtypeStruct((1, 5), jnp.int32),
        out_dir=tmp_path / "ids",
        progress=False,
    )
    ids = golden_file.read(tmp_path / "ids").inputs["input"]
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < 8 and len(np.unique(ids)) > 3
