"""The benchmark's measuring parts: weights hand-off, peak RSS per child, lean imports, the report."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from bench.perf import report, suite
from bench.perf.child import run_python
from bench.perf.weights_file import load_params, save_params
from conftest import ROOT
from jax2tfjs.errors import ExportError
from jax2tfjs.tables import markdown_table


def test_weights_file_round_trips_a_nested_tree(tmp_path):
    params = {"Conv_0": {"kernel": np.arange(6.0).reshape(2, 3), "bias": np.ones(3)}, "scale": np.float32(2)}
    save_params(tmp_path / "w.npz", params)
    back = load_params(tmp_path / "w.npz")
    assert back.keys() == params.keys() and back["Conv_0"].keys() == params["Conv_0"].keys()
    np.testing.assert_array_equal(back["Conv_0"]["kernel"], params["Conv_0"]["kernel"])
    assert not list(tmp_path.glob("*.tmp*")), "the temporary file must be renamed into place"


def test_child_peak_rss_is_the_childs_own_not_the_parents(tmp_path):
    """wait4's ru_maxrss would report at least this 400 MB parent; VmHWM reports the child's own."""
    ballast = np.ones(400 * 2**20 // 8)  # noqa: F841 (kept alive on purpose)
    script = tmp_path / "alloc.py"
    script.write_text(
        "import json, numpy as np\nblock = np.ones(150 * 2**20 // 8)\nprint(json.dumps({'sum': float(block[:10].sum())}))\n"
    )
    run = run_python(sys.executable, [str(script)], what="alloc")
    assert run.result == {"sum": 10.0}
    assert 150 < run.peak_rss_mb < 350, run.peak_rss_mb


def test_child_failure_names_the_command_and_its_error(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("raise SystemExit('no weights here')\n")
    with pytest.raises(ExportError) as err:
        run_python(sys.executable, [str(script)], what="a failing step")
    assert "a failing step failed (exit 1): no weights here" in err.value.cause
    assert str(script) in err.value.fix


LEAN_PROBE = (
    "import sys, jax2tfjs, tensorflow, tensorflowjs\n"
    "print(sorted(m for m in ('matplotlib', 'pyarrow') if m in sys.modules))\n"
    "import matplotlib, pyarrow\n"  # our own code may still import them
    "print('ok')\n"
)


@pytest.mark.parametrize(("flag", "loaded"), [("1", []), ("0", ["matplotlib", "pyarrow"])])
def test_lean_imports_keep_keras_and_pandas_from_loading_matplotlib_and_pyarrow(flag, loaded):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", LEAN_PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        env={"JAX2TFJS_LEAN_IMPORTS": flag, "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = proc.stdout.strip().splitlines()[-2:]
    assert first == str(loaded) and second == "ok"


def _conversion(ours_wall: float, official_wall: float, ours_rss: float, official_rss: float) -> dict:
    row = {"import_s": 10.0, "convert_s": 2.0, "model_bytes": 1000, "versions": {"jax": "0.10.2"}}
    return {
        "rows": [
            {**row, "converter": "ours", "wall_s": ours_wall, "peak_rss_mb": ours_rss},
            {**row, "converter": "official", "wall_s": official_wall, "peak_rss_mb": official_rss},
            {**row, "converter": "jax2onnx", "wall_s": 20.0, "peak_rss_mb": 500.0},
        ]
    }


def _inference(official_wasm_error: bool) -> dict:
    rows = [
        {"export": "ours", "runtime": "TF.js", "backend": "cpu", "batch1_ms": 10.0, "batch32_ms": 400.0},
        {"export": "official", "runtime": "TF.js", "backend": "cpu", "batch1_ms": 10.2, "batch32_ms": 300.0},
        {"export": "ours", "runtime": "TF.js", "backend": "wasm", "batch1_ms": 1.0, "batch32_ms": 13.0},
        {"export": "official", "runtime": "TF.js", "backend": "wasm", "batch1_ms": 1.0, "batch32_ms": 13.0},
    ]
    if official_wasm_error:
        rows[3] = {"export": "official", "runtime": "TF.js", "backend": "wasm", "error": "rank-4 bias"}
    return {"rows": rows}


def test_targets_compare_ours_with_the_official_path_and_allow_5_percent_for_inference():
    targets = suite._targets(_conversion(14.0, 15.0, 900.0, 850.0), _inference(official_wasm_error=False))
    met = {t["target"]: t["met"] for t in targets}
    assert met["conversion wall time ≤ official's"] is True
    assert met["conversion peak RSS ≤ official's"] is False
    assert met["TF.js cpu batch 1: ours ≤ 1.05 × official"] is True  # 10.0 vs 10.2
    assert met["TF.js cpu batch 32: ours ≤ 1.05 × official"] is False  # 400 vs 300


def test_a_target_without_an_official_figure_is_not_counted_as_met():
    targets = suite._targets(_conversion(14.0, 15.0, 800.0, 850.0), _inference(official_wasm_error=True))
    wasm = [t for t in targets if t["target"].startswith("TF.js wasm")]
    assert [t["met"] for t in wasm] == [None, None]
    assert "the official path has no figure here" in wasm[0]["measured"]
    assert markdown_table(targets, report.TARGETS).count("| n/a |") == 2


def test_a_failed_official_conversion_is_a_row_with_its_error_not_a_crash():
    conversion = _conversion(14.0, 15.0, 800.0, 850.0)
    conversion["rows"][1] = {
        "converter": "official",
        "label": "convert_jax",
        "error": "Unsupported Ops: Assert | x",
    }
    targets = suite._targets(conversion, _inference(official_wasm_error=True))
    assert targets[0]["met"] is None and targets[1]["met"] is None
    findings = suite._findings(conversion, _inference(official_wasm_error=True))
    assert "The official path failed to convert the seed CNN: Unsupported Ops: Assert | x" in findings
    table = markdown_table(conversion["rows"], report.CONVERSION)
    assert "Assert \\| x" in table  # a `|` inside a cell is escaped, so the row keeps its columns
    header, _rule, *rows = table.splitlines()
    assert all(row.count(" | ") == header.count(" | ") for row in rows)


def test_findings_say_where_the_official_path_wins_and_what_it_cannot_run():
    findings = suite._findings(_conversion(16.0, 15.0, 900.0, 850.0), _inference(official_wasm_error=True))
    text = "\n".join(findings)
    assert "The official path wins on the whole conversion process: 15.00 s vs ours 16.00 s." in text
    assert "The official path wins on peak RSS" in text
    assert "The official export is faster on TF.js cpu at batch 32: 300.00 ms vs ours 400.00 ms." in text
    assert "The official export cannot run on TF.js wasm: rank-4 bias" in text


def test_committed_bench_readme_is_generated_from_the_committed_results():
    """bench/README.md is `make bench` output: it must match results.json, never be edited by hand."""
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    assert (ROOT / "bench" / "README.md").read_text() == report.markdown(results)
    for chart in ("conversion.png", "inference.png", "quantization.png"):
        assert (ROOT / "bench" / chart).stat().st_size > 5000
    names = [row["converter"] for row in results["conversion"]["rows"]]
    assert names == ["ours", "official", "jax2onnx"] and results["conversion"]["rounds"] >= 3
