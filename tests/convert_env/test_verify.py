"""Verification: the TF.js runner's timings, thresholds, the job's report, and its failure paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, run, venv_python
from jax2tfjs import checkpoints
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.tfjs_runtime import run_in_tfjs
from jax2tfjs.verify.runner import Thresholds


@pytest.fixture
def exports(tmp_path, trained):
    """flax_mlp exported at none and float16 into a fresh exports folder."""
    step_dir = checkpoints.resolve(trained, model="flax_mlp")
    for quant in ("none", "float16"):
        to_tensorflowjs(step_dir, out_dir=tmp_path / "flax_mlp" / quant, quantization=quant, progress=False)
    return tmp_path


def verify(export_dir, mnist_dir, *extra):
    return run(
        [
            venv_python("convert"),
            ROOT / "jobs/verify.py",
            f"--export_dir={export_dir}",
            f"--data_dir={mnist_dir}",
            "--samples=64",
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


def test_thresholds_per_quantization():
    def row(diff, agree, drop):
        return {
            "tfjs": {"wasm": {"max_abs_diff": diff, "argmax_agreement": agree, "accuracy_drop_points": drop}}
        }

    t = Thresholds()
    assert t.check("none", row(5e-5, 1.0, 0.0)) == []
    assert "max |diff|" in t.check("none", row(2e-4, 1.0, 0.0))[0]
    assert "agreement" in t.check("none", row(5e-5, 0.999, 0.0))[0]
    assert t.check("float16", row(1e-2, 0.99, 0.05)) == []
    assert "drop 0.20 points > 0.1" in t.check("uint16", row(1e-2, 0.99, 0.2))[0]
    assert t.check("uint8", row(0.1, 0.99, 0.4)) == [] and t.check("uint8", row(0.1, 0.99, 0.6))


def test_verify_job_writes_rows_report_chart_and_index(exports, mnist_dir):
    proc = verify(exports, mnist_dir)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    row = json.loads((exports / "flax_mlp" / "none" / "verify.json").read_text())
    assert row["passed"] and row["samples"] == 64
    for backend in ("cpu", "wasm"):
        result = row["tfjs"][backend]
        assert result["max_abs_diff"] < 1e-4 and result["argmax_agreement"] == 1.0
        assert result["infer_ms_batch1"] > 0 and result["infer_ms_batch32"] > 0
    assert row["savedmodel"]["max_abs_diff"] < 1e-5
    report = (exports / "report.md").read_text()
    assert (
        "| flax_mlp/none |" in report and "| flax_mlp/float16 |" in report and "2 of 2 exports pass" in report
    )
    assert (exports / "verify_chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = json.loads((exports / "index.json").read_text())
    assert all(e["verified"]["passed"] for e in index["exports"])


def test_a_corrupted_shard_fails_verify_and_names_the_export(exports, mnist_dir):
    shard = next((exports / "flax_mlp" / "none").glob("*.bin"))
    raw = bytearray(shard.read_bytes())
    for i in range(1000, len(raw), 997):  # flip bytes all through the weights
        raw[i] ^= 0x5A
    shard.write_bytes(bytes(raw))
    proc = verify(exports, mnist_dir)
    assert proc.returncode == 4
    assert "FAILED: flax_mlp/none broke their thresholds" in proc.stderr
    assert "flax_mlp/float16: pass" in proc.stdout


def test_a_deleted_model_json_is_a_clear_failure_not_a_traceback(exports, mnist_dir):
    (exports / "flax_mlp" / "float16" / "model.json").unlink()
    proc = verify(exports, mnist_dir, "--quantization=float16")
    assert proc.returncode == 4
    assert "model.json is missing" in proc.stdout and "make convert" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_no_exports_is_a_clear_error(tmp_path, mnist_dir):
    proc = verify(tmp_path, mnist_dir)
    assert proc.returncode == 2 and "no exports" in proc.stderr and "make convert" in proc.stderr
