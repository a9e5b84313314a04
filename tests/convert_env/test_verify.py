"""Verification from the export folder alone: golden.json on every backend, accuracy for exports of
checkpoints, thresholds, the job's report, and its failure paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ROOT, run, venv_python
from jax2tfjs import checkpoints
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.errors import ExportError, NonFiniteError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.tfjs_runtime import run_in_tfjs
from jax2tfjs.verify import tfjs_batch
from jax2tfjs.verify.tfjs_batch import ExportRuns, _export_specs, run_exports
from jax2tfjs.verify.thresholds import Thresholds


@pytest.fixture
def exports(tmp_path, trained):
    """flax_mlp exported at none and float16 into a fresh exports folder."""
    step_dir = checkpoints.resolve(trained, model="flax_mlp")
    for quant in ("none", "float16"):
        to_tensorflowjs(step_dir, out_dir=tmp_path / "flax_mlp" / quant, quantization=quant, progress=False)
    return tmp_path


def _digit_net(params, x):
    """A plain function, as the tutorial's own model: no checkpoint, no registry entry."""
    return jax.nn.log_softmax(jnp.tanh(x.reshape(x.shape[0], -1) @ params["w1"]) @ params["w2"])


def _digit_net_params():
    keys = jax.random.split(jax.random.key(0), 2)
    return {"w1": jax.random.normal(keys[0], (784, 32)) * 0.05, "w2": jax.random.normal(keys[1], (32, 10))}


@pytest.fixture
def plain_export(tmp_path):
    spec = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)
    out_dir = tmp_path / "digitnet" / "none"
    to_tensorflowjs(_digit_net, _digit_net_params(), input_spec=spec, out_dir=out_dir, progress=False)
    return tmp_path


def _keep_a_savedmodel(folder, scale=1.0):
    """The digit net written by hand in TF as folder/saved_model (the converter keeps none today)."""
    import tensorflow as tf

    w1, w2 = (tf.constant(np.asarray(w)) for w in _digit_net_params().values())

    class DigitNet(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 28, 28, 1], tf.float32, name="input")])
        def serve(self, x):
            hidden = tf.tanh(tf.reshape(x, [-1, 784]) @ w1)
            return {"output": tf.nn.log_softmax(hidden @ (w2 * scale))}

    module = DigitNet()
    tf.saved_model.save(module, str(folder / "saved_model"), signatures={"serving_default": module.serve})


def _reseal(folder):
    """report.json's seal updated to the folder's files as they are now: what a wrong model converted
    in place would look like, so only the thresholds can catch it."""
    from jax2tfjs import hashing

    report = json.loads((folder / "report.json").read_text())
    report[hashing.SEAL_KEY] = hashing.file_seal(folder, report[hashing.SEAL_KEY])
    (folder / "report.json").write_text(json.dumps(report))


def verify(export_dir, mnist_dir, *extra):
    return run(
        [
            venv_python("convert"),
            ROOT / "jobs/verify.py",
            f"--export_dir={export_dir}",
            f"--data_dir={mnist_dir}",
            "--timing_repeats=3",
            *extra,
        ]
    )


def test_runner_times_batch_1_and_32_and_self_checks_golden(exports):
    x = np.random.default_rng(0).random((40, 28, 28, 1), np.float32)
    outputs, info = run_in_tfjs(exports / "flax_mlp" / "none", x, "wasm", timing_batches=(1, 32), repeats=3)
    assert outputs.shape == (40, 10)
    assert info["timings"]["1"] > 0 and info["timings"]["32"] > 0 and info["load_ms"] > 0
    assert info["golden_max_abs_diff"] < 1e-4
    # Callers that compare golden.json themselves (doctor, the zoo, the corpus) run it only once.
    _, info = run_in_tfjs(exports / "flax_mlp" / "none", x[:1], "wasm", golden_self_check=False)
    assert "golden_max_abs_diff" not in info and info["load_ms"] > 0


def test_one_node_process_runs_many_exports_and_a_broken_one_is_an_outcome(exports, tmp_path):
    x = np.random.default_rng(1).random((3, 28, 28, 1), np.float32)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model.json").write_text("{}")
    runs = [
        ExportRuns(exports / "flax_mlp" / "none", {"a": {"input": x}, "b": {"input": x[:1]}}, timed="a"),
        ExportRuns(broken, {"a": {"input": x}}),
        ExportRuns(exports / "flax_mlp" / "float16", {"a": {"input": x}}),
    ]
    first, failed, last = run_exports(runs, "cpu", timing_batches=(1,), repeats=2)
    a = first.outputs["a"]["output"]
    assert first.error is None and a.shape == (3, 10) and first.timings["1"] > 0
    np.testing.assert_array_equal(first.outputs["b"]["output"], a[:1])
    assert failed.error and not failed.outputs
    assert last.error is None and np.abs(last.outputs["a"]["output"] - a).max() < 0.05


def test_thresholds_per_quantization():
    def tfjs(rel, agree, drop):
        return {
            "wasm": {
                "max_abs_diff": rel,
                "rel_err": rel,
                "argmax_agreement": agree,
                "accuracy_drop_points": drop,
            }
        }

    t = Thresholds()
    assert t.check("none", tfjs(5e-5, 1.0, 0.0)) == []
    assert "relative error 2.00e-04 > 0.0001" in t.check("none", tfjs(2e-4, 1.0, 0.0))[0]
    assert "agreement" in t.check("none", tfjs(5e-5, 0.875, 0.0))[0]
    assert "drop 0.05 points > 0" in t.check("none", tfjs(5e-5, 1.0, 0.05))[0]
    # golden.json is judged at every quantization, each with its own limit on the relative error.
    assert t.check("float16", tfjs(1e-3, 0.875, 0.05)) == []
    assert "relative error 3.00e-03 > 0.002 at float16" in t.check("float16", tfjs(3e-3, 1.0, 0.0))[0]
    assert t.check("uint16", tfjs(4e-4, 1.0, 0.0)) == []
    assert "> 0.0005 at uint16" in t.check("uint16", tfjs(6e-4, 1.0, 0.0))[0]
    assert "drop 0.20 points > 0.1" in t.check("uint16", tfjs(1e-4, 0.99, 0.2))[0]
    assert t.check("uint8", tfjs(0.04, 0.5, 0.4)) == [] and t.check("uint8", tfjs(0.04, 0.99, 0.6))
    assert "> 0.05 at uint8" in t.check("uint8", tfjs(0.1, 1.0, 0.0))[0]
    assert t.check("float16", tfjs(1e-3, 0.5, None)) == []  # no accuracy measured: nothing to judge
    assert "could not run" in t.check("none", {"cpu": {"error": "TF.js could not run the model: x"}})[0]


def test_golden_json_records_the_savedmodel_check_and_a_malformed_one_is_a_typed_error(plain_export):
    folder = plain_export / "digitnet" / "none"
    found = golden_file.read(folder)
    report = json.loads((folder / "report.json").read_text())
    assert found.inputs["input"].shape == (8, 28, 28, 1) and found.outputs["output"].shape == (8, 10)
    # The report's absolute figure and golden.json's record come from the same Comparison.
    assert found.savedmodel["max_abs_diff"] == report["savedmodel_max_abs_diff"]
    assert 0 <= found.savedmodel_rel_err <= found.savedmodel["max_abs_diff"] < 1e-4
    raw = json.loads((folder / "golden.json").read_text())
    logits = {**raw["outputs"][0], "values": [float("nan")] * 10 + raw["outputs"][0]["values"][10:]}
    (folder / "golden.json").write_text(json.dumps({**raw, "outputs": [logits]}))
    with pytest.raises(NonFiniteError, match=r"outputs hold NaN or inf \(10 of 80 values\)"):
        golden_file.read(folder)
    # Format 1 (one input, one output, nested lists), as exports before signatures hold it: still read.
    x, y = found.inputs["input"], found.outputs["output"]
    v1 = {"input_shape": list(x.shape), "inputs": x.tolist(), "outputs": y.tolist()}
    (folder / "golden.json").write_text(json.dumps(v1))
    legacy = golden_file.read(folder)
    np.testing.assert_array_equal(legacy.inputs["input"], x)
    np.testing.assert_array_equal(legacy.outputs["output"], y)
    (folder / "golden.json").write_text(
        json.dumps({**v1, "outputs": [[float("nan")] * 10, *v1["outputs"][1:]]})
    )
    with pytest.raises(NonFiniteError, match=r"outputs hold NaN or inf \(10 of 80 values\)"):
        golden_file.read(folder)
    raw["inputs"][0]["shape"] = [9, 28, 28, 1]  # one input more than golden.json holds
    (folder / "golden.json").write_text(json.dumps(raw))
    with pytest.raises(ExportError, match=r"golden\.json is malformed"):
        golden_file.read(folder)
    (folder / "golden.json").unlink()
    with pytest.raises(ExportError, match=r"golden\.json is missing"):
        golden_file.read(folder)


def test_the_test_split_is_written_once_per_backend_run(tmp_path):
    split = np.zeros((5, 28, 28, 1), np.float32)
    runs = [
        ExportRuns(
            tmp_path / "m" / q,
            {"golden": {"input": np.full((2, 28, 28, 1), i, np.float32)}, "test": {"input": split}},
            "test",
        )
        for i, q in enumerate(("none", "uint8"))
    ]
    specs = _export_specs(runs, tmp_path)
    test_inputs = [
        run["inputs"][0]["path"] for spec in specs for run in spec["runs"] if run["name"] == "test"
    ]
    golden_inputs = {
        run["inputs"][0]["path"] for spec in specs for run in spec["runs"] if run["name"] == "golden"
    }
    assert len(test_inputs) == 2 and len(set(test_inputs)) == 1 and len(golden_inputs) == 2
    assert len(list(tmp_path.glob("input-*.bin"))) == 3


def _fake_runner(tmp_path, monkeypatch, body):
    """A stand-in for verify_exports.mjs (a real Node process), to make it die or answer nonsense."""
    script = tmp_path / "fake_runner.mjs"
    script.write_text(body)
    monkeypatch.setattr(tfjs_batch, "RUNNER", script)


def test_a_node_process_dying_mid_batch_names_the_export_it_was_running(exports, tmp_path, monkeypatch):
    runs = [
        ExportRuns(exports / "flax_mlp" / q, {"a": {"input": np.zeros((1, 28, 28, 1))}})
        for q in ("none", "float16")
    ]
    _fake_runner(
        tmp_path,
        monkeypatch,
        "process.stderr.write('verify: starting 0 a\\nverify: starting 1 b\\ntfjs runner failed: Aborted()\\n');"
        "process.exit(134);",
    )
    with pytest.raises(ExportError) as caught:
        run_exports(runs, "cpu")
    assert "died while running export flax_mlp/float16 (2 of 2): Aborted()" in caught.value.cause
    _fake_runner(tmp_path, monkeypatch, "process.stdout.write('not json\\n');")
    with pytest.raises(ExportError) as caught:
        run_exports(runs, "cpu")
    assert "could not start" in caught.value.cause and "not json" in caught.value.cause
    _fake_runner(tmp_path, monkeypatch, "process.stdout.write(JSON.stringify({exports: []}) + '\\n');")
    with pytest.raises(ExportError, match="answered for 0 of 2 exports"):
        run_exports(runs, "cpu")


def test_a_bad_backend_or_a_missing_tfjs_runtime_is_the_jobs_error_not_failed_rows(
    plain_export, mnist_dir, tmp_path, monkeypatch
):
    proc = verify(plain_export, mnist_dir, "--backends=cpu,gpu")
    assert proc.returncode == 2 and "unknown TF.js backend(s) gpu" in proc.stderr, proc.stderr[-2000:]
    monkeypatch.setenv("JAX2TFJS_NODE_RUNTIME", str(tmp_path / "empty"))
    proc = verify(plain_export, mnist_dir)
    assert proc.returncode == 2 and "TF.js is not installed" in proc.stderr, proc.stderr[-2000:]
    assert not (plain_export / "digitnet" / "none" / "verify.json").exists()


def test_a_quantized_export_over_its_golden_limit_fails_verify(exports, mnist_dir):
    path = exports / "flax_mlp" / "float16" / "golden.json"
    golden = json.loads(path.read_text())
    golden["outputs"][0]["values"][37] += (
        0.01  # row 3, logit 7: relative error ≈ 1e-2: within none's view of uint8, over float16's 2e-3
    )
    path.write_text(json.dumps(golden))
    _reseal(path.parent)
    proc = verify(exports, mnist_dir, "--quantization=float16", "--samples=64")
    assert proc.returncode == 4, proc.stdout[-3000:]
    assert "flax_mlp/float16: FAIL cpu: golden.json relative error" in proc.stdout
    assert "> 0.002 at float16" in proc.stdout and "flax_mlp/none: pass" in proc.stdout
    proc = verify(exports, mnist_dir, "--quantization=float16", "--samples=64", "--float16_max_rel_err=0.05")
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_verify_job_checks_golden_and_the_recorded_accuracy_writes_report_chart_index(exports, mnist_dir):
    proc = verify(exports, mnist_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    row = json.loads((exports / "flax_mlp" / "none" / "verify.json").read_text())
    recorded = json.loads((exports / "flax_mlp" / "none" / "report.json").read_text())["provenance"]
    assert row["passed"] and row["samples"] == 2000 and row["golden_inputs"] == 8
    assert row["reference"]["accuracy"] == recorded["metrics"]["test_accuracy"]
    for backend in ("cpu", "wasm"):  # golden.json on every backend
        result = row["tfjs"][backend]
        assert (
            result["rel_err"] < 1e-4 and result["argmax_agreement"] == 1.0 and result["infer_ms_batch1"] > 0
        )
    wasm = row["tfjs"]["wasm"]  # the test split on wasm, the page's backend
    assert wasm["accuracy"] == pytest.approx(recorded["metrics"]["test_accuracy"], abs=1e-3)
    assert wasm["infer_ms_batch32"] > 0 and "accuracy" not in row["tfjs"]["cpu"]
    assert "savedmodel" not in row  # the export kept no SavedModel, so there is no row for one
    report = (exports / "report.md").read_text()
    assert (
        "| flax_mlp/none |" in report and "| flax_mlp/float16 |" in report and "2 of 2 exports pass" in report
    )
    assert (exports / "verify_chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = json.loads((exports / "index.json").read_text())
    assert all(e["verified"]["passed"] for e in index["exports"])
    assert len(json.loads((exports / "samples.json").read_text())["labels"]) == 20


def _corrupt_shard(folder):
    shard = next(folder.glob("*.bin"))
    raw = bytearray(shard.read_bytes())
    for i in range(1000, len(raw), 997):  # flip bytes all through the weights
        raw[i] ^= 0x5A
    shard.write_bytes(bytes(raw))


def test_on_part_of_the_split_quantized_exports_are_judged_against_the_none_export(exports, mnist_dir):
    _corrupt_shard(exports / "flax_mlp" / "float16")
    _reseal(exports / "flax_mlp" / "float16")  # weights that lost accuracy, as a bad quantization would
    proc = verify(exports, mnist_dir, "--samples=64")
    assert proc.returncode == 4, proc.stdout[-3000:]
    row = json.loads((exports / "flax_mlp" / "float16" / "verify.json").read_text())
    none = json.loads((exports / "flax_mlp" / "none" / "verify.json").read_text())
    assert none["passed"] and none["samples"] == 64 and "reference" not in none
    assert "`none` export" in row["reference"]["source"]
    drop = row["tfjs"]["wasm"]["accuracy_drop_points"]
    assert drop > 1 and drop == pytest.approx(
        100 * (none["tfjs"]["wasm"]["accuracy"] - row["tfjs"]["wasm"]["accuracy"])
    )
    assert "FAILED: flax_mlp/float16 broke their thresholds" in proc.stderr


def test_an_export_of_a_plain_function_verifies_against_its_golden_json(plain_export, mnist_dir):
    proc = verify(plain_export, mnist_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    row = json.loads((plain_export / "digitnet" / "none" / "verify.json").read_text())
    assert row["passed"] and row["samples"] == 0 and "not from a checkpoint" in row["notes"][0]
    assert set(row["tfjs"]) == {"cpu", "wasm"} and all(r["rel_err"] < 1e-4 for r in row["tfjs"].values())


def test_a_kept_savedmodel_gets_its_row_and_is_judged(plain_export, mnist_dir):
    folder = plain_export / "digitnet" / "none"
    _keep_a_savedmodel(folder)
    proc = verify(plain_export, mnist_dir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert json.loads((folder / "verify.json").read_text())["savedmodel"]["rel_err"] < 1e-4
    shutil.rmtree(folder / "saved_model")
    _keep_a_savedmodel(folder, scale=1.01)  # a SavedModel that computes something else
    proc = verify(plain_export, mnist_dir)
    assert proc.returncode == 4 and "SavedModel: golden.json relative error" in proc.stdout


def test_corrupted_golden_outputs_fail_verify_and_name_the_export(plain_export, mnist_dir):
    path = plain_export / "digitnet" / "none" / "golden.json"
    golden = json.loads(path.read_text())
    golden["outputs"][0]["values"][37] += 0.01  # row 3, logit 7
    path.write_text(json.dumps(golden))
    proc = verify(plain_export, mnist_dir)
    assert proc.returncode == 4 and "FAILED: digitnet/none broke their thresholds" in proc.stderr
    assert (
        "digitnet/none: FAIL error J2T312" in proc.stdout
        and "sealed at conversion: golden.json" in proc.stdout
    )
    _reseal(path.parent)  # the seal matches: the thresholds still catch the wrong outputs
    proc = verify(plain_export, mnist_dir)
    assert proc.returncode == 4
    assert "FAILED: digitnet/none broke their thresholds" in proc.stderr
    assert "digitnet/none: FAIL cpu: golden.json relative error" in proc.stdout and "> 0.0001" in proc.stdout


def test_a_corrupted_shard_fails_verify_and_names_the_export(exports, mnist_dir):
    _corrupt_shard(exports / "flax_mlp" / "none")
    proc = verify(exports, mnist_dir, "--samples=64")
    assert proc.returncode == 4
    assert "FAILED: flax_mlp/none broke their thresholds" in proc.stderr
    assert (
        "flax_mlp/none: FAIL error J2T312" in proc.stdout and "group1-shard1of1.bin has sha256" in proc.stdout
    )
    assert "flax_mlp/float16: pass" in proc.stdout


def test_a_deleted_model_json_is_a_clear_failure_not_a_traceback(exports, mnist_dir):
    (exports / "flax_mlp" / "float16" / "model.json").unlink()
    proc = verify(exports, mnist_dir, "--quantization=float16", "--samples=64")
    assert proc.returncode == 4
    assert "model.json is missing" in proc.stdout and "make convert" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_no_exports_is_a_clear_error(tmp_path, mnist_dir):
    proc = verify(tmp_path, mnist_dir)
    assert proc.returncode == 2 and "no exports" in proc.stderr and "make convert" in proc.stderr


def _top_class(params, x):
    return jnp.argmax(x.reshape(x.shape[0], -1) @ params["w"], -1)


def _positive(params, x):
    return x.reshape(x.shape[0], -1) @ params["w"] > 0.0


@pytest.mark.parametrize(
    ("model", "dtype"), [(_top_class, np.int32), (_positive, np.bool_)], ids=["int32", "bool"]
)
def test_int_and_bool_outputs_come_back_exact_from_every_runner(tmp_path, model, dtype):
    params = {"w": np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32)}
    spec = jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32)
    folder = tmp_path / model.__name__ / "none"
    to_tensorflowjs(model, params, input_spec=spec, out_dir=folder, progress=False)
    x = np.random.default_rng(1).random((40, 28, 28, 1), np.float32)
    expected = np.asarray(model(params, x))
    assert expected.dtype == dtype and len(np.unique(expected)) > 1
    outputs, info = run_in_tfjs(folder, x, "wasm")  # one export per Node process
    assert outputs.dtype == dtype and info["golden_max_abs_diff"] == 0
    np.testing.assert_array_equal(outputs, expected)
    (outcome,) = run_exports(
        [ExportRuns(folder, {"a": {"input": x}})], "cpu", timing_batches=(1,), repeats=1
    )  # verify's
    assert outcome.outputs["a"]["output"].dtype == dtype
    np.testing.assert_array_equal(outcome.outputs["a"]["output"], expected)


def test_node_temp_dirs_carry_the_pid_and_dead_owners_leftovers_are_removed(exports, tmp_path, monkeypatch):
    import os
    import subprocess
    import sys
    import tempfile

    from jax2tfjs import tfjs_runtime

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    # Another job's run, still going: its folder is kept (a folder named with our own pid that we are
    # not using is a previous process's: pids repeat in containers).
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead = [
            scratch / f"jax2tfjs-node-{ended.pid}-a",
            scratch / f"jax2tfjs-verify-{ended.pid}-b",
            scratch / f"jax2tfjs-node-{os.getpid()}-stale",
        ]
        kept = [
            scratch / f"jax2tfjs-node-{live.pid}-live",
            scratch / "jax2tfjs-node-nopid",
            scratch / "other",
        ]
        for folder in dead + kept:
            folder.mkdir()
        with tfjs_runtime.node_temp_dir("node") as name:
            assert Path(name).name.startswith(f"jax2tfjs-node-{os.getpid()}-")
            assert Path(name).exists()  # in use: never removed as a leftover, although it carries our pid
        assert not any(folder.exists() for folder in dead) and all(folder.exists() for folder in kept)
        for folder in dead:
            folder.mkdir()
        run_in_tfjs(exports / "flax_mlp" / "none", np.zeros((1, 28, 28, 1), np.float32), "cpu", repeats=1)
        run_exports(
            [ExportRuns(exports / "flax_mlp" / "none", {"a": {"input": np.zeros((1, 28, 28, 1))}})],
            "cpu",
            repeats=1,
        )
        assert sorted(p.name for p in scratch.iterdir()) == sorted(folder.name for folder in kept)
    finally:
        live.kill()
        live.wait()


def test_the_report_survives_any_row_content_and_never_counts_a_damaged_row_as_passed(tmp_path):
    from jax2tfjs.verify import report

    rows = [
        {
            "export": "m/none",
            "passed": True,
            "failures": [],
            "tfjs": {"wasm": {"rel_err": 1e-6}},
            "bytes": {"model": 2048},
        },
        {"export": "m/uint8", "tfjs": [1, 2], "bytes": "x", "samples": "many"},  # keys missing and mistyped
        {"export": "m/float16", "passed": False},  # failed, with no reason recorded
        ["not", "a", "row"],
        {"passed": "yes", "failures": "none", "notes": 3, "reference": 7},
    ]
    report.write(tmp_path, rows, {})
    table = (tmp_path / "report.md").read_text()
    assert "| m/none | 2 |" in table and "1 of 5 exports pass" in table
    assert "| m/uint8 | - |" in table and "FAIL: its verify.json records no verdict" in table
    assert "| m/float16 |" in table and "records a failure without a reason" in table
    assert (tmp_path / "verify_chart.png").exists()


def test_a_seal_names_each_missing_resized_or_changed_file(tmp_path):
    from jax2tfjs import hashing

    for name, text in (("a.json", "{}"), ("b.bin", "0123"), ("c.bin", "abcd")):
        (tmp_path / name).write_text(text)
    seal = hashing.file_seal(tmp_path, ["a.json", "b.bin", "c.bin"])
    assert hashing.seal_breaks(tmp_path, seal) == []
    (tmp_path / "a.json").unlink()
    (tmp_path / "b.bin").write_text("012")
    (tmp_path / "c.bin").write_text("abce")
    assert hashing.seal_breaks(tmp_path, seal) == [
        "a.json is missing",
        "b.bin holds 3 bytes; report.json recorded 4 at conversion",
        f"c.bin has sha256 {hashing.sha256_file(tmp_path / 'c.bin')[:12]}… but report.json recorded "
        f"{seal['c.bin']['sha256'][:12]}… at conversion",
    ]
    assert hashing.seal_breaks(tmp_path, "garbage") and hashing.seal_breaks(tmp_path, {"b.bin": 4})
